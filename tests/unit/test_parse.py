"""parse_dnsrecord / parse_provider_secret: canonical form and one exact message per §3 validation class."""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuadns_sync.hashing import short_hash
from kuadns_sync.model import Endpoint, Issue, Origin
from kuadns_sync.parse import check_target, parse_dnsrecord, parse_provider_secret, sorted_issues

CLUSTER = "east"
ORIGIN = Origin(CLUSTER, "dnstest", "api")
GEO_TAIL = ' is not GEO-<AF|AN|AS|EU|NA|OC|SA>, an ISO 3166-1 alpha-2 country code or "*" (upper case)'


def dnsrecord(endpoints: list[Any], **spec: Any) -> dict[str, Any]:
    """A DNSRecord object with rootHost api.k.example.com unless overridden."""
    body: dict[str, Any] = {"rootHost": "api.k.example.com", "endpoints": endpoints}
    body.update(spec)
    return {
        "apiVersion": "kuadrant.io/v1alpha1",
        "kind": "DNSRecord",
        "metadata": {"name": "api", "namespace": "dnstest", "uid": "11111111-1111-4111-8111-111111111111"},
        "spec": body,
    }


def ep(dns_name: str = "api.k.example.com", record_type: str = "A", targets: Any = None, **extra: Any) -> Any:
    raw: dict[str, Any] = {"dnsName": dns_name, "recordType": record_type}
    raw["targets"] = ["192.0.2.1"] if targets is None else targets
    raw.update(extra)
    return raw


def ps(**values: str) -> list[dict[str, str]]:
    return [{"name": k.replace("_", "-"), "value": v} for k, v in values.items()]


def messages(raw: dict[str, Any]) -> list[str]:
    return [issue.message for issue in parse_dnsrecord(raw, CLUSTER).issues]


