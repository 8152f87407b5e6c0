"""Answering rules (routing-semantics §4) on the example bundle, in-process: bytes in, bytes out, dnspython parses.

No sockets here; test_server.py repeats the important ones over UDP/TCP with dig and kdig.
"""

from __future__ import annotations

import random

import dns.flags
import dns.message
import dns.opcode
import dns.rdatatype
import dns.zone
import pytest
from serve.serve_bundles import GEO_ANSWER, SOA_MINIMUM, ZONE, example_zone, simple_zone, write_bundle
from serve.serve_helpers import (
    FR_CLIENT,
    IE_CLIENT,
    JP_CLIENT,
    NOWHERE_CLIENT,
    US_CLIENT,
    addresses,
    answer_texts,
    ask,
    make_query,
    rcode,
)

from kuadns_sync.answer import Responder
from kuadns_sync.compile import Tables
from kuadns_sync.geo import Locator
from kuadns_sync.serve import load_tables, parse_networks
from kuadns_sync.wire import parse_query


def soa_of(message: dns.message.Message) -> dns.rrset.RRset:
    (soa,) = [r for r in message.authority if r.rdtype == dns.rdatatype.SOA]
    return soa


# --- geo choice: country over continent over default, from the source address or ECS ---------


@pytest.mark.parametrize(
    ("client", "variant"),
    [
        (IE_CLIENT, "IE"),
        (FR_CLIENT, "GEO-EU"),
        (US_CLIENT, "GEO-NA"),
        (JP_CLIENT, "default"),
        (NOWHERE_CLIENT, "default"),
    ],
)
def test_direct_geo_a_record_follows_the_most_specific_variant(responder: Responder, client: str, variant: str) -> None:
    reply = ask(responder, make_query(f"geo.{ZONE}"), source=client)
    assert rcode(reply) == "NOERROR"
    assert addresses(reply) == [GEO_ANSWER[variant]]
    assert reply.flags & dns.flags.AA


@pytest.mark.parametrize(
    ("subnet", "variant"),
    [("127.0.100.0/24", "IE"), ("127.0.50.0/24", "GEO-EU"), ("127.0.200.0/24", "GEO-NA"), ("fd00:100::/48", "IE")],
)
def test_ecs_address_locates_the_client_not_the_packet_source(responder: Responder, subnet: str, variant: str) -> None:
    reply = ask(responder, make_query(f"geo.{ZONE}", ecs=subnet), source=US_CLIENT)
    assert addresses(reply) == [GEO_ANSWER[variant]]


def _ecs_scope(reply: dns.message.Message) -> tuple[int, int]:
    (option,) = [o for o in reply.options if isinstance(o, dns.edns.ECSOption)]
    return option.srclen, option.scopelen


@pytest.mark.parametrize(("subnet", "scope"), [("127.0.100.0/24", 24), ("127.0.100.0/16", 16), ("127.0.100.7/32", 24)])
def test_ecs_scope_is_the_database_network_capped_at_the_source_prefix_when_the_answer_depends_on_location(
    responder: Responder, subnet: str, scope: int
) -> None:
    reply = ask(responder, make_query(f"geo.{ZONE}", ecs=subnet))
    assert _ecs_scope(reply) == (int(subnet.split("/")[1]), scope)


def test_ecs_scope_is_zero_when_every_variant_gives_the_same_answer(responder: Responder) -> None:
    for name in (f"multi.{ZONE}", f"nope.{ZONE}", f"weighted.{ZONE}"):
        reply = ask(responder, make_query(name, ecs="127.0.100.0/24"))
        assert _ecs_scope(reply) == (24, 0), name


def test_ecs_source_prefix_zero_means_answer_as_default_with_scope_zero(responder: Responder) -> None:
    reply = ask(responder, make_query(f"geo.{ZONE}", ecs="0.0.0.0/0"), source=IE_CLIENT)
    assert addresses(reply) == [GEO_ANSWER["default"]]
    assert _ecs_scope(reply) == (0, 0)


