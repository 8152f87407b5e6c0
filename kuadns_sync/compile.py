"""Answer tables: compile a loaded Bundle into prebuilt wire bytes, once per bundle load (off the hot path).

Pure, no I/O; dnspython is used here (via zoneread) and nowhere near the hot path. For every name of
every zone and every record type that can matter, each variant's answer is resolved in advance into a
small tree: fixed byte runs (`Hop`), weighted choices (`Choice`, one draw per routing set, also at each
CNAME hop) and a final `Leaf` (RCODE, authority, additional). Answers that are the same in every variant
are stored once (`Flat` when no draw is needed) and do not depend on the client's location.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import dns.name
import dns.rdata
import dns.rdatatype

from kuadns_sync.bundle import Bundle, ZoneBundle
from kuadns_sync.errors import BundleError
from kuadns_sync.wire import (
    AA,
    CLASS_IN,
    NOERROR,
    NXDOMAIN,
    QR,
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_DS,
    TYPE_NS,
    TYPE_SOA,
    encode_name,
)
from kuadns_sync.zoneread import Labels, Member, Records, Slot, VariantData, VariantParser, labels_of

MAX_CHAIN = 8  # CNAME hops followed inside a zone (routing-semantics §3)
_RR_FIXED = struct.Struct("!HHIH")
_POINTER = struct.Struct("!H")
_SOA_TAIL = struct.Struct("!IIIII")
# dnspython renders these with name compression; RFC 3597 §4 allows it only for RFC 1035 types.
_COMPRESSIBLE = frozenset({TYPE_CNAME, TYPE_NS, dns.rdatatype.PTR, dns.rdatatype.MX, TYPE_SOA})



@dataclass(frozen=True, slots=True)
class Leaf:
    """End of an answer: header flags (QR, AA, RCODE) and the authority/additional sections."""

    flags: int
    authority: bytes = b""
    nscount: int = 0
    additional: bytes = b""
    arcount: int = 0


@dataclass(frozen=True, slots=True)
class Hop:
    """Answer-section records that are always sent together (an RRset or one routing-set member)."""

    data: bytes
    count: int
    next: Node


@dataclass(frozen=True, slots=True)
class Choice:
    """A routing set: one member drawn with probability weight/sum (weight 0 never, all 0: uniform)."""

    cumulative: tuple[float, ...]
    total: float
    last: int  # index of the last member with a positive weight (guards float rounding)
    members: tuple[Node, ...]
    weights: tuple[int, ...]  # raw weights as rendered, for explain
    labels: tuple[str, ...]  # set identifiers, for explain


Node = Hop | Choice | Leaf


@dataclass(frozen=True, slots=True)
class Flat:
    """A complete prebuilt reply body (no draw needed): flags, sections and their record counts."""

    flags: int
    body: bytes
    ancount: int
    nscount: int
    arcount: int


@dataclass(frozen=True, slots=True)
class Tree:
    """A reply with at least one weighted draw: walk from `root`."""

    root: Node


Reply = Flat | Tree


@dataclass(frozen=True, slots=True)
class Geo:
    """A location-dependent answer: one reply per variant index of the zone."""

    replies: tuple[Reply, ...]


Entry = Flat | Tree | Geo


@dataclass(frozen=True, slots=True)
class Answers:
    """The answers of one owner name: per query type, for other types, and for ANY (RFC 8482)."""

    by_type: Mapping[int, Entry]
    default: Entry
    any: Entry


@dataclass(slots=True)
class ZoneTable:
    """Per-zone facts the responder needs: variant choice, negative answers, serial, AXFR records."""

    name: str
    key: bytes  # apex, lower-case wire form
    labels: Labels
    serial: int
    variants: tuple[str, ...]
    by_country: dict[str, int]
    by_continent: dict[str, int]
    variant_keys: tuple[tuple[str, str], ...]  # (zone, variant) metric labels per variant index
    soa_ttl: int
    soa_rdata: dns.rdata.Rdata
    negative_ttl: int
    transfer_data: Records = field(repr=False)  # the default variant's zone file, for AXFR
    _nxdomain: dict[int, Flat] = field(default_factory=dict, repr=False)
    _transfer: list[bytes] | None = field(default=None, repr=False)

    def variant_index(self, country: str | None, continent: str | None) -> int:
        """Most specific variant for a location: country, else GEO-<continent>, else default (0)."""
        if country is not None:
            index = self.by_country.get(country)
            if index is not None:
                return index
        if continent is not None:
            index = self.by_continent.get(continent)
            if index is not None:
                return index
        return 0

    def nxdomain(self, apex_offset: int) -> Flat:
        """NXDOMAIN reply for a query whose name has this zone's apex at `apex_offset` (RFC 2308 §3)."""
        reply = self._nxdomain.get(apex_offset)
        if reply is None:
            encoder = Encoder(self.labels, apex_offset)
            soa = encoder.rr(self.labels, TYPE_SOA, self.negative_ttl, self.soa_rdata)
            reply = Flat(QR | AA | NXDOMAIN, soa, 0, 1, 0)
            self._nxdomain[apex_offset] = reply
        return reply

    def transfer_records(self) -> list[bytes]:
        """Every record of the default variant as wire RRs (names compressed against the apex
        question at offset 12), SOA first and last (RFC 5936 §2.2)."""
        if self._transfer is None:
            encoder = Encoder(self.labels, 12)
            soa = encoder.rr(self.labels, TYPE_SOA, self.soa_ttl, self.soa_rdata)
            records = [soa]
            for (key, rdtype), (ttl, rdatas) in sorted(
                self.transfer_data.items(), key=lambda item: (tuple(reversed(_key_labels(item[0][0]))), item[0][1])
            ):
                if rdtype != TYPE_SOA:
                    labels = _key_labels(key)
                    records.extend(encoder.rr(labels, rdtype, ttl, rd) for rd in rdatas)
            records.append(soa)
            self._transfer = records
        return self._transfer


