"""DNS wire format for the server's hot path: parse one query from bytes, build small replies and OPT RRs.

Pure, no I/O, no dnspython: slicing and struct only. `parse_query` never raises: an unreadable header
gives None (drop), anything else malformed gives a Query whose `error` is FORMERR (RFC 1035 §4.1.1).
"""

from __future__ import annotations

import struct

# RCODEs (RFC 1035 §4.1.1, RFC 6891 §9 for the extended BADVERS).
NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4
REFUSED = 5
BADVERS = 16
RCODE_NAMES: dict[int, str] = {
    NOERROR: "NOERROR",
    FORMERR: "FORMERR",
    SERVFAIL: "SERVFAIL",
    NXDOMAIN: "NXDOMAIN",
    NOTIMP: "NOTIMP",
    REFUSED: "REFUSED",
    BADVERS: "BADVERS",
}

# Header flag bits (RFC 1035 §4.1.1; AD/CD from RFC 4035 §3.1.6).
QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100
CD = 0x0010
COPIED_FLAGS = RD | CD  # copied from the query; RA stays 0 (no recursion, ever)

# Types and classes we look at.
TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_AAAA = 28
TYPE_OPT = 41
TYPE_DS = 43
TYPE_IXFR = 251
TYPE_AXFR = 252
TYPE_ANY = 255
CLASS_IN = 1

OPT_ECS = 8  # EDNS Client Subnet (RFC 7871)
OUR_UDP_SIZE = 1232  # DNS flag day 2020 recommendation; also what we advertise
MIN_UDP_SIZE = 512  # RFC 6891 §6.2.5: values below 512 are treated as 512
MAX_NAME_WIRE = 255

HEADER = struct.Struct("!HHHHH")  # flags, qdcount, ancount, nscount, arcount (the ID is copied as bytes)
_RR_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_U16 = struct.Struct("!H")
_ECS_HEAD = struct.Struct("!HBB")


class Query:
    """One parsed query. `key` is the lower-cased wire qname (dictionary key); `question` the raw
    question bytes (name in the client's case, type, class) echoed in the reply (0x20, draft-vixie-dnsext-dns0x20).

    Rarely set fields are class attributes (defaults), so the hot path assigns only what a plain query has.
    """

    edns = False
    udp_size = MIN_UDP_SIZE
    version = 0
    do = False
    ecs: Ecs | None = None
    error: int | None = None

    def __init__(
        self, qid: bytes, flags: int, qname: bytes = b"", qtype: int = 0, qclass: int = 0, question: bytes = b""
    ) -> None:
        self.id = qid
        self.flags = flags
        self.opcode = (flags >> 11) & 0xF
        self.qname = qname
        self.key = qname.lower()  # label lengths are <= 63 < ord("A"): lower() only touches letters
        self.qtype = qtype
        self.qclass = qclass
        self.question = question  # empty when no question could be read


class Ecs:
    """An EDNS Client Subnet option from a query: family (1 IPv4, 2 IPv6), source prefix, address
    padded to full length (packed), and the address bytes exactly as sent (echoed back)."""

    __slots__ = ("family", "source", "address", "raw")

    def __init__(self, family: int, source: int, address: bytes, raw: bytes) -> None:
        self.family = family
        self.source = source
        self.address = address
        self.raw = raw


