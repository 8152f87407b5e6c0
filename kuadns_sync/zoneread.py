"""Reading a bundle's zone texts into records: every variant of a zone, with its routing sets applied.

Pure, no I/O (texts in, records out). The rendered layout is read line by line with each distinct rdata
text parsed once by dnspython; other master-file syntax falls back to dnspython's parser. Variants are
read as the default plus/minus their differing lines. Bad input raises BundleError naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

from kuadns_sync.bundle import RoutingMember, ZoneBundle
from kuadns_sync.errors import BundleError
from kuadns_sync.wire import TYPE_NS, TYPE_SOA, encode_name

Labels = tuple[bytes, ...]
Records = dict[tuple[bytes, int], tuple[int, list[dns.rdata.Rdata]]]
"""(owner key, type) -> (TTL, rdatas): the records of one zone text."""

# id(name) -> (name, labels): the entry keeps the name alive, so its id cannot be reused meanwhile
# (hashing dns.name.Name objects is what made a plain dict cache slow).
_LABEL_CACHE: dict[int, tuple[dns.name.Name, Labels]] = {}


def labels_of(name: dns.name.Name) -> Labels:
    """The lower-cased labels of a name (root label last); memoised, names repeat a lot in a zone."""
    cached = _LABEL_CACHE.get(id(name))
    if cached is not None and cached[0] is name:
        return cached[1]
    if len(_LABEL_CACHE) > 200000:
        _LABEL_CACHE.clear()
    labels = tuple(label.lower() for label in name.labels)
    _LABEL_CACHE[id(name)] = (name, labels)
    return labels


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a routing set (or the only member of a plain RRset): TTL, rdatas, weight, set id."""

    ttl: int
    rdatas: tuple[dns.rdata.Rdata, ...]
    weight: int = 1
    label: str = ""


@dataclass(frozen=True, slots=True)
class Slot:
    """The records at one (name, type) in one variant: a plain RRset (routed=False, one member) or a routing set."""

    members: tuple[Member, ...]
    routed: bool


VariantData = dict[bytes, dict[int, Slot]]