@dataclass(frozen=True, slots=True)
class NameInfo:
    """One existing name (data, empty non-terminal or delegation point) and its compiled answers."""

    zone: ZoneTable
    answers: Answers
    delegation: Answers | None = None  # referral without compression, for names below a cut
    synthesis: Answers | None = None  # for a wildcard `*.x`: answers with the owner = query name


@dataclass(frozen=True, slots=True)
class Tables:
    """Everything the responder reads for one bundle: names across all zones, and the zones."""

    names: Mapping[bytes, NameInfo]
    zones: tuple[ZoneTable, ...]
    zones_by_key: Mapping[bytes, ZoneTable]
    generation: str
    content_hash: str


# --- wire encoding with compression against the question name ---------------------------------


class Encoder:
    """Encodes names and RRs, compressing names against one name written at a fixed offset.

    Answers are prebuilt per query name: a suffix of the question name sits at a known offset
    (the question starts at 12), so pointers into it are valid whatever the client's case (0x20).
    """

    __slots__ = ("_offsets", "_names", "_rdatas")

    def __init__(self, labels: Labels | None, base: int = 12) -> None:
        self._names: dict[Labels, bytes] = {}
        self._rdatas: dict[int, tuple[dns.rdata.Rdata, bytes]] = {}  # by id(rdata): compile-time objects
        self._offsets: dict[Labels, int] = {}
        if labels is not None:
            offset = base
            for i in range(len(labels) - 1):  # the root alone is not worth a pointer
                self._offsets[labels[i:]] = offset
                offset += len(labels[i]) + 1

    def name(self, labels: Labels) -> bytes:
        """Wire form of `labels`, ending in a pointer when a suffix is in the question."""
        wire = self._names.get(labels)
        if wire is None:
            wire = encode_name(labels)
            offsets = self._offsets
            for i in range(len(labels) - 1):
                offset = offsets.get(labels[i:])
                if offset is not None:
                    wire = encode_name(labels[:i]) + _POINTER.pack(0xC000 | offset)
                    break
            self._names[labels] = wire
        return wire

    def rdata(self, rdtype: int, rdata: dns.rdata.Rdata) -> bytes:
        """Wire form of one rdata, names compressed where RFC 3597 §4 allows."""
        cached = self._rdatas.get(id(rdata))
        if cached is not None and cached[0] is rdata:
            return cached[1]
        wire = self._rdata(rdtype, rdata)
        self._rdatas[id(rdata)] = (rdata, wire)  # the rdata is kept alive, so its id stays unique
        return wire

    def _rdata(self, rdtype: int, rdata: dns.rdata.Rdata) -> bytes:
        if rdtype in _COMPRESSIBLE:
            if rdtype == TYPE_SOA:
                r = rdata
                return (
                    self.name(labels_of(r.mname))  # type: ignore[attr-defined]
                    + self.name(labels_of(r.rname))  # type: ignore[attr-defined]
                    + _SOA_TAIL.pack(r.serial, r.refresh, r.retry, r.expire, r.minimum)  # type: ignore[attr-defined]
                )
            if rdtype == dns.rdatatype.MX:
                return _POINTER.pack(rdata.preference) + self.name(labels_of(rdata.exchange))  # type: ignore[attr-defined]
            return self.name(labels_of(rdata.target))  # type: ignore[attr-defined]
        wire = rdata.to_wire()
        assert wire is not None
        return wire

    def rr(self, owner: Labels | bytes, rdtype: int, ttl: int, rdata: dns.rdata.Rdata) -> bytes:
        """One resource record; `owner` is labels, or already-encoded bytes (e.g. a pointer to the question)."""
        owner_wire = owner if isinstance(owner, bytes) else self.name(owner)
        rd = self.rdata(rdtype, rdata)
        return owner_wire + _RR_FIXED.pack(rdtype, CLASS_IN, ttl, len(rd)) + rd