def test_no_ecs_option_in_replies_to_queries_without_one(responder: Responder) -> None:
    reply = ask(responder, make_query(f"geo.{ZONE}", edns=True), source=IE_CLIENT)
    assert reply.edns == 0 and not reply.options


def test_name_missing_from_some_variants_is_nodata_there_not_nxdomain(responder: Responder) -> None:
    eu = ask(responder, make_query(f"eu-only.{ZONE}"), source=FR_CLIENT)
    assert addresses(eu) == ["10.5.0.1"]
    us = ask(responder, make_query(f"eu-only.{ZONE}"), source=US_CLIENT)
    assert rcode(us) == "NOERROR" and us.answer == []
    assert soa_of(us).ttl == SOA_MINIMUM


def test_geo_then_weight_along_a_cname_chain(responder: Responder) -> None:
    us = ask(responder, make_query(f"api.{ZONE}"), source=US_CLIENT)
    assert answer_texts(us) == [
        f"api.{ZONE}. 300 CNAME klb.api.{ZONE}.",
        f"klb.api.{ZONE}. 300 CNAME geo-na.klb.api.{ZONE}.",
        f"geo-na.klb.api.{ZONE}. 60 CNAME c2.klb.api.{ZONE}.",
        f"c2.klb.api.{ZONE}. 60 A 172.18.200.2",
    ]
    seen = set()
    for _ in range(200):
        ie = ask(responder, make_query(f"api.{ZONE}"), source=IE_CLIENT)
        texts = answer_texts(ie)
        assert texts[1] == f"klb.api.{ZONE}. 300 CNAME geo-eu.klb.api.{ZONE}."
        assert len(texts) == 4  # one member per routing set
        seen.add(addresses(ie)[0])
    assert seen == {"172.18.200.1", "172.18.200.3"}  # the weighted hop draws on every query


def test_a_type_found_only_on_one_regions_chain_is_answered_there(responder: Responder) -> None:
    us = ask(responder, make_query(f"api.{ZONE}", "AAAA"), source=US_CLIENT)
    assert answer_texts(us)[-1] == f"c2.klb.api.{ZONE}. 60 AAAA 2001:db8::2"
    ie = ask(responder, make_query(f"api.{ZONE}", "AAAA"), source=IE_CLIENT)
    assert rcode(ie) == "NOERROR" and len(ie.answer) == 3 and soa_of(ie)  # the chain, then NODATA


def test_plain_rrset_is_returned_whole_directly_and_at_the_end_of_a_chain(responder: Responder) -> None:
    assert sorted(addresses(ask(responder, make_query(f"multi.{ZONE}")))) == ["10.2.0.1", "10.2.0.2"]
    chained = ask(responder, make_query(f"tomulti.{ZONE}"))
    assert answer_texts(chained)[0] == f"tomulti.{ZONE}. 60 CNAME multi.{ZONE}."
    assert sorted(addresses(chained)) == ["10.2.0.1", "10.2.0.2"]


def test_weighted_set_reached_through_a_chain_returns_one_member(responder: Responder) -> None:
    for _ in range(50):
        reply = ask(responder, make_query(f"toweighted.{ZONE}"))
        assert len(addresses(reply)) == 1 and addresses(reply)[0] in ("10.0.0.1", "10.0.0.2")


# --- negative answers, wildcards, delegations, apex, out of zone -------------------------------


def test_nxdomain_has_soa_with_negative_ttl_min_of_soa_ttl_and_minimum(responder: Responder) -> None:
    reply = ask(responder, make_query(f"nope.{ZONE}"))
    assert rcode(reply) == "NXDOMAIN" and reply.answer == []
    soa = soa_of(reply)
    assert str(soa.name) == f"{ZONE}." and soa.ttl == SOA_MINIMUM
    assert reply.flags & dns.flags.AA


def test_nodata_for_existing_name_without_the_type(responder: Responder) -> None:
    reply = ask(responder, make_query(f"multi.{ZONE}", "AAAA"))
    assert rcode(reply) == "NOERROR" and reply.answer == []
    assert soa_of(reply).ttl == SOA_MINIMUM


