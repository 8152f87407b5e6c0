"""Query parsing from bytes: fields, EDNS/ECS, and malformed input (FORMERR or drop, never an exception)."""

from __future__ import annotations

import struct

import dns.edns
import dns.message
import dns.name
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serve.serve_helpers import make_query

from kuadns_sync.wire import (
    BADVERS,
    FORMERR,
    Query,
    _parse_general,
    error_reply,
    parse_query,
    servfail_for,
)


def parsed(wire: bytes) -> Query:
    query = parse_query(wire)
    assert query is not None
    return query


def test_plain_query_fields() -> None:
    message = make_query("Www.Example.COM", "AAAA")
    query = parsed(message.to_wire())
    assert query.error is None and query.opcode == 0
    assert query.id == message.to_wire()[:2]
    assert query.qname == dns.name.from_text("Www.Example.COM").to_wire()
    assert query.key == b"\x03www\x07example\x03com\x00"
    assert (query.qtype, query.qclass) == (28, 1)
    assert not query.edns and query.udp_size == 512 and query.ecs is None


def test_edns_size_is_clamped_between_512_and_1232_and_do_is_read() -> None:
    assert parsed(make_query("a.example", payload=4096).to_wire()).udp_size == 1232
    assert parsed(make_query("a.example", edns=True, payload=100).to_wire()).udp_size == 512
    assert parsed(make_query("a.example", edns=True, payload=900).to_wire()).udp_size == 900
    assert parsed(make_query("a.example", want_dnssec=True).to_wire()).do


@pytest.mark.parametrize(
    ("subnet", "family", "source", "address"),
    [
        ("127.0.100.0/24", 1, 24, bytes([127, 0, 100, 0])),
        ("10.1.2.3/32", 1, 32, bytes([10, 1, 2, 3])),
        ("10.0.0.0/1", 1, 1, bytes(4)),
        ("2001:db8::/56", 2, 56, bytes.fromhex("20010db8") + bytes(12)),
    ],
)
def test_ecs_option(subnet: str, family: int, source: int, address: bytes) -> None:
    query = parsed(make_query("a.example", ecs=subnet).to_wire())
    assert query.ecs is not None
    assert (query.ecs.family, query.ecs.source, query.ecs.address) == (family, source, address)


def _with_raw_ecs(option: bytes) -> bytes:
    """A query whose OPT carries `option` as an ECS option body, byte for byte."""
    base = make_query("a.example").to_wire()
    base = base[:10] + b"\x00\x01" + base[12:]  # ARCOUNT 1
    rdata = struct.pack("!HH", 8, len(option)) + option
    return base + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(rdata)) + rdata


@pytest.mark.parametrize(
    "option",
    [
        b"\x00\x03\x18\x00\x7f\x00\x64",  # unknown family 3
        b"\x00\x01\x21\x00\x7f\x00\x64\x00\x00",  # prefix 33 > 32
        b"\x00\x01\x18\x00\x7f\x00\x64\x00",  # 4 address octets for a /24
        b"\x00\x01\x17\x00\x7f\x00\x65",  # a /23 with the 24th bit set
        b"\x00\x01",  # too short
    ],
)
def test_malformed_ecs_is_formerr(option: bytes) -> None:
    assert parsed(_with_raw_ecs(option)).error == FORMERR


def test_well_formed_raw_ecs_is_accepted() -> None:
    query = parsed(_with_raw_ecs(b"\x00\x01\x18\x00\x7f\x00\x64"))
    assert query.error is None and query.ecs is not None and query.ecs.raw == b"\x7f\x00\x64"


def test_edns_version_one_is_badvers() -> None:
    message = make_query("a.example", edns=True)
    message.use_edns(1)
    assert parsed(message.to_wire()).error == BADVERS


def _header(qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0, flags: int = 0x0100) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, qd, an, ns, ar)