# --- compiling one zone ---------------------------------------------------------------------------
_POSITIVE = Leaf(QR | AA | NOERROR)
_CHAIN_END = _POSITIVE  # a chain that leaves the zone (or is too long) ends without authority data
_SYNTH_OWNER = b"\xc0\x0c"  # RFC 4592 §2.2: the synthesized owner is the query name itself


class _ZoneCompiler:
    def __init__(self, zone: ZoneBundle, served: frozenset[bytes], zone_index: int) -> None:
        self.zone = zone
        self.origin = dns.name.from_text(zone.name.rstrip(".") + ".")
        self.apex_labels = labels_of(self.origin)
        self.apex = encode_name(self.apex_labels)
        self.served = served
        if not zone.variants or zone.variants[0] != "default":
            raise BundleError(f"zones/{zone.name}: variants must start with 'default'")
        parser = VariantParser(zone, self.origin)
        self.data: list[VariantData] = [parser.variant(v) for v in zone.variants]
        self.soas: list[tuple[int, dns.rdata.Rdata]] = []
        for variant, data in zip(zone.variants, self.data, strict=True):
            slot = data.get(self.apex, {}).get(TYPE_SOA)
            if slot is None or slot.routed:
                raise BundleError(f"zones/{zone.name}/{variant}.zone: no SOA at the apex")
            self.soas.append((slot.members[0].ttl, slot.members[0].rdatas[0]))
        soa_ttl, soa = self.soas[0]
        negative_ttl = min(soa_ttl, soa.minimum)  # type: ignore[attr-defined]  # RFC 2308 §5
        self.table = ZoneTable(
            name=zone.name,
            key=self.apex,
            labels=self.apex_labels,
            serial=zone.serial,
            variants=zone.variants,
            by_country={v: i for i, v in enumerate(zone.variants) if i and not v.startswith("GEO-")},
            by_continent={v[4:]: i for i, v in enumerate(zone.variants) if v.startswith("GEO-")},
            variant_keys=tuple((zone.name, v) for v in zone.variants),
            soa_ttl=soa_ttl,
            soa_rdata=soa,
            negative_ttl=negative_ttl,
            transfer_data=parser.default_records,
        )
        self.union: set[bytes] = set()
        self.types: set[int] = set()
        for data in self.data:
            for key, slots in data.items():
                self.types.update(slots)
                self.union.add(key)
                for offset in _ancestor_offsets(key, len(self.apex)):  # empty non-terminals exist too
                    self.union.add(key[offset:])
        # Delegation points: NS below the apex (in any variant); names below them are glue / occluded.
        self.cuts = {
            key for key in self.union if key != self.apex and any(TYPE_NS in d.get(key, {}) for d in self.data)
        }
        # Names whose records are the same in every variant: an answer that only looks at such names
        # is computed once (most names; only routing sets with geo codes differ between variants).
        first = self.data[0]
        self.same_everywhere = len(self.data) == 1 or all(soa == self.soas[0] for soa in self.soas)
        self.invariant = {key for key in self.union if all(d.get(key) == first.get(key) for d in self.data[1:])}
        self._touched: list[bytes] | None = None
        self._last_touched: list[bytes] = []
        self._in_zone: dict[bytes, bool] = {}
        self._targets: dict[int, tuple[dns.rdata.Rdata, bytes]] = {}  # by id(rdata), the rdata kept alive

    def slots(self, v: int, key: bytes) -> dict[int, Slot] | None:
        """The records at `key` in variant v (remembered, to know which names an answer depends on)."""
        if self._touched is not None:
            self._touched.append(key)
        return self.data[v].get(key)

    # -- helpers

    def in_zone(self, key: bytes) -> bool:
        """True if `key` is at or below our apex and not inside a more specific zone we also serve."""
        known = self._in_zone.get(key)
        if known is None:
            known = _is_at_or_below(key, self.apex) and not any(
                key[off:] in self.served and key[off:] != self.apex
                for off in _ancestor_offsets(key, len(self.apex), include_self=True)
            )
            self._in_zone[key] = known
        return known

    def below_cut(self, key: bytes, include_self: bool) -> bytes | None:
        """The delegation point at or above `key` (strictly above unless include_self)."""
        if not self.cuts:
            return None
        for offset in _ancestor_offsets(key, len(self.apex), include_self=include_self):
            if key[offset:] in self.cuts:
                return key[offset:]
        return None

    def _soa_leaf(self, v: int, rcode: int, enc: Encoder) -> Leaf:
        ttl, soa = self.soas[v]
        negative = min(ttl, soa.minimum)  # type: ignore[attr-defined]
        return Leaf(QR | AA | rcode, enc.rr(self.apex_labels, TYPE_SOA, negative, soa), 1)

    def _glue(self, v: int, targets: Iterable[dns.name.Name], enc: Encoder) -> tuple[bytes, int]:
        parts: list[bytes] = []
        for target in targets:
            labels = labels_of(target)
            slots = self.slots(v, encode_name(labels)) or {}
            for rdtype in (TYPE_A, TYPE_AAAA):
                slot = slots.get(rdtype)
                if slot is not None and not slot.routed:
                    member = slot.members[0]
                    parts.extend(enc.rr(labels, rdtype, member.ttl, rd) for rd in member.rdatas)
        return b"".join(parts), len(parts)

    # -- resolution of one (name, type) in one variant

    def resolve(
        self, v: int, key: bytes, qtype: int | None, enc: Encoder, chain: tuple[bytes, ...], owner: bytes | None
    ) -> Node:
        """The answer tree for `qtype` (None: a type present nowhere in the zone) at `key` in variant v."""
        slots = self.slots(v, key)
        if slots is None:
            if key in self.union:
                return self._soa_leaf(v, NOERROR, enc)  # exists in another variant or an empty non-terminal
            encloser = self._closest_encloser(key)
            wildcard = b"\x01*" + encloser
            if wildcard not in self.union or self.below_cut(encloser, include_self=True):
                return self._soa_leaf(v, NXDOMAIN, enc)
            slots = self.slots(v, wildcard)
            if slots is None:
                return self._soa_leaf(v, NOERROR, enc)
        if owner is None:
            owner = enc.name(_key_labels(key))
        if qtype is not None and qtype in slots:
            tail: Node = _POSITIVE
            if qtype == TYPE_NS and key == self.apex:
                tail = self._ns_additional(v, slots[qtype], enc)
            return self._hops(slots[qtype], owner, qtype, enc, lambda _m: tail)
        if TYPE_CNAME in slots and qtype != TYPE_CNAME:
            return self._hops(
                slots[TYPE_CNAME], owner, TYPE_CNAME, enc, lambda m: self._chase(v, m, qtype, enc, (*chain, key))
            )
        return self._soa_leaf(v, NOERROR, enc)

    def _ns_additional(self, v: int, slot: Slot, enc: Encoder) -> Leaf:
        targets = [rd.target for member in slot.members for rd in member.rdatas]  # type: ignore[attr-defined]
        glue, count = self._glue(v, targets, enc)
        return Leaf(QR | AA | NOERROR, b"", 0, glue, count)

    def _chase(self, v: int, member: Member, qtype: int | None, enc: Encoder, chain: tuple[bytes, ...]) -> Node:
        key = self._target_key(member.rdatas[0])
        if len(chain) >= MAX_CHAIN or key in chain or not self.in_zone(key) or self.below_cut(key, include_self=True):
            return _CHAIN_END  # too long, a loop (each record once), out of the zone, or delegated
        return self.resolve(v, key, qtype, enc, chain, None)

    def _target_key(self, rdata: dns.rdata.Rdata) -> bytes:
        cached = self._targets.get(id(rdata))
        if cached is None or cached[0] is not rdata:
            cached = (rdata, encode_name(labels_of(rdata.target)))  # type: ignore[attr-defined]
            self._targets[id(rdata)] = cached
        return cached[1]

    def _closest_encloser(self, key: bytes) -> bytes:
        for offset in _ancestor_offsets(key, len(self.apex)):
            if key[offset:] in self.union:
                return key[offset:]
        return self.apex

    def _hops(
        self, slot: Slot, owner: bytes, rdtype: int, enc: Encoder, tail: Callable[[Member], Node]
    ) -> Node:
        nodes = []
        for member in slot.members:
            data = b"".join(enc.rr(owner, rdtype, member.ttl, rd) for rd in member.rdatas)
            nodes.append(Hop(data, len(member.rdatas), tail(member)))
        if not slot.routed or len(nodes) == 1:
            return nodes[0]
        weights = tuple(m.weight for m in slot.members)
        effective = weights if any(weights) else tuple(1 for _ in weights)
        cumulative = []
        running = 0.0
        for w in effective:
            running += w
            cumulative.append(running)
        last = max(i for i, w in enumerate(effective) if w > 0)
        return Choice(
            tuple(cumulative), running, last, tuple(nodes), weights, tuple(m.label for m in slot.members)
        )

    def referral(self, v: int, key: bytes, enc: Encoder) -> Node:
        """Referral for a delegation point: AA=0, NS in authority, glue in additional (RFC 1034 §4.3.2)."""
        slot = (self.slots(v, key) or {}).get(TYPE_NS)
        if slot is None:
            for data in self.data:  # the cut exists in another variant
                slot = data.get(key, {}).get(TYPE_NS)
                if slot is not None:
                    break
        assert slot is not None
        member = slot.members[0]
        labels = _key_labels(key)
        ns = b"".join(enc.rr(labels, TYPE_NS, member.ttl, rd) for rd in member.rdatas)
        glue, count = self._glue(v, [rd.target for rd in member.rdatas], enc)  # type: ignore[attr-defined]
        return Leaf(QR | NOERROR, ns, len(member.rdatas), glue, count)

    # -- combining variants

    def entry(self, build: Callable[[int], Node]) -> Entry:
        """The answer built for every variant: one reply if they agree, else a Geo of them.

        `_last_touched` is left holding every name any variant's build looked at."""
        touched: list[bytes] = []
        self._touched = touched
        first = _finish(build(0))
        if len(self.data) == 1 or (self.same_everywhere and all(k in self.invariant for k in touched)):
            self._touched, self._last_touched = None, touched
            return first
        replies = [first] + [_finish(build(v)) for v in range(1, len(self.data))]
        self._touched, self._last_touched = None, touched
        if all(r == first for r in replies):
            return first
        interned: dict[Reply, Reply] = {}
        return Geo(tuple(interned.setdefault(r, r) for r in replies))

    def answers(self, source: bytes, enc: Encoder, owner: bytes | None) -> Answers:
        """All answers for the name `source` (with `owner` set: synthesized from the wildcard `source`)."""
        present: set[int] = set()
        for data in self.data:
            present.update(data.get(source, {}))
        qtypes = set(present)
        if TYPE_CNAME in present:
            qtypes |= self.types  # the chain's end depends on the type asked for
        default = self.entry(lambda v: self.resolve(v, source, None, enc, (), owner))
        # A type that occurs at no name the chain visits answers exactly like "any other type".
        visited = set(self._last_touched)
        by_type: dict[int, Entry] = {}
        for qt in sorted(qtypes):
            if qt not in present and not any(qt in (d.get(k) or {}) for k in visited for d in self.data):
                by_type[qt] = default
                continue
            by_type[qt] = self.entry(lambda v, qt=qt: self.resolve(v, source, qt, enc, (), owner))  # type: ignore[misc]
        if source in self.invariant:  # ANY picks the same RRset in every variant: reuse its answer
            slots = self.data[0].get(source)
            if not slots:
                return Answers(by_type, default, default)
            return Answers(by_type, default, by_type[TYPE_CNAME if TYPE_CNAME in slots else min(slots)])
        return Answers(by_type, default, self.entry(lambda v: self._any(v, source, enc, owner)))

    def _any(self, v: int, key: bytes, enc: Encoder, owner: bytes | None) -> Node:
        # RFC 8482 §4.2: answer ANY with one RRset of the name (the CNAME if there is one).
        slots = self.slots(v, key)
        if not slots:
            return self.resolve(v, key, None, enc, (), owner)
        qtype = TYPE_CNAME if TYPE_CNAME in slots else min(slots)
        return self.resolve(v, key, qtype, enc, (), owner)

    def delegation_answers(self, key: bytes, enc: Encoder) -> Answers:
        referral = self.entry(lambda v: self.referral(v, key, enc))
        # DS lives in the parent side of the cut: we have none, so NODATA (RFC 4035 §3.1.4.1).
        ds = self.entry(lambda v: self._soa_leaf(v, NOERROR, enc))
        return Answers({TYPE_DS: ds}, referral, referral)

    def compile(self) -> dict[bytes, NameInfo]:
        infos: dict[bytes, NameInfo] = {}
        for key in sorted(self.union):
            if not self.in_zone(key) or self.below_cut(key, include_self=False):
                continue  # inside a child zone we serve, or glue below a delegation
            enc = Encoder(_key_labels(key))
            if key in self.cuts:
                infos[key] = NameInfo(
                    self.table, self.delegation_answers(key, enc), self.delegation_answers(key, Encoder(None))
                )
                continue
            synthesis = None
            if key.startswith(b"\x01*"):
                synthesis = self.answers(key, Encoder(None), _SYNTH_OWNER)
            infos[key] = NameInfo(self.table, self.answers(key, enc, None), None, synthesis)
        return infos