def test_valid_record_is_canonicalised() -> None:
    raw = dnsrecord(
        [
            ep("API.K.Example.com.", "a", ["192.0.2.2", "192.0.2.1", "192.0.2.2"], recordTTL=60),
            ep("v6.api.k.example.com", "AAAA", ["2001:DB8:0:0::1"]),
            ep(
                "www.api.k.example.com",
                "cname",
                ["LB.Example.NET."],
                setIdentifier="s",
                providerSpecific=ps(weight="120"),
            ),
            ep("geo.api.k.example.com", "CNAME", ["x.example.net"], providerSpecific=ps(geo_code="GEO-EU")),
            ep("mx.api.k.example.com", "MX", ["10   Mail.Example.com."]),
            ep("_sip._tcp.api.k.example.com", "SRV", ["0 5 5060 SIP.example.com"]),
            ep("api.k.example.com", "CAA", ['0 issue "letsencrypt.org"']),
            ep("_acme-challenge.api.k.example.com", "TXT", ["v=" + "x" * 300]),
            ep("*.api.k.example.com", "NS", ["ns1.Example.com."]),
        ],
        rootHost="API.k.example.com.",
    )
    record = parse_dnsrecord(raw, CLUSTER)
    assert record.issues == ()
    assert record.ok
    assert record.origin == ORIGIN
    assert record.root_host == "api.k.example.com"
    assert record.owner_id == "247gdlk5"  # short8(uid), kuadrant-coredns.md §2.7
    assert not record.delegate and not record.deleting and record.provider_ref is None
    by_name = {(e.dns_name, e.record_type): e for e in record.endpoints}
    assert by_name["api.k.example.com", "A"] == Endpoint("api.k.example.com", "A", ("192.0.2.1", "192.0.2.2"), ttl=60)
    assert by_name["api.k.example.com", "A"].origins == (ORIGIN.at(0),)
    assert by_name["v6.api.k.example.com", "AAAA"].targets == ("2001:db8::1",)
    www = by_name["www.api.k.example.com", "CNAME"]
    assert (www.targets, www.weight, www.geo, www.set_identifier) == (("lb.example.net",), 120, None, "s")
    assert www.provider_specific == (("weight", "120"),)
    assert by_name["geo.api.k.example.com", "CNAME"].geo == "GEO-EU"
    assert by_name["mx.api.k.example.com", "MX"].targets == ("10 mail.example.com",)
    assert by_name["_sip._tcp.api.k.example.com", "SRV"].targets == ("0 5 5060 sip.example.com",)
    assert by_name["api.k.example.com", "CAA"].targets == ('0 issue "letsencrypt.org"',)
    assert by_name["*.api.k.example.com", "NS"].targets == ("ns1.example.com",)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        # dnsName not under rootHost: label boundary, not upstream's string suffix.
        (
            ep("xapi.k.example.com"),
            'dnsName "xapi.k.example.com" is not "api.k.example.com" or a name under it (spec.rootHost)',
        ),
        (ep("k.example.com"), 'dnsName "k.example.com" is not "api.k.example.com" or a name under it (spec.rootHost)'),
        # invalid DNS names
        (ep("a..api.k.example.com"), 'dnsName "a..api.k.example.com" is not a valid DNS name: it has an empty label'),
        (
            ep("a" * 64 + ".api.k.example.com"),
            f'dnsName "{"a" * 64}.api.k.example.com" is not a valid DNS name: '
            f'label "{"a" * 64}" is 64 characters long (max 63)',
        ),
        (
            ep(("a" * 60 + ".") * 4 + "api.k.example.com"),
            f'dnsName "{("a" * 60 + ".") * 4}api.k.example.com" is not a valid DNS name: '
            "the name is 261 characters long (max 253)",
        ),
        (
            ep("a b.api.k.example.com"),
            'dnsName "a b.api.k.example.com" is not a valid DNS name: '
            "label \"a b\" contains ' ' (allowed: letters, digits, hyphen)",
        ),
        (
            ep("a.*.api.k.example.com"),
            'dnsName "a.*.api.k.example.com" is not a valid DNS name: "*" is only allowed as the whole leftmost label',
        ),
        (
            ep("*x.api.k.example.com"),
            'dnsName "*x.api.k.example.com" is not a valid DNS name: "*" is only allowed as the whole leftmost label',
        ),
        (
            ep("_x.api.k.example.com"),
            'dnsName "_x.api.k.example.com" is not a valid DNS name: '
            "label \"_x\" contains '_' (allowed: letters, digits, hyphen)",
        ),
        (ep(""), "dnsName is missing or empty"),
        ({"recordType": "A", "targets": ["192.0.2.1"]}, "dnsName is missing or empty"),
        # address families
        (ep(targets=["192.0.2.256"]), 'A target "192.0.2.256" is not an IPv4 address'),
        (ep(targets=["2001:db8::1"]), 'A target "2001:db8::1" is not an IPv4 address'),
        (ep(targets=["010.0.0.1"]), 'A target "010.0.0.1" is not an IPv4 address'),
        (ep(record_type="AAAA", targets=["192.0.2.1"]), 'AAAA target "192.0.2.1" is not an IPv6 address'),
        # record types
        (
            ep(record_type="PTR", targets=["x.example.com"]),
            'recordType "PTR" is not supported (supported: A, AAAA, CAA, CNAME, MX, NS, SRV, TXT)',
        ),
        ({"dnsName": "api.k.example.com", "targets": ["192.0.2.1"]}, "recordType is missing"),
        (
            ep(record_type="MX", targets=["mail.example.com"]),
            'MX target "mail.example.com" is not "<preference> <host>"',
        ),
        (
            ep(record_type="MX", targets=["70000 mail.example.com"]),
            'MX target "70000 mail.example.com": preference "70000" is not 0..65535',
        ),
        (
            ep(record_type="MX", targets=["10 mail..example.com"]),
            'MX target "mail..example.com" is not a valid host name: it has an empty label',
        ),
        (
            ep(record_type="SRV", targets=["0 5 sip.example.com"]),
            'SRV target "0 5 sip.example.com" is not "<priority> <weight> <port> <target>"',
        ),
        (
            ep(record_type="SRV", targets=["0 5 -1 sip.example.com"]),
            'SRV target "0 5 -1 sip.example.com": port "-1" is not 0..65535',
        ),
        (ep(record_type="CAA", targets=["0 issue"]), 'CAA target "0 issue" is not "<flags> <tag> <value>"'),
        (ep(record_type="CAA", targets=["256 issue x"]), 'CAA target "256 issue x": flags "256" is not 0..255'),
        (
            ep(record_type="CAA", targets=["0 is-sue x"]),
            'CAA target "0 is-sue x": tag "is-sue" is not letters and digits',
        ),
        (
            ep(record_type="NS", targets=["*.example.com"]),
            'NS target "*.example.com" is not a valid host name: "*" (wildcard) is not allowed here',
        ),
        # TTL
        (ep(recordTTL=-1), "recordTTL -1 is out of range 0..2147483647"),
        (ep(recordTTL=2**31), "recordTTL 2147483648 is out of range 0..2147483647"),
        (ep(recordTTL="60"), 'recordTTL "60" is not an integer'),
        (ep(recordTTL=True), "recordTTL True is not an integer"),
        # weight: base-10 integer >= 0, never coerced
        (ep(providerSpecific=ps(weight="abc")), 'weight "abc" is not a base-10 integer >= 0'),
        (ep(providerSpecific=ps(weight="")), 'weight "" is not a base-10 integer >= 0'),
        (ep(providerSpecific=ps(weight="-1")), 'weight "-1" is not a base-10 integer >= 0'),
        (ep(providerSpecific=ps(weight="1.5")), 'weight "1.5" is not a base-10 integer >= 0'),
        (ep(providerSpecific=ps(weight="0x10")), 'weight "0x10" is not a base-10 integer >= 0'),
        (ep(providerSpecific=ps(weight=" 7")), 'weight " 7" is not a base-10 integer >= 0'),
        (ep(providerSpecific=ps(weight="+7")), 'weight "+7" is not a base-10 integer >= 0'),
        (
            ep(providerSpecific=[{"name": "weight", "value": "1"}, {"name": "weight", "value": "2"}]),
            "providerSpecific sets weight more than once",
        ),
        (ep(providerSpecific={"weight": "1"}), "providerSpecific is not a list of {name, value}"),
        # geo-code: exact case, continents with GEO-, ISO alpha-2, or *
        (
            ep(providerSpecific=ps(geo_code="geo-eu")),
            'geo-code "geo-eu"' + GEO_TAIL,
        ),
        (
            ep(providerSpecific=ps(geo_code="ie")),
            'geo-code "ie" is not GEO-<AF|AN|AS|EU|NA|OC|SA>, an ISO 3166-1 alpha-2 country code or "*" (upper case)',
        ),
        (
            ep(providerSpecific=ps(geo_code="GEO-XX")),
            'geo-code "GEO-XX"' + GEO_TAIL,
        ),
        (
            ep(providerSpecific=ps(geo_code="ZZ")),
            'geo-code "ZZ" is not GEO-<AF|AN|AS|EU|NA|OC|SA>, an ISO 3166-1 alpha-2 country code or "*" (upper case)',
        ),
        (
            ep(providerSpecific=ps(geo_code="EU")),
            'geo-code "EU" is not GEO-<AF|AN|AS|EU|NA|OC|SA>, an ISO 3166-1 alpha-2 country code or "*" (upper case)',
        ),
        (
            ep(providerSpecific=ps(weight="1", geo_code="IE")),
            "both weight and geo-code are set; an endpoint is either weighted or geo-routed",
        ),
        # CNAME cardinality, empty targets, TXT size
        (
            ep(record_type="CNAME", targets=["a.example.com", "b.example.com"]),
            "CNAME must have exactly 1 target, has 2",
        ),
        (ep(targets=[]), "targets is empty"),
        (ep(targets=[""]), "targets[0] is empty"),
        (ep(targets=[7]), "targets[0] 7 is not a string"),
        (ep(record_type="TXT", targets=["x" * 4001]), "TXT target is 4001 bytes long (max 4000)"),
        (ep(setIdentifier=3), "setIdentifier 3 is not a string"),
        (ep(labels={"a": 1}), "labels must map strings to strings"),
        ("not-an-endpoint", "the endpoint is not a mapping"),
        (ep(targets="192.0.2.1"), "targets is not a list of strings"),
        (
            ep(providerSpecific=[{"name": 1, "value": "x"}]),
            "providerSpecific entry {'name': 1, 'value': 'x'} is not a {name, value} pair of strings",
        ),
    ],
)
def test_each_validation_class_has_an_exact_message(endpoint: Any, message: str) -> None:
    record = parse_dnsrecord(dnsrecord([ep("ok.api.k.example.com"), endpoint]), CLUSTER)
    assert [(i.origin, i.severity, i.reason, i.message) for i in record.issues] == [
        (ORIGIN.at(1), "error", "ValidationError", message)
    ]
    assert not record.ok
    # The valid endpoint is kept for reporting, but the record as a whole contributes nothing (merge checks ok).
    assert [e.dns_name for e in record.endpoints] == ["ok.api.k.example.com"]