QUESTION = b"\x01a\x07example\x00\x00\x01\x00\x01"


@pytest.mark.parametrize(
    "wire",
    [
        _header(qd=0),
        _header(qd=2) + QUESTION + QUESTION,
        _header() + b"\x01a\x07exam",  # truncated name
        _header() + b"\x01a\x07example\x00\x00",  # truncated type/class
        _header() + b"\xc0\x0c\x00\x01\x00\x01",  # compression pointer in the question
        _header() + b"\x41" + b"a" * 65 + b"\x00\x00\x01\x00\x01",  # label type 01
        _header() + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63 + b"\x3f" + b"d" * 63 + b"\x00"
        + b"\x00\x01\x00\x01",  # 257-octet name
        _header() + QUESTION + b"junk",  # trailing bytes
        _header(ar=1) + QUESTION,  # missing additional record
        _header(ar=2) + QUESTION + (b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00") * 2,  # two OPT RRs
        _header(an=1) + QUESTION + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00",  # OPT in the answer section
        _header(ar=1) + QUESTION + b"\x01x\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00",  # OPT owner not root
        _header(ar=1) + QUESTION + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x05\x00\x08",  # truncated option
    ],
)
def test_malformed_queries_with_a_readable_header_are_formerr(wire: bytes) -> None:
    query = parsed(wire)
    assert query.error == FORMERR and query.id == b"\x12\x34"
    reply = error_reply(query, FORMERR)
    assert reply[:2] == b"\x12\x34" and reply[3] & 0xF == FORMERR and reply[2] & 0x80


@pytest.mark.parametrize("wire", [b"", b"\x12", b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00", _header(flags=0x8000)])
def test_unreadable_or_response_packets_are_dropped(wire: bytes) -> None:
    assert parse_query(wire) is None
    assert servfail_for(wire) is None


def test_authority_records_are_skipped_as_in_ixfr_queries() -> None:
    message = dns.message.make_query("example.com", "IXFR")
    message.authority.append(dns.rrset.from_text("example.com.", 0, "IN", "SOA", "a. b. 1 2 3 4 5"))
    query = parsed(message.to_wire())
    assert query.error is None and query.qtype == 251


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_never_raise(data: bytes) -> None:
    query = parse_query(data)
    if query is not None:
        error_reply(query, query.error or 0)
    servfail_for(data)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="abcXYZ019-", min_size=1, max_size=20), min_size=1, max_size=5),
    st.sampled_from(["A", "AAAA", "TXT", "CNAME", "ANY"]),
    st.booleans(),
    st.integers(min_value=0, max_value=4096),
)
def test_fast_path_agrees_with_the_general_parser(labels: list[str], rdtype: str, edns: bool, payload: int) -> None:
    wire = make_query(".".join(labels), rdtype, edns=edns, payload=payload).to_wire()
    fast = parsed(wire)
    general = _parse_general(wire)
    fields = ("id", "flags", "qname", "key", "qtype", "qclass", "question", "edns", "udp_size", "version", "do")
    fields += ("error",)
    assert [getattr(fast, f) for f in fields] == [getattr(general, f) for f in fields]


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=12, max_size=60), st.integers(min_value=0, max_value=59))
def test_flipping_bytes_of_a_good_query_never_raises(noise: bytes, index: int) -> None:
    wire = bytearray(make_query("www.k.example.com", ecs="127.0.100.0/24").to_wire())
    for i, byte in enumerate(noise):
        wire[(index + i * 7) % len(wire)] ^= byte
    query = parse_query(bytes(wire))
    if query is not None:
        error_reply(query, query.error or 0)


def test_ecs_options_without_ecs_keep_working() -> None:
    message = make_query("a.example", edns=True)
    message.use_edns(0, options=[dns.edns.GenericOption(10, b"12345678")])  # a client COOKIE: ignored
    query = parsed(message.to_wire())
    assert query.error is None and query.ecs is None
