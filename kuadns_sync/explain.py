"""Why a client gets an answer: its location, the variant chosen, the weighted draws and their odds, ECS scope.

Pure: reads compiled tables (the very ones the server answers from) and returns text; dnspython only
decodes the prebuilt bytes for display. Every possible reply is listed with its probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.message
import dns.name
import dns.rdatatype

from kuadns_sync.answer import lookup
from kuadns_sync.compile import Choice, Flat, Geo, Hop, Leaf, Node, Reply, Tables, Tree, ZoneTable
from kuadns_sync.errors import ConfigError
from kuadns_sync.geo import Location
from kuadns_sync.wire import AA, HEADER, QR, RCODE_NAMES

MAX_PATHS = 32  # possible replies listed (a chain of several weighted sets multiplies them)


@dataclass(frozen=True, slots=True)
class Client:
    """Who asks: the address looked up, how it was given (source or ECS), and the ECS source prefix."""

    address: str | None
    how: str
    ecs_prefix: int | None = None


@dataclass(frozen=True, slots=True)
class _Path:
    probability: float
    steps: tuple[str, ...]
    flags: int
    body: bytes
    counts: tuple[int, int, int]


def _share(weights: tuple[int, ...], index: int) -> float:
    total = sum(weights)
    return 1 / len(weights) if total == 0 else weights[index] / total


def _paths(node: Node, probability: float, steps: tuple[str, ...], parts: tuple[bytes, ...], count: int) -> list[_Path]:
    if isinstance(node, Hop):
        return _paths(node.next, probability, steps, (*parts, node.data), count + node.count)
    if isinstance(node, Choice):
        out: list[_Path] = []
        for i, member in enumerate(node.members):
            share = _share(node.weights, i)
            if share == 0:
                continue
            label = f"set {node.labels[i]!r} weight {node.weights[i]} (p={share:.3f})"
            out.extend(_paths(member, probability * share, (*steps, label), parts, count))
        return out
    leaf: Leaf = node
    body = b"".join(parts) + leaf.authority + leaf.additional
    return [_Path(probability, steps, leaf.flags, body, (count, leaf.nscount, leaf.arcount))]


def reply_paths(reply: Reply) -> list[tuple[float, tuple[str, ...], int, bytes, tuple[int, int, int]]]:
    """Every reply a Flat/Tree can produce: (probability, draws taken, flags, body, section counts)."""
    if isinstance(reply, Flat):
        return [(1.0, (), reply.flags, reply.body, (reply.ancount, reply.nscount, reply.arcount))]
    assert isinstance(reply, Tree)
    return [(p.probability, p.steps, p.flags, p.body, p.counts) for p in _paths(reply.root, 1.0, (), (), 0)]


def _variant_reason(zone: ZoneTable, location: Location | None, index: int) -> str:
    if location is None:
        return "no location (no GeoIP database, or ECS prefix 0): the default variant"
    name = zone.variants[index]
    if index == 0:
        return f"no variant for country {location.country or '-'} or continent {location.continent or '-'}: default"
    if name == location.country:
        return f"country {name} has its own variant"
    return f"continent {name} (no variant for country {location.country or '-'})"


def explain(tables: Tables, qname: str, qtype: str, client: Client, location: Location | None) -> str:
    """A readable account of how the server answers (qname, qtype) for this client. Raises ConfigError."""
    try:
        name = dns.name.from_text(qname)
        rdtype = dns.rdatatype.from_text(qtype)
    except Exception as exc:  # dnspython raises several types for bad text
        raise ConfigError(f"explain: bad query {qname!r} {qtype!r}: {exc}") from exc
    wire_name = name.to_wire()
    assert wire_name is not None
    question = wire_name + int(rdtype).to_bytes(2, "big") + b"\x00\x01"
    key = wire_name.lower()
    lines = [f"query:    {name} {dns.rdatatype.to_text(rdtype)}"]
    if client.address is None:
        lines.append("client:   none given (as a client the GeoIP database does not know)")
    elif location is None:
        lines.append(f"client:   {client.address} ({client.how}); no GeoIP database: every client is 'default'")
    else:
        where = f"{location.country or '-'} / {location.continent or '-'}, database network /{location.prefix_len}"
        lines.append(f"client:   {client.address} ({client.how}) -> {where}")
    found = lookup(tables, key, int(rdtype))
    if found is None:
        lines.append("zone:     none of ours holds this name -> REFUSED")
        return "\n".join(lines) + "\n"
    entry, zone = found
    lines.append(f"zone:     {zone.name} (serial {zone.serial}); variants: {', '.join(zone.variants)}")
    scope = 0
    if isinstance(entry, Geo):
        index = zone.variant_index(location.country, location.continent) if location is not None else 0
        reply: Reply = entry.replies[index]
        lines.append(f"variant:  {zone.variants[index]} ({_variant_reason(zone, location, index)})")
        if location is not None:
            scope = location.prefix_len if client.ecs_prefix is None else min(location.prefix_len, client.ecs_prefix)
        lines.append(f"location: the answer differs between variants -> ECS scope /{scope}")
    else:
        reply = entry
        lines.append("location: the same answer in every variant -> ECS scope /0")
    paths = reply_paths(reply)
    lines.append(f"replies:  {len(paths)} possible" + (f" (first {MAX_PATHS} shown)" if len(paths) > MAX_PATHS else ""))
    for probability, steps, flags, body, (an, ns, ar) in paths[:MAX_PATHS]:
        wire = b"\x00\x00" + HEADER.pack(flags | (QR if not flags & QR else 0), 1, an, ns, ar) + question + body
        message = dns.message.from_wire(wire)
        rcode = RCODE_NAMES.get(flags & 0xF, str(flags & 0xF))
        aa = " AA" if flags & AA else ""
        lines.append(f"  p={probability:.3f} {rcode}{aa}" + ("".join(f"\n    draw: {s}" for s in steps)))
        for section, rrsets in (
            ("answer", message.answer),
            ("authority", message.authority),
            ("additional", message.additional),
        ):
            for rrset in rrsets:
                for rdata in rrset:
                    lines.append(
                        f"    {section}: {rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
                    )
    return "\n".join(lines) + "\n"