def _key_labels(key: bytes) -> Labels:
    labels = []
    pos = 0
    while True:
        length = key[pos]
        labels.append(key[pos + 1 : pos + 1 + length])
        if length == 0:
            return tuple(labels)
        pos += length + 1


def _is_at_or_below(key: bytes, apex: bytes) -> bool:
    start = len(key) - len(apex)
    if start < 0 or not key.endswith(apex):
        return False
    pos = 0
    while pos < start:  # the apex must start on a label boundary
        pos += key[pos] + 1
    return pos == start


def _ancestor_offsets(key: bytes, apex_len: int, include_self: bool = False) -> list[int]:
    """Offsets of the ancestors of `key` that are at or below the apex, nearest first."""
    offsets = [0] if include_self else []
    pos = key[0] + 1 if key[0] else len(key)
    while pos <= len(key) - apex_len:
        offsets.append(pos)
        if key[pos] == 0:
            break
        pos += key[pos] + 1
    return offsets


def _finish(node: Node) -> Reply:
    """Flatten a tree without draws into one prebuilt body."""
    parts = []
    count = 0
    while isinstance(node, Hop):
        parts.append(node.data)
        count += node.count
        node = node.next
    if isinstance(node, Choice):
        return Tree(_first_hop_tree(parts, count, node))
    leaf = node
    return Flat(
        leaf.flags, b"".join(parts) + leaf.authority + leaf.additional, count, leaf.nscount, leaf.arcount
    )


def _first_hop_tree(parts: list[bytes], count: int, choice: Choice) -> Node:
    if not parts:
        return choice
    return Hop(b"".join(parts), count, choice)


def compile_bundle(bundle: Bundle) -> Tables:
    """Compile every zone of `bundle` into answer tables. Raises BundleError naming the bad file."""
    served = frozenset(encode_name(labels_of(dns.name.from_text(z.name.rstrip(".") + "."))) for z in bundle.zones)
    names: dict[bytes, NameInfo] = {}
    zones = []
    # Shallower zones first, so a child zone's apex replaces the parent's delegation point.
    for index, zone in enumerate(sorted(bundle.zones, key=lambda z: z.name.count("."))):
        compiler = _ZoneCompiler(zone, served, index)
        names.update(compiler.compile())
        zones.append(compiler.table)
    return Tables(
        names=names,
        zones=tuple(zones),
        zones_by_key={z.key: z for z in zones},
        generation=bundle.path.name,
        content_hash=bundle.content_hash,
    )