class VariantParser:
    """Parses the variants of one zone. Variants differ in a few lines, so a variant whose differing
    lines are self-contained is built from the default's records plus/minus just those lines."""

    def __init__(self, zone: ZoneBundle, origin: dns.name.Name) -> None:
        self.zone = zone
        self.origin = origin
        self.reader = ZoneReader(origin)
        self.default_records: Records = {}
        self._default_lines: list[str] | None = None

    def variant(self, variant: str) -> VariantData:
        """The records of one variant (the default first), routing sets applied."""
        where = f"zones/{self.zone.name}/{variant}.zone"
        text = self.zone.zone_texts[variant]
        lines = text.splitlines()
        records = None
        if self._default_lines is None:
            self._default_lines = lines
            self.default_records = records = self.reader.read(text, where, check_origin=True)
        else:
            records = self._from_default(lines, where)
            if records is None:
                records = self.reader.read(text, where, check_origin=True)
        data: VariantData = {}
        for (key, rdtype), (ttl, rdatas) in records.items():
            data.setdefault(key, {})[rdtype] = Slot((Member(ttl, tuple(rdatas)),), False)
        self._apply_routing(variant, data)
        return data

    def _from_default(self, lines: list[str], where: str) -> Records | None:
        assert self._default_lines is not None
        header = _directives(self._default_lines)
        if header is None or _directives(lines) != header:
            return None
        mine, theirs = set(lines), set(self._default_lines)
        added, removed = sorted(mine - theirs), sorted(theirs - mine)
        if not all(_self_contained(line) for line in added + removed):
            return None  # context-dependent lines (continuations, parentheses, $ directives): read it all
        records = {k: (ttl, list(rdatas)) for k, (ttl, rdatas) in self.default_records.items()}
        prefix = "\n".join(header) + "\n"
        for (key, rdtype), (_, rdatas) in self.reader.read(prefix + "\n".join(removed), where).items():
            ttl, current = records.get((key, rdtype), (0, []))
            kept = [rd for rd in current if rd not in rdatas]
            if kept:
                records[(key, rdtype)] = (ttl, kept)
            else:
                records.pop((key, rdtype), None)
        for (key, rdtype), (ttl, rdatas) in self.reader.read(prefix + "\n".join(added), where).items():
            _, current = records.get((key, rdtype), (ttl, []))
            records[(key, rdtype)] = (ttl, current + [rd for rd in rdatas if rd not in current])
        _check_origin(records, self.reader.apex, where)
        return records

    def _apply_routing(self, variant: str, data: VariantData) -> None:
        zone = self.zone
        for owner, types in zone.routing.get(variant, {}).items():
            try:
                name = dns.name.from_text(owner.rstrip(".") + ".")
            except dns.exception.DNSException as exc:
                raise BundleError(f"zones/{zone.name}/routing.json: {variant}: bad name {owner!r}: {exc}") from exc
            if not name.is_subdomain(self.origin):
                raise BundleError(f"zones/{zone.name}/routing.json: {variant}: {owner} is outside the zone")
            key = encode_name(labels_of(name))
            for type_text, members in types.items():
                data.setdefault(key, {})[_rdtype(type_text, zone, variant)] = self._routed_slot(
                    members, type_text, f"zones/{zone.name}/routing.json: {variant} {owner} {type_text}"
                )

    def _routed_slot(self, members: Iterable[RoutingMember], type_text: str, where: str) -> Slot:
        rdtype = int(dns.rdatatype.from_text(type_text))
        out = []
        for member in members:
            if member.weight < 0 or not member.rdata:
                raise BundleError(f"{where}: member {member.set!r} has a negative weight or no rdata")
            rdatas = [self.reader.rdata(rdtype, text, f"{where}: member {member.set!r}") for text in member.rdata]
            out.append(Member(member.ttl, tuple(rdatas), member.weight, member.set))
        if not out:
            raise BundleError(f"{where}: empty routing set")
        return Slot(tuple(out), True)