def test_empty_non_terminal_is_nodata_and_blocks_the_wildcard_below_it(responder: Responder) -> None:
    ent = ask(responder, make_query(f"ent.wild.{ZONE}"))
    assert rcode(ent) == "NOERROR" and ent.answer == []
    below = ask(responder, make_query(f"x.ent.wild.{ZONE}"))
    assert rcode(below) == "NXDOMAIN"


@pytest.mark.parametrize("name", [f"foo.wild.{ZONE}", f"Deep.Er.wild.{ZONE}"])
def test_wildcard_synthesises_with_the_query_name_as_owner(responder: Responder, name: str) -> None:
    reply = ask(responder, make_query(name))
    assert answer_texts(reply) == [f"{name}. 60 A 10.3.0.1"]
    txt = ask(responder, make_query(name, "TXT"))
    assert answer_texts(txt) == [f'{name}. 60 TXT "wild"']
    nodata = ask(responder, make_query(name, "AAAA"))
    assert rcode(nodata) == "NOERROR" and nodata.answer == [] and soa_of(nodata)


def test_wildcard_does_not_apply_to_existing_names(responder: Responder) -> None:
    reply = ask(responder, make_query(f"exists.wild.{ZONE}", "A"))
    assert rcode(reply) == "NOERROR" and reply.answer == []
    assert answer_texts(ask(responder, make_query(f"exists.wild.{ZONE}", "TXT"))) == [
        f'exists.wild.{ZONE}. 60 TXT "exists"'
    ]


def test_cname_chain_into_a_wildcard_is_synthesised(responder: Responder) -> None:
    reply = ask(responder, make_query(f"towild.{ZONE}"))
    assert answer_texts(reply) == [f"towild.{ZONE}. 60 CNAME foo.wild.{ZONE}.", f"foo.wild.{ZONE}. 60 A 10.3.0.1"]


@pytest.mark.parametrize("name", [f"sub.{ZONE}", f"www.sub.{ZONE}", f"ns.sub.{ZONE}"])
def test_delegation_is_a_referral_with_glue(responder: Responder, name: str) -> None:
    reply = ask(responder, make_query(name))
    assert rcode(reply) == "NOERROR" and reply.answer == []
    assert not reply.flags & dns.flags.AA
    assert [(str(r.name), r.rdtype, [str(x) for x in r]) for r in reply.authority] == [
        (f"sub.{ZONE}.", dns.rdatatype.NS, [f"ns.sub.{ZONE}."])
    ]
    assert [(str(r.name), [str(x) for x in r]) for r in reply.additional] == [(f"ns.sub.{ZONE}.", ["10.4.0.1"])]


def test_ds_at_a_delegation_point_is_answered_by_the_parent(responder: Responder) -> None:
    reply = ask(responder, make_query(f"sub.{ZONE}", "DS"))
    assert rcode(reply) == "NOERROR" and reply.answer == [] and reply.flags & dns.flags.AA
    assert soa_of(reply)


def test_apex_soa_and_ns_with_glue(responder: Responder) -> None:
    soa = ask(responder, make_query(ZONE, "SOA"))
    assert answer_texts(soa) == [f"{ZONE}. 120 SOA ns1.{ZONE}. hostmaster.{ZONE}. 2026010100 7200 1800 86400 30"]
    ns = ask(responder, make_query(ZONE, "NS"))
    assert answer_texts(ns) == [f"{ZONE}. 60 NS ns1.{ZONE}."]
    assert [str(r) for r in ns.additional] == [f"ns1.{ZONE}. 60 IN A 127.0.0.53"]


@pytest.mark.parametrize("name", ["www.example.org", "example.com", f"x{ZONE}"])
def test_out_of_zone_is_refused(responder: Responder, name: str) -> None:
    reply = ask(responder, make_query(name))
    assert rcode(reply) == "REFUSED" and not reply.flags & dns.flags.AA