def _name_end(data: bytes, pos: int, allow_pointers: bool) -> int:
    """Offset just after the name at `pos`; raises ValueError on a malformed or too long name."""
    n = len(data)
    start = pos
    while True:
        if pos >= n:
            raise ValueError("name runs past the end")
        length = data[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0 == 0xC0:
            if not allow_pointers or pos + 2 > n:
                raise ValueError("compression pointer in question")
            return pos + 2
        if length > 63:
            raise ValueError("unknown label type")
        pos += length + 1
    if pos - start > MAX_NAME_WIRE:
        raise ValueError("name longer than 255 octets")
    return pos


def _parse_opt(query: Query, data: bytes, pos: int, end: int, klass: int, ttl: int) -> None:
    query.edns = True
    query.udp_size = min(max(klass, MIN_UDP_SIZE), OUR_UDP_SIZE)
    query.version = (ttl >> 16) & 0xFF
    query.do = bool(ttl & 0x8000)
    while pos < end:
        if pos + 4 > end:
            raise ValueError("truncated EDNS option")
        code, length = struct.unpack_from("!HH", data, pos)
        pos += 4
        if pos + length > end:
            raise ValueError("EDNS option runs past the OPT RR")
        if code == OPT_ECS:
            query.ecs = _parse_ecs(data[pos : pos + length])
        pos += length


def _parse_ecs(option: bytes) -> Ecs:
    # RFC 7871 §6: unknown family, a prefix longer than the address, too many address octets or
    # non-zero bits beyond the source prefix are all FORMERR.
    if len(option) < 4:
        raise ValueError("ECS option too short")
    family, source, _scope = _ECS_HEAD.unpack_from(option)
    raw = option[4:]
    if family == 1:
        full = 4
    elif family == 2:
        full = 16
    else:
        raise ValueError("ECS family not IPv4/IPv6")
    if source > full * 8 or len(raw) != (source + 7) // 8:
        raise ValueError("ECS address length does not match its source prefix")
    if source % 8 and raw[-1] & (0xFF >> (source % 8)):
        raise ValueError("ECS address has bits set beyond its source prefix")
    return Ecs(family, source, raw + bytes(full - len(raw)), raw)


_PLAIN_COUNTS = b"\x00\x01\x00\x00\x00\x00\x00\x00"  # one question, nothing else
_OPT_COUNTS = b"\x00\x01\x00\x00\x00\x00\x00\x01"  # one question and (usually) an OPT RR


def parse_query(data: bytes) -> Query | None:
    """Parse a query. None: unreadable header or a response (dropped); `error` set: answer that RCODE."""
    if len(data) < 12 or data[2] & 0x80:
        return None  # too short for a header, or a response: never answer one (reflection loops)
    counts = data[4:12]
    if counts in (_PLAIN_COUNTS, _OPT_COUNTS):
        query = _parse_common(data, counts == _OPT_COUNTS)
        if query is not None:
            return query
    return _parse_general(data)


def _parse_common(data: bytes, with_opt: bool) -> Query | None:
    """Fast path for the two usual shapes; None sends anything unusual to the general parser."""
    try:
        pos = 12
        length = data[12]
        while length:
            if length > 63:
                return None
            pos += length + 1
            length = data[pos]
        end = pos + 1
        if end > 12 + MAX_NAME_WIRE:
            return None
        qend = end + 4
        size = len(data)
        if qend > size:
            return None
        query = Query(
            data[:2],
            (data[2] << 8) | data[3],
            data[12:end],
            (data[end] << 8) | data[end + 1],
            (data[end + 2] << 8) | data[end + 3],
            data[12:qend],
        )
        if not with_opt:
            return query if qend == size else None
        # Root owner and type OPT, then class (UDP size), TTL (ext-rcode, version, flags), rdlength.
        if qend + 11 > size or data[qend] != 0 or data[qend + 1] != 0 or data[qend + 2] != TYPE_OPT:
            return None
        _, klass, ttl, rdlength = _RR_FIXED.unpack_from(data, qend + 1)
        if qend + 11 + rdlength != size:
            return None
        _parse_opt(query, data, qend + 11, size, klass, ttl)
        if query.version > 0:
            query.error = BADVERS  # RFC 6891 §6.1.3
        return query
    except (IndexError, ValueError, struct.error):
        return None


def _parse_general(data: bytes) -> Query:
    flags = (data[2] << 8) | data[3]
    query = Query(data[:2], flags)
    qdcount, ancount, nscount, arcount = struct.unpack_from("!HHHH", data, 4)
    if qdcount != 1:
        query.error = FORMERR
        return query
    try:
        end = _name_end(data, 12, allow_pointers=False)
        if end + 4 > len(data):
            raise ValueError("truncated question")
        qtype, qclass = struct.unpack_from("!HH", data, end)
        query = Query(data[:2], flags, data[12:end], qtype, qclass, data[12 : end + 4])
        pos = end + 4
        seen_opt = False
        for index in range(ancount + nscount + arcount):
            name_start = pos
            pos = _name_end(data, pos, allow_pointers=True)
            if pos + 10 > len(data):
                raise ValueError("truncated resource record")
            rtype, klass, ttl, rdlength = _RR_FIXED.unpack_from(data, pos)
            pos += 10
            if pos + rdlength > len(data):
                raise ValueError("truncated RDATA")
            if rtype == TYPE_OPT:
                # RFC 6891 §6.1.1: one OPT, owner is the root, only in the additional section.
                if seen_opt or index < ancount + nscount or data[name_start] != 0:
                    raise ValueError("misplaced or repeated OPT RR")
                seen_opt = True
                _parse_opt(query, data, pos, pos + rdlength, klass, ttl)
            pos += rdlength
        if pos != len(data):
            raise ValueError("trailing bytes after the last section")
    except (ValueError, struct.error):
        query.error = FORMERR
        return query
    if query.edns and query.version > 0:
        query.error = BADVERS  # RFC 6891 §6.1.3
    return query


def opt_rr(query: Query, rcode: int, scope: int | None) -> bytes:
    """The OPT RR of a reply: our UDP size, extended RCODE bits, version 0, DO copied (RFC 3225 §3),
    and the query's ECS option echoed with SCOPE PREFIX-LENGTH `scope` (RFC 7871 §7.2.1)."""
    ttl = ((rcode >> 4) << 24) | (0x8000 if query.do else 0)
    options = b""
    ecs = query.ecs
    if ecs is not None and scope is not None:
        body = _ECS_HEAD.pack(ecs.family, ecs.source, scope) + ecs.raw
        options = _U16.pack(OPT_ECS) + _U16.pack(len(body)) + body
    return b"\x00" + _RR_FIXED.pack(TYPE_OPT, OUR_UDP_SIZE, ttl, len(options)) + options


def error_reply(query: Query, rcode: int, *, aa: bool = False) -> bytes:
    """A reply with no records: the question (if it was readable), an OPT if the query had one."""
    flags = QR | (query.opcode << 11) | (query.flags & COPIED_FLAGS) | (AA if aa else 0) | (rcode & 0xF)
    opt = b""
    if query.edns and rcode != FORMERR:
        scope = 0 if query.ecs is not None else None
        opt = opt_rr(query, rcode, scope)
    question = query.question
    return (
        query.id
        + HEADER.pack(flags, 1 if question else 0, 0, 0, 1 if opt else 0)
        + question
        + opt
    )


def servfail_for(data: bytes) -> bytes | None:
    """SERVFAIL for a packet whose handling failed unexpectedly (None when the header is unreadable)."""
    query = parse_query(data)
    if query is None:
        return None
    return error_reply(query, SERVFAIL)


def encode_name(labels: tuple[bytes, ...]) -> bytes:
    """Uncompressed wire form of a name given as labels (the root label b"" last)."""
    return b"".join(bytes((len(label),)) + label for label in labels)


def name_labels(wire: bytes) -> tuple[bytes, ...]:
    """Labels of an uncompressed wire name (the root label b"" last)."""
    labels = []
    pos = 0
    while True:
        length = wire[pos]
        labels.append(wire[pos + 1 : pos + 1 + length])
        if length == 0:
            return tuple(labels)
        pos += length + 1


def parent_offsets(wire: bytes) -> list[int]:
    """Offsets of each proper ancestor of an uncompressed wire name, nearest first (root included)."""
    offsets = []
    pos = wire[0] + 1
    while pos < len(wire):
        offsets.append(pos)
        if wire[pos] == 0:
            break
        pos += wire[pos] + 1
    return offsets