class ZoneReader:
    """Reads zone texts into Records. The rendered layout (`owner ttl IN TYPE rdata`, one record a line,
    parenthesised SOA) is read directly, each distinct rdata text parsed once by dnspython; anything
    else falls back to dnspython's full master-file parser. Raises BundleError naming the file."""

    def __init__(self, origin: dns.name.Name) -> None:
        self.origin = origin
        self.apex = encode_name(labels_of(origin))
        self.suffix = origin.to_text().lower()  # "k.example.com."
        self._rdatas: dict[tuple[int, str], dns.rdata.Rdata] = {}
        self._types: dict[str, int] = {}

    def read(self, text: str, where: str, check_origin: bool = False) -> Records:
        """The records of `text`; with check_origin, SOA and NS must be at the apex."""
        records = self._fast(text, where)
        if records is None:
            records = self._slow(text, where)
        if check_origin:
            _check_origin(records, self.apex, where)
        return records

    def rdata(self, rdtype: int, text: str, where: str) -> dns.rdata.Rdata:
        """One rdata from presentation text (names absolute or relative to the origin)."""
        rdata = self._rdatas.get((rdtype, text))
        if rdata is None:
            kind = dns.rdatatype.RdataType(rdtype)
            try:
                rdata = dns.rdata.from_text(dns.rdataclass.IN, kind, text, origin=self.origin, relativize=False)
            except (dns.exception.DNSException, ValueError) as exc:
                raise BundleError(f"{where}: bad {dns.rdatatype.to_text(kind)} rdata {text!r}: {exc}") from exc
            self._rdatas[(rdtype, text)] = rdata
        return rdata

    def _slow(self, text: str, where: str) -> Records:
        try:
            zone = dns.zone.from_text(text, origin=self.origin, relativize=False, check_origin=False)
        except (dns.exception.DNSException, KeyError, ValueError) as exc:
            raise BundleError(f"{where}: not a valid zone: {exc}") from exc
        out: Records = {}
        for name, rdataset in zone.iterate_rdatasets():
            if rdataset.rdclass == dns.rdataclass.IN:
                out[(encode_name(labels_of(name)), int(rdataset.rdtype))] = (rdataset.ttl, list(rdataset))
        return out

    def _key(self, owner: str) -> bytes | None:
        if owner == "@":
            return self.apex
        name = owner.lower()
        if name.endswith("."):
            if not (name == self.suffix or name.endswith("." + self.suffix)):
                return None
        else:
            name = f"{name}.{self.suffix}"
        if "\\" in name or not name.isascii() or len(name) > 254:
            return None
        labels = name[:-1].split(".")
        if any(not label or len(label) > 63 for label in labels):
            return None
        return encode_name(tuple(label.encode() for label in labels) + (b"",))

    def _fast(self, text: str, where: str) -> Records | None:
        out: Records = {}
        pending: list[str] = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = strip_comment(raw)
            if line is None:
                return None
            if pending or "(" in line:
                pending.append(line)
                if ")" not in line:
                    continue
                line = " ".join(pending).replace("(", " ").replace(")", " ")
                pending = []
            if not line.strip():
                continue
            if line.startswith("$"):
                parts = line.split()
                if parts[0] == "$TTL" and len(parts) == 2 and parts[1].isdigit():
                    continue
                if parts[0] == "$ORIGIN" and len(parts) == 2 and parts[1].lower() == self.suffix:
                    continue
                return None
            if line[0].isspace():
                return None  # the owner of the previous line: leave that to dnspython
            parts = line.split(None, 4)
            if len(parts) != 5 or not parts[1].isdigit() or parts[2].upper() != "IN" or '"' in parts[0]:
                return None
            key = self._key(parts[0])
            rdtype = self._types.get(parts[3])
            if rdtype is None:
                try:
                    rdtype = self._types[parts[3]] = int(dns.rdatatype.from_text(parts[3]))
                except dns.exception.DNSException:
                    return None
            if key is None:
                return None
            rdata = self.rdata(rdtype, parts[4].strip(), f"{where}:{number}")
            ttl = int(parts[1])
            current = out.get((key, rdtype))
            if current is None:
                out[(key, rdtype)] = (ttl, [rdata])
            elif rdata not in current[1]:
                current[1].append(rdata)
                out[(key, rdtype)] = (min(ttl, current[0]), current[1])  # one TTL per RRset (RFC 2181 §5.2)
        return None if pending else out


def strip_comment(line: str) -> str | None:
    """`line` without its comment; None if the quoting is too unusual for the fast reader."""
    if '"' not in line:
        return line.split(";", 1)[0].rstrip()
    quoted = False
    escaped = False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return line[:i].rstrip()
        elif char in "()" and quoted:
            return None
    return None if quoted else line.rstrip()


def _check_origin(records: Records, apex: bytes, where: str) -> None:
    for rdtype, label in ((TYPE_SOA, "SOA"), (TYPE_NS, "NS")):
        if (apex, rdtype) not in records:
            raise BundleError(f"{where}: not a valid zone: no {label} RRset at the zone apex")


def _directives(lines: list[str]) -> list[str] | None:
    """The leading `$` lines of a zone text; None if a `$` line appears after the first record."""
    header = []
    seen_record = False
    for line in lines:
        if line.startswith("$"):
            if seen_record:
                return None
            header.append(line)
        elif line.strip() and not line.lstrip().startswith(";"):
            seen_record = True
    return header


def _self_contained(line: str) -> bool:
    """A line that means the same wherever it stands: a full record (or a comment/blank line)."""
    stripped = line.strip()
    if not stripped or stripped.startswith(";"):
        return True
    return not line[0].isspace() and not line.startswith("$") and "(" not in line and ")" not in line


def _rdtype(text: str, zone: ZoneBundle, variant: str) -> int:
    try:
        return int(dns.rdatatype.from_text(text))
    except dns.exception.DNSException as exc:
        raise BundleError(f"zones/{zone.name}/routing.json: {variant}: unknown type {text!r}") from exc