def test_cname_leaving_the_zone_ends_the_chain(responder: Responder) -> None:
    reply = ask(responder, make_query(f"ext.{ZONE}"))
    assert rcode(reply) == "NOERROR" and answer_texts(reply) == [f"ext.{ZONE}. 60 CNAME www.example.org."]


def test_dangling_cname_gives_nxdomain_for_the_target(responder: Responder) -> None:
    reply = ask(responder, make_query(f"gone.{ZONE}"))
    assert rcode(reply) == "NXDOMAIN"
    assert answer_texts(reply) == [f"gone.{ZONE}. 60 CNAME missing.{ZONE}."]
    assert soa_of(reply)


def test_cname_loop_is_answered_with_each_record_once(responder: Responder) -> None:
    reply = ask(responder, make_query(f"loop1.{ZONE}"))
    assert rcode(reply) == "NOERROR"
    assert answer_texts(reply) == [f"loop1.{ZONE}. 60 CNAME loop2.{ZONE}.", f"loop2.{ZONE}. 60 CNAME loop1.{ZONE}."]


def test_cname_query_returns_the_cname_only(responder: Responder) -> None:
    reply = ask(responder, make_query(f"api.{ZONE}", "CNAME"))
    assert answer_texts(reply) == [f"api.{ZONE}. 300 CNAME klb.api.{ZONE}."]


@pytest.mark.parametrize(("name", "rrtype"), [(f"multi.{ZONE}", "A"), (f"api.{ZONE}", "CNAME"), (f"big.{ZONE}", "TXT")])
def test_any_is_answered_minimally_with_one_rrset(responder: Responder, name: str, rrtype: str) -> None:
    reply = ask(responder, make_query(name, "ANY"), tcp=True)
    assert len(reply.answer) == 1 and dns.rdatatype.to_text(reply.answer[0].rdtype) == rrtype


# --- protocol -----------------------------------------------------------------------------------


def test_flags_aa_set_ra_never_rd_and_cd_copied(responder: Responder) -> None:
    query = make_query(f"multi.{ZONE}")
    query.flags |= dns.flags.CD
    reply = ask(responder, query)
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.AA
    assert reply.flags & dns.flags.RD and reply.flags & dns.flags.CD
    assert not reply.flags & dns.flags.RA
    query.flags &= ~(dns.flags.RD | dns.flags.CD)
    reply = ask(responder, query)
    assert not reply.flags & (dns.flags.RD | dns.flags.CD | dns.flags.RA)


def test_query_name_case_is_preserved_in_question_and_answers(responder: Responder) -> None:
    name = "ApI.K.eXaMpLe.CoM"
    wire = make_query(name).to_wire()
    reply = responder.handle(wire, US_CLIENT)
    assert reply is not None
    question_end = 12 + len(wire[12:]) - 4
    assert reply[12:question_end] == wire[12:question_end]  # byte-exact question (0x20)
    assert str(dns.message.from_wire(reply).answer[0].name) == f"{name}."


def test_truncation_over_udp_then_full_answer_over_tcp(responder: Responder) -> None:
    for query in (make_query(f"big.{ZONE}", "TXT"), make_query(f"big.{ZONE}", "TXT", payload=4096)):
        reply = ask(responder, query)
        assert reply.flags & dns.flags.TC and reply.answer == [] and rcode(reply) == "NOERROR"
    full = ask(responder, make_query(f"big.{ZONE}", "TXT"), tcp=True)
    assert not full.flags & dns.flags.TC and len(full.answer[0]) == 8


def test_the_clients_udp_size_is_honoured(responder: Responder) -> None:
    assert ask(responder, make_query(f"mid.{ZONE}", "TXT")).flags & dns.flags.TC  # no EDNS: 512
    assert ask(responder, make_query(f"mid.{ZONE}", "TXT", payload=600)).flags & dns.flags.TC
    full = ask(responder, make_query(f"mid.{ZONE}", "TXT", payload=900))
    assert not full.flags & dns.flags.TC and len(full.answer[0]) == 3


def test_small_udp_size_below_512_is_treated_as_512(responder: Responder) -> None:
    reply = ask(responder, make_query(f"api.{ZONE}", payload=100), source=US_CLIENT)
    assert not reply.flags & dns.flags.TC and len(reply.answer) == 4


