"""Ownership TXT registry records, bit-exact with kuadrant-coredns.md §2.5 and the §2.7 worked example."""

from __future__ import annotations

import pytest

from kuadns_sync.model import Endpoint, EndpointKey, Origin
from kuadns_sync.ownership import (
    parse_txt_name,
    parse_txt_value,
    read_owners,
    txt_endpoint,
    txt_name,
    txt_value,
)


@pytest.mark.parametrize(
    ("owner", "record_type", "name", "expected"),
    [
        (
            "247gdlk5",
            "A",
            "2k8o21-360vxf.klb.api.k.example.com",
            "kuadrant-15dlpds8-a-2k8o21-360vxf.klb.api.k.example.com",
        ),
        ("247gdlk5", "CNAME", "api.k.example.com", "kuadrant-15dlpds8-cname-api.k.example.com"),
        ("13hon7vt", "CNAME", "geo-na.klb.api.k.example.com", "kuadrant-2x2ntmn3-cname-geo-na.klb.api.k.example.com"),
        ("2vl2ac4b", "A", "simple.k.example.com", "kuadrant-2kl5wt14-a-simple.k.example.com"),
        ("2vl2ac4b", "A", "*.foo.example.com", "kuadrant-2kl5wt14-a-wildcard.foo.example.com"),
    ],
)
def test_txt_name(owner: str, record_type: str, name: str, expected: str) -> None:
    assert txt_name(owner, record_type, name) == expected


def test_txt_value_has_quotes_heritage_first_and_sorted_labels() -> None:
    assert txt_value("247gdlk5") == '"heritage=external-dns,external-dns/owner=247gdlk5,external-dns/version=1"'
    labels = (("owner", "someone-else"), ("targets", "1.1.1.1;2.2.2.2"), ("group", "g1"))
    assert txt_value("o", labels) == (
        '"heritage=external-dns,external-dns/group=g1,external-dns/owner=o,'
        'external-dns/targets=1.1.1.1;2.2.2.2,external-dns/version=1"'
    )


def test_txt_endpoint_copies_set_identifier_and_provider_specific() -> None:
    origin = Origin("c1", "dnstest", "r", 3)
    data = Endpoint(
        "klb.api.k.example.com",
        "CNAME",
        ("geo-eu.klb.api.k.example.com",),
        ttl=300,
        set_identifier="GEO-EU",
        geo="GEO-EU",
        provider_specific=(("geo-code", "GEO-EU"),),
        origins=(origin,),
    )
    txt = txt_endpoint(data, "247gdlk5")
    assert txt == Endpoint(
        "kuadrant-15dlpds8-cname-klb.api.k.example.com",
        "TXT",
        ('"heritage=external-dns,external-dns/owner=247gdlk5,external-dns/version=1"',),
        ttl=0,
        set_identifier="GEO-EU",
        labels=(("ownedRecord", "klb.api.k.example.com"),),
        provider_specific=(("geo-code", "GEO-EU"),),
    )
    assert txt.geo is None and txt.weight is None  # not a routing set in the served zone
    assert txt.origins == (origin,)


def test_reading_back_values_and_names() -> None:
    assert parse_txt_value('"heritage=external-dns,external-dns/owner=o1,external-dns/version=1"') == {
        "owner": "o1",
        "version": "1",
    }
    assert parse_txt_value("heritage=external-dns,external-dns/owner=o1") == {"owner": "o1"}
    assert parse_txt_value('"v=spf1 include:example.com -all"') is None
    assert parse_txt_value("external-dns/owner=o1") is None  # no heritage: foreign data
    assert parse_txt_name("kuadrant-15dlpds8-cname-api.k.example.com") == ("15dlpds8", "CNAME", "api.k.example.com")
    assert parse_txt_name("kuadrant-2kl5wt14-a-wildcard.foo.example.com") == ("2kl5wt14", "A", "*.foo.example.com")
    assert parse_txt_name("_acme-challenge.example.com") is None


def test_read_owners_round_trips_and_ignores_foreign_txt() -> None:
    data = [
        Endpoint("api.k.example.com", "CNAME", ("klb.api.k.example.com",)),
        Endpoint("*.w.k.example.com", "A", ("192.0.2.1",), set_identifier="s"),
    ]
    txts = [txt_endpoint(data[0], "247gdlk5"), txt_endpoint(data[0], "13hon7vt"), txt_endpoint(data[1], "247gdlk5")]
    foreign = [
        Endpoint("kuadrant-15dlpds8-a-x.k.example.com", "TXT", ('"v=spf1 -all"',)),
        # heritage present but the name's hash is not the owner's: forged or stale, ignored
        Endpoint("kuadrant-00000000-a-x.k.example.com", "TXT", (txt_value("247gdlk5"),)),
        Endpoint("x.k.example.com", "TXT", (txt_value("247gdlk5"),)),
        Endpoint("kuadrant-15dlpds8-a-x.k.example.com", "TXT", (txt_value("247gdlk5"), "second")),
        Endpoint("kuadrant-15dlpds8-a-y.k.example.com", "TXT", ('"heritage=external-dns"',)),
    ]
    owners = read_owners([*data, *txts, *foreign])
    assert owners == {
        EndpointKey("*.w.k.example.com", "A", "s"): ("247gdlk5",),
        EndpointKey("api.k.example.com", "CNAME", ""): ("13hon7vt", "247gdlk5"),
    }