def test_valid_edge_values_are_accepted() -> None:
    raw = dnsrecord(
        [
            ep("a.api.k.example.com", recordTTL=0, providerSpecific=ps(weight="0")),
            ep("b.api.k.example.com", recordTTL=2**31 - 1, providerSpecific=ps(weight="007")),
            ep("c.api.k.example.com", providerSpecific=ps(geo_code="*")),
            ep("d.api.k.example.com", providerSpecific=ps(geo_code="AX")),
            ep("e.api.k.example.com", providerSpecific=ps(geo_code="GEO-AN")),
            ep("f.api.k.example.com", "TXT", ["x" * 4000]),
            ep("g.api.k.example.com", providerSpecific=[{"name": "aws/evaluate-target-health", "value": "true"}]),
            ep("h.api.k.example.com", recordTTL=None, setIdentifier=None, labels=None),
        ]
    )
    record = parse_dnsrecord(raw, CLUSTER)
    assert record.issues == ()
    assert [e.weight for e in record.endpoints[:2]] == [0, 7]


def test_duplicate_endpoint_keys_within_a_record() -> None:
    raw = dnsrecord([ep(), ep("API.k.example.com.", targets=["192.0.2.9"]), ep(setIdentifier="x")])
    record = parse_dnsrecord(raw, CLUSTER)
    assert [(i.origin, i.message) for i in record.issues] == [
        (
            ORIGIN.at(1),
            'duplicate endpoint (dnsName "api.k.example.com", recordType A, setIdentifier ""): also spec.endpoints[0]',
        )
    ]