def test_junk_with_readable_header_is_formerr_and_shorter_is_dropped(responder: Responder) -> None:
    junk = b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05abc"
    reply = responder.handle(junk, NOWHERE_CLIENT)
    assert reply is not None and reply[:2] == b"\xbe\xef"
    assert dns.message.from_wire(reply).rcode() == dns.rcode.FORMERR
    assert responder.handle(b"\x01\x02\x03", NOWHERE_CLIENT) is None


def test_responses_are_never_answered(responder: Responder) -> None:
    reply = ask(responder, make_query(f"multi.{ZONE}"))
    assert responder.handle(reply.to_wire(), NOWHERE_CLIENT) is None


@pytest.mark.parametrize("opcode", [dns.opcode.NOTIFY, dns.opcode.UPDATE, 3, 6, 15])
def test_unknown_or_unsupported_opcode_is_notimp(responder: Responder, opcode: int) -> None:
    query = make_query(f"multi.{ZONE}")
    query.set_opcode(opcode)
    wire = bytearray(query.to_wire())
    reply = responder.handle(bytes(wire), NOWHERE_CLIENT)
    assert reply is not None
    assert reply[3] & 0xF == dns.rcode.NOTIMP and (reply[2] >> 3) & 0xF == opcode


def test_edns_version_above_zero_is_badvers(responder: Responder) -> None:
    query = make_query(f"multi.{ZONE}", edns=True)
    query.use_edns(1)
    reply = ask(responder, query)
    assert rcode(reply) == "BADVERS" and reply.edns == 0 and reply.answer == []


def test_do_bit_is_copied(responder: Responder) -> None:
    reply = ask(responder, make_query(f"multi.{ZONE}", want_dnssec=True))
    assert reply.ednsflags & dns.flags.DO
    assert not ask(responder, make_query(f"multi.{ZONE}", edns=True)).ednsflags & dns.flags.DO


def test_non_internet_class_is_refused(responder: Responder) -> None:
    query = dns.message.make_query(f"multi.{ZONE}", "A", rdclass="CH")
    assert rcode(ask(responder, query)) == "REFUSED"


def test_repeated_query_gets_identical_reply_except_the_id(responder: Responder) -> None:
    first = make_query(f"multi.{ZONE}", ecs="127.0.100.0/24")
    second = dns.message.from_wire(first.to_wire())
    second.id = (first.id + 1) % 65536
    a = responder.handle(first.to_wire(), NOWHERE_CLIENT)
    b = responder.handle(second.to_wire(), NOWHERE_CLIENT)
    assert a is not None and b is not None and a[2:] == b[2:] and a[:2] != b[:2]


def test_location_dependent_replies_are_per_source(responder: Responder) -> None:
    query = make_query(f"geo.{ZONE}")
    for _ in range(3):  # the second round comes from the reply memory, per source address
        assert addresses(ask(responder, query, source=IE_CLIENT)) == [GEO_ANSWER["IE"]]
        assert addresses(ask(responder, query, source=US_CLIENT)) == [GEO_ANSWER["GEO-NA"]]
    assert responder.variants[(ZONE, "IE")] == 3 and responder.variants[(ZONE, "GEO-NA")] == 3


def test_swapping_tables_changes_answers_at_once(tmp_path: object, responder: Responder) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    write_bundle(root, [simple_zone(ZONE, 5, "10.9.9.9")])
    query = make_query(f"multi.{ZONE}")
    assert addresses(ask(responder, query)) == ["10.2.0.1", "10.2.0.2"]
    responder.tables = load_tables(root)
    assert rcode(ask(responder, query)) == "NXDOMAIN"
    assert addresses(ask(responder, make_query(f"www.{ZONE}"))) == ["10.9.9.9"]


def test_without_geoip_every_client_gets_the_default_variant(tables: Tables) -> None:
    responder = Responder(tables, None, random.Random(1))
    assert addresses(ask(responder, make_query(f"geo.{ZONE}"), source=IE_CLIENT)) == [GEO_ANSWER["default"]]