def test_cname_and_other_data_at_one_name_within_a_record() -> None:
    raw = dnsrecord([ep(), ep(record_type="CNAME", targets=["x.example.com"]), ep(record_type="TXT", targets=["t"])])
    assert messages(raw) == [
        'CNAME at "api.k.example.com" cannot coexist with A, TXT at the same name (RFC 1034 §3.6.2)'
    ]


def test_every_problem_of_an_endpoint_is_reported_together() -> None:
    raw = dnsrecord([ep("xapi.k.example.com", targets=["nope"], recordTTL=-5, providerSpecific=ps(weight="x"))])
    assert messages(raw) == [
        'A target "nope" is not an IPv4 address',
        'dnsName "xapi.k.example.com" is not "api.k.example.com" or a name under it (spec.rootHost)',
        "recordTTL -5 is out of range 0..2147483647",
        'weight "x" is not a base-10 integer >= 0',
    ]


@pytest.mark.parametrize(
    ("root_host", "message"),
    [
        (None, "spec.rootHost is missing or empty"),
        ("", "spec.rootHost is missing or empty"),
        ("localhost", 'spec.rootHost "localhost" must have at least two dot-separated labels'),
        ("a b.com", 'spec.rootHost "a b.com" must have at least two dot-separated labels'),
        (
            "a!b.com",
            'spec.rootHost "a!b.com" is not a valid DNS name: '
            "label \"a!b\" contains '!' (allowed: letters, digits, hyphen)",
        ),
        ("*.com", 'spec.rootHost "*.com" must have at least two labels besides a wildcard'),
    ],
)
def test_root_host_problems(root_host: str | None, message: str) -> None:
    raw = dnsrecord([])
    if root_host is None:
        del raw["spec"]["rootHost"]
    else:
        raw["spec"]["rootHost"] = root_host
    record = parse_dnsrecord(raw, CLUSTER)
    assert [(i.origin, i.message) for i in record.issues] == [(ORIGIN, message)]


def test_wildcard_root_host_accepts_names_under_the_stripped_host() -> None:
    raw = dnsrecord(
        [ep("*.api.k.example.com"), ep("klb.api.k.example.com"), ep("api.k.example.com")],
        rootHost="*.api.k.example.com",
    )
    record = parse_dnsrecord(raw, CLUSTER)
    assert record.issues == ()
    assert record.root_host == "*.api.k.example.com"


def test_record_level_problems() -> None:
    raw = dnsrecord([], delegate="yes", ownerID="a b", providerRef="x")
    raw["metadata"] = {"uid": "u"}
    raw["spec"]["endpoints"] = {"not": "a list"}
    record = parse_dnsrecord(raw, CLUSTER)
    where = Origin(CLUSTER, "<missing>", "<missing>")
    assert [(i.origin, i.message) for i in record.issues] == [
        (where, "metadata.name is missing"),
        (where, "metadata.namespace is missing"),
        (where, 'spec.delegate "yes" is not a boolean'),
        (where, "spec.endpoints is not a list"),
        (where, 'spec.ownerID "a b" must be 6-36 characters without spaces, commas, "=", "&" or quotes'),
        (where, "spec.providerRef is not a mapping with a name"),
    ]
    assert record.owner_id == short_hash("u", 8)


def test_missing_spec_and_non_mapping_object() -> None:
    assert messages({"metadata": {"name": "a", "namespace": "b"}}) == [
        "spec is missing or not a mapping",
        "spec.rootHost is missing or empty",
    ]
    record = parse_dnsrecord("junk", CLUSTER)  # type: ignore[arg-type]
    assert "the object is not a mapping" in [i.message for i in record.issues]


def test_delegate_and_provider_ref_are_mutually_exclusive() -> None:
    raw = dnsrecord([], delegate=True, providerRef={"name": "p"})
    assert messages(raw) == ["spec.delegate=true and spec.providerRef are mutually exclusive"]


def test_owner_id_sources() -> None:
    raw = dnsrecord([], ownerID="my-owner-1")
    assert parse_dnsrecord(raw, CLUSTER).owner_id == "my-owner-1"
    raw = dnsrecord([])
    del raw["metadata"]["uid"]
    # Offline manifests have no uid: hash of cluster/namespace/name, stable across renders.
    assert parse_dnsrecord(raw, CLUSTER).owner_id == short_hash("east/dnstest/api", 8)


def test_metadata_fields_and_provider_ref() -> None:
    raw = dnsrecord([], providerRef={"name": "coredns"}, delegate=False)
    raw["metadata"].update(generation=3, resourceVersion="42", labels={"a": "b", "n": 1})
    record = parse_dnsrecord(raw, CLUSTER)
    assert (record.generation, record.resource_version, record.labels) == (3, "42", (("a", "b"),))
    assert record.provider_ref == "coredns"
    assert record.endpoints == () and record.ok