def test_counters_by_rcode(responder: Responder) -> None:
    ask(responder, make_query(f"multi.{ZONE}"))
    ask(responder, make_query(f"nope.{ZONE}"))
    ask(responder, make_query("example.org"))
    assert responder.rcodes[0] == 1 and responder.rcodes[3] == 1 and responder.rcodes[5] == 1


# --- zone transfer --------------------------------------------------------------------------------


def _transfer(responder: Responder, rdtype: str, source: str) -> list[dns.message.Message]:
    query = make_query(ZONE, rdtype)
    if rdtype == "IXFR":
        query = dns.message.make_query(ZONE, "IXFR")
    return [dns.message.from_wire(m, one_rr_per_rrset=True) for m in responder.handle_stream(query.to_wire(), source)]


@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_axfr_of_the_default_variant_to_allowed_addresses(tables: Tables, locator: Locator, rdtype: str) -> None:
    responder = Responder(tables, locator.locate, random.Random(1), parse_networks(["127.0.0.0/28"]))
    messages = _transfer(responder, rdtype, "127.0.0.1")
    records = [rr for m in messages for rr in m.answer]
    assert records[0].rdtype == dns.rdatatype.SOA and records[-1].rdtype == dns.rdatatype.SOA
    texts = {f"{r.name} {dns.rdatatype.to_text(r.rdtype)} {r[0]}" for r in records}
    assert f"geo.{ZONE}. A {GEO_ANSWER['default']}" in texts
    assert f"ns.sub.{ZONE}. A 10.4.0.1" in texts and f"*.wild.{ZONE}. A 10.3.0.1" in texts
    expected = example_zone().texts["default"]
    zone = dns.zone.from_text(expected, origin=f"{ZONE}.", relativize=False)
    assert len(records) == sum(len(rds) for _, rds in zone.iterate_rdatasets()) + 1  # SOA twice


def test_axfr_refused_to_others_and_over_udp(tables: Tables) -> None:
    responder = Responder(tables, None, random.Random(1), parse_networks(["127.0.0.1/32"]))
    (refused,) = _transfer(responder, "AXFR", "127.0.0.2")
    assert rcode(refused) == "REFUSED"
    assert rcode(ask(responder, make_query(ZONE, "AXFR"), source="127.0.0.1")) == "REFUSED"
    (not_a_zone,) = _transfer_name(responder, f"www.{ZONE}")
    assert rcode(not_a_zone) == "REFUSED"


def _transfer_name(responder: Responder, name: str) -> list[dns.message.Message]:
    query = make_query(name, "AXFR")
    return [dns.message.from_wire(m) for m in responder.handle_stream(query.to_wire(), "127.0.0.1")]


def test_ixfr_over_udp_gets_the_current_soa_only(tables: Tables) -> None:
    responder = Responder(tables, None, random.Random(1), parse_networks(["127.0.0.1/32"]))
    reply = ask(responder, dns.message.make_query(ZONE, "IXFR"), source="127.0.0.1")
    assert [r.rdtype for r in reply.answer] == [dns.rdatatype.SOA]


def test_parse_keeps_original_case_and_lowercases_the_key() -> None:
    query = parse_query(make_query("WwW.K.Example.COM").to_wire())
    assert query is not None
    assert query.qname == b"\x03WwW\x01K\x07Example\x03COM\x00"
    assert query.key == b"\x03www\x01k\x07example\x03com\x00"


def test_reply_memory_is_bounded_and_ignores_oversized_queries(tables: Tables) -> None:
    responder = Responder(tables, None, random.Random(1), cache_size=10)
    for i in range(25):
        ask(responder, make_query(f"n{i}.{ZONE}"))
        assert len(responder._cache) <= 10
    junk = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x3f" + b"a" * 2000
    assert responder.handle(junk, NOWHERE_CLIENT) is not None
    assert all(len(key if isinstance(key, bytes) else key[0]) < 600 for key in responder._cache)