@pytest.mark.parametrize(
    ("patch", "deleting"),
    [
        ({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}, True),
        ({"status": {"conditions": [{"type": "Ready", "reason": "ProviderEndpointsDeletion"}]}}, True),
        ({"status": {"conditions": [{"type": "Ready", "reason": "ProviderEndpointsRemoved"}]}}, True),
        ({"status": {"conditions": [{"type": "Ready", "reason": "ProviderSuccess"}]}}, False),
        ({"status": {"conditions": [{"type": "Healthy", "reason": "ProviderEndpointsRemoved"}]}}, False),
        ({"status": {"conditions": "junk"}}, False),
    ],
)
def test_deleting(patch: dict[str, Any], deleting: bool) -> None:
    raw = dnsrecord([])
    for key, value in patch.items():
        raw.setdefault(key, {}).update(value)
    assert parse_dnsrecord(raw, CLUSTER).deleting is deleting


def test_sorted_issues_orders_record_issues_before_endpoint_issues() -> None:
    a = Issue(ORIGIN.at(0), "error", "ValidationError", "x")
    b = Issue(ORIGIN, "error", "ValidationError", "y")
    c = Issue(None, "warning", "Stale", "z")
    assert sorted_issues([a, b, c, a]) == (c, b, a)


def secret(zones: str | None = None, *, string_data: str | None = None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "kuadrant.io/coredns",
        "metadata": {"name": "dns-provider-coredns", "namespace": "dnstest"},
    }
    if zones is not None:
        raw["data"] = {"ZONES": base64.b64encode(zones.encode()).decode()}
    if string_data is not None:
        raw["stringData"] = {"ZONES": string_data}
    raw.update(extra)
    return raw


def test_provider_secret_zones_are_trimmed_per_item() -> None:
    parsed = parse_provider_secret(secret(" k.example.com, B.example.com.,, k.example.com "), "east")
    assert parsed is not None
    assert parsed.zones == ("k.example.com", "b.example.com")
    assert (parsed.cluster, parsed.namespace, parsed.name, parsed.type, parsed.default) == (
        "east",
        "dnstest",
        "dns-provider-coredns",
        "kuadrant.io/coredns",
        False,
    )


def test_provider_secret_string_data_and_default_label() -> None:
    raw = secret(string_data="k.example.com")
    raw["metadata"]["labels"] = {"kuadrant.io/default-provider": "true"}
    parsed = parse_provider_secret(raw, "east")
    assert parsed is not None and parsed.zones == ("k.example.com",) and parsed.default


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "Opaque", "metadata": {"name": "a", "namespace": "b"}},
        {"type": "kuadrant.io/coredns", "metadata": {"name": "a"}},
        "junk",
    ],
)
def test_non_provider_secrets_are_none(raw: Any) -> None:
    assert parse_provider_secret(raw, "east") is None


def test_provider_secret_without_or_with_bad_zones() -> None:
    aws = parse_provider_secret(secret(type="kuadrant.io/aws"), "east")
    assert aws is not None and aws.type == "kuadrant.io/aws" and aws.zones == ()
    bad = parse_provider_secret(secret(data={"ZONES": "%%%"}), "east")
    assert bad is not None and bad.zones == ()


def _ipaddress_verdict(target: str) -> tuple[bool, str]:
    try:
        return True, str(ipaddress.IPv4Address(target))
    except ValueError:
        return False, target


_OCTETS = st.sampled_from(
    ["0", "00", "01", "7", "09", "10", "99", "100", "199", "200", "249", "250", "255", "256", "300"]
)


@given(
    st.lists(_OCTETS, min_size=3, max_size=5).map(".".join) | st.text("0123456789.٣ \n+-x", max_size=16),
)
def test_a_targets_are_judged_and_written_exactly_as_ipaddress_does(target: str) -> None:
    problem, canonical = check_target("A", target)
    assert (problem is None, canonical) == _ipaddress_verdict(target)


def test_every_supported_type_has_a_target_check() -> None:
    from kuadns_sync.model import SUPPORTED_TYPES
    from kuadns_sync.parse import _TARGET_CHECKS

    assert set(_TARGET_CHECKS) == SUPPORTED_TYPES
