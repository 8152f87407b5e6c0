"""Answering: one query's bytes in, one reply's bytes out, from compiled answer tables.

Pure: no sockets, files or clock; the client locator and the random generator are injected. The hot
path is a parse, a dictionary lookup, at most one draw per routing set and a byte concatenation; the
client is located only when the answer depends on location (routing-semantics §4).
"""

from __future__ import annotations

import ipaddress
import logging
import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kuadns_sync.compile import Choice, Entry, Flat, Geo, Hop, Leaf, NameInfo, Reply, Tables, Tree, ZoneTable
from kuadns_sync.wire import (
    AA,
    CLASS_IN,
    COPIED_FLAGS,
    HEADER,
    NOTIMP,
    QR,
    REFUSED,
    SERVFAIL,
    TC,
    TYPE_ANY,
    TYPE_AXFR,
    TYPE_IXFR,
    Query,
    error_reply,
    opt_rr,
    parent_offsets,
    parse_query,
)

if TYPE_CHECKING:
    from kuadns_sync.geo import Location

log = logging.getLogger(__name__)

Locate = Callable[[str | bytes], "Location"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
TCP_MAX = 65535
TRANSFER_CHUNK = 16384  # bytes of records per AXFR message (RFC 5936 allows up to 65535)
_WILDCARD = b"\x01*"


CACHE_SIZE = 20000  # replies remembered (see Responder.handle); cleared when full or on a swap
MAX_CACHED_QUERY = 512  # longer queries (junk, big option sets) are answered but not remembered
_NOT_CACHED = 0
_BY_QUERY = 1  # the reply depends only on the query bytes after the ID
_BY_QUERY_AND_SOURCE = 2  # ... and on the packet's source address (location-dependent, no ECS)


class Responder:
    """Answers queries from the current tables; the server swaps `tables` and `locate` atomically.

    Replies that involve no draw are remembered, keyed by the query bytes after the ID (plus the
    source address when the answer depends on the client's location and no ECS says where it is),
    so a repeated question costs one dictionary lookup. Swapping tables or locator forgets them.
    """

    def __init__(
        self,
        tables: Tables | None,
        locate: Locate | None = None,
        rng: random.Random | None = None,
        allow_transfer: Sequence[Network] = (),
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._cache: dict[bytes | tuple[bytes, str], tuple[bytes, int, tuple[str, str] | None]] = {}
        self._cache_size = cache_size
        self._tables = tables
        self._locate = locate
        self.rng = rng if rng is not None else random.Random()
        self.allow_transfer = tuple(allow_transfer)
        self.rcodes = [0] * 24  # replies by RCODE (BADVERS = 16 included)
        self.variants: dict[tuple[str, str], int] = {}  # location-dependent answers by (zone, variant)
        self.dropped = 0

    @property
    def tables(self) -> Tables | None:
        """The answer tables in use (None before the first bundle)."""
        return self._tables

    @tables.setter
    def tables(self, tables: Tables | None) -> None:
        self._cache = {}  # a new dict rather than clear(): a reply in flight keeps a consistent view
        self._tables = tables

    @property
    def locate(self) -> Locate | None:
        """The client locator in use (None: every client gets the default variant)."""
        return self._locate

    @locate.setter
    def locate(self, locate: Locate | None) -> None:
        self._cache = {}
        self._locate = locate

    # -- entry points

    def handle(self, data: bytes, source: str, tcp: bool = False) -> bytes | None:
        """Reply to one query from `source` (the packet's address); None means drop it."""
        cache = self._cache
        if not tcp:
            key = data[2:]
            hit = cache.get(key)
            if hit is None:
                hit = cache.get((key, source))
            if hit is not None:
                self.rcodes[hit[1]] += 1
                variant = hit[2]
                if variant is not None:
                    self.variants[variant] = self.variants.get(variant, 0) + 1
                return data[:2] + hit[0]
        query = parse_query(data)
        if query is None:
            self.dropped += 1
            return None
        reply, mode, variant = self._reply(query, source, tcp)
        if mode and not tcp and len(data) <= MAX_CACHED_QUERY:
            if len(cache) >= self._cache_size:
                cache.clear()
            cache[data[2:] if mode == _BY_QUERY else (data[2:], source)] = (reply[2:], reply[3] & 0xF, variant)
        return reply

    def handle_stream(self, data: bytes, source: str) -> list[bytes]:
        """Replies to one query received over TCP: one message, or several for a zone transfer."""
        query = parse_query(data)
        if query is None:
            self.dropped += 1
            return []
        if query.error is None and query.opcode == 0 and query.qtype in (TYPE_AXFR, TYPE_IXFR):
            return self.transfer(query, source)
        return [self._reply(query, source, True)[0]]

    # -- one reply

    def reply(self, query: Query, source: str, tcp: bool) -> bytes:
        """The reply to a parsed query (see `handle`)."""
        return self._reply(query, source, tcp)[0]

    def _reply(self, query: Query, source: str, tcp: bool) -> tuple[bytes, int, tuple[str, str] | None]:
        if query.error is not None:
            # (BADVERS is an extended RCODE the cache's 4-bit bookkeeping cannot count: not cached)
            return self._error(query, query.error), _BY_QUERY if query.error < 16 else _NOT_CACHED, None
        if query.opcode != 0:
            return self._error(query, NOTIMP), _BY_QUERY, None  # NOTIFY, UPDATE, ...: not for us
        tables = self._tables
        if tables is None:
            return self._error(query, SERVFAIL), _NOT_CACHED, None
        if query.qclass != CLASS_IN:
            return self._error(query, REFUSED), _BY_QUERY, None
        qtype = query.qtype
        if qtype in (TYPE_AXFR, TYPE_IXFR):
            return self._transfer_over_udp(query, source), _NOT_CACHED, None
        info = tables.names.get(query.key)
        entry: Entry | None
        zone: ZoneTable | None
        if info is not None:
            answers = info.answers
            entry = answers.any if qtype == TYPE_ANY else answers.by_type.get(qtype, answers.default)
            zone = info.zone
        else:
            entry, zone = _lookup_missing(tables, query.key, qtype)
            if entry is None or zone is None:
                return self._error(query, REFUSED), _BY_QUERY, None  # not in any zone we serve
        ecs = query.ecs
        if type(entry) is Geo:
            index, scope, mode = self._variant(zone, query, source)
            chosen = zone.variant_keys[index]
            self.variants[chosen] = self.variants.get(chosen, 0) + 1
            variant: tuple[str, str] | None = chosen
            reply: Reply = entry.replies[index]
        else:
            reply = entry  # type: ignore[assignment]
            variant = None
            mode = _BY_QUERY
            scope = None if ecs is None else 0  # RFC 7871 §7.2.1: valid for every client
        if type(reply) is not Flat:
            mode = _NOT_CACHED  # a weighted draw: every reply is drawn afresh
        return self._assemble(query, reply, scope, tcp), mode, variant

    def _variant(self, zone: ZoneTable, query: Query, source: str) -> tuple[int, int | None, int]:
        """Variant index for this client, the ECS scope to report (None without ECS), and the cache mode."""
        locate = self._locate
        ecs = query.ecs
        if ecs is None:
            if locate is None:
                return 0, None, _BY_QUERY
            location = locate(source)
            return zone.variant_index(location.country, location.continent), None, _BY_QUERY_AND_SOURCE
        if locate is None or ecs.source == 0:
            # RFC 7871 §7.1.2: SOURCE PREFIX-LENGTH 0 asks us not to use the client's address.
            return 0, 0, _BY_QUERY
        location = locate(ecs.address)
        index = zone.variant_index(location.country, location.continent)
        return index, min(location.prefix_len, ecs.source), _BY_QUERY

    def _assemble(self, query: Query, reply: Reply, scope: int | None, tcp: bool) -> bytes:
        if type(reply) is Flat:
            flags = reply.flags
            body = reply.body
            ancount = reply.ancount
            nscount = reply.nscount
            arcount = reply.arcount
        else:
            flags, body, ancount, nscount, arcount = self._walk(reply)  # type: ignore[arg-type]
        flags |= query.flags & COPIED_FLAGS
        opt = b""
        if query.edns:
            opt = opt_rr(query, 0, scope)
            arcount += 1
        self.rcodes[flags & 0xF] += 1
        message = query.id + HEADER.pack(flags, 1, ancount, nscount, arcount) + query.question + body + opt
        if len(message) > (TCP_MAX if tcp else query.udp_size):
            # RFC 2181 §9 / RFC 6891 §7: TC=1 and no records; the client retries over TCP.
            return query.id + HEADER.pack(flags | TC, 1, 0, 0, 1 if opt else 0) + query.question + opt
        return message

    def _walk(self, tree: Tree) -> tuple[int, bytes, int, int, int]:
        node = tree.root
        parts = []
        ancount = 0
        rng = self.rng
        while True:
            kind = type(node)
            if kind is Hop:
                parts.append(node.data)  # type: ignore[union-attr]
                ancount += node.count  # type: ignore[union-attr]
                node = node.next  # type: ignore[union-attr]
            elif kind is Choice:
                index = bisect_right(node.cumulative, rng.random() * node.total)  # type: ignore[union-attr]
                if index > node.last:  # type: ignore[union-attr]
                    index = node.last  # type: ignore[union-attr]
                node = node.members[index]  # type: ignore[union-attr]
            else:
                leaf: Leaf = node  # type: ignore[assignment]
                parts.append(leaf.authority)
                parts.append(leaf.additional)
                return leaf.flags, b"".join(parts), ancount, leaf.nscount, leaf.arcount

    def _error(self, query: Query, rcode: int) -> bytes:
        self.rcodes[rcode] += 1
        return error_reply(query, rcode)

    # -- zone transfer (RFC 5936; IXFR answered as AXFR, RFC 1995 §4)

    def transfer_allowed(self, source: str) -> bool:
        """True if `source` may transfer zones (`--allow-transfer`)."""
        try:
            address = ipaddress.ip_address(source.partition("%")[0])
        except ValueError:
            return False
        return any(address in network for network in self.allow_transfer)

    def _transfer_over_udp(self, query: Query, source: str) -> bytes:
        tables = self.tables
        zone = tables.zones_by_key.get(query.key) if tables is not None else None
        if zone is None or query.qtype == TYPE_AXFR or not self.transfer_allowed(source):
            return self._error(query, REFUSED)
        # RFC 1995 §2: an IXFR over UDP that cannot be answered in full gets the current SOA only.
        records = zone.transfer_records()
        flags = QR | AA | (query.flags & COPIED_FLAGS)
        self.rcodes[0] += 1
        return query.id + HEADER.pack(flags, 1, 1, 0, 0) + query.question + records[0]

    def transfer(self, query: Query, source: str) -> list[bytes]:
        """AXFR messages for the default variant of the zone at the query name, or one REFUSED."""
        tables = self.tables
        zone = tables.zones_by_key.get(query.key) if tables is not None else None
        if zone is None or query.qclass != CLASS_IN or not self.transfer_allowed(source):
            return [self._error(query, REFUSED)]
        records = zone.transfer_records()
        flags = QR | AA | (query.flags & COPIED_FLAGS)
        opt = opt_rr(query, 0, 0 if query.ecs is not None else None) if query.edns else b""
        messages = []
        chunk: list[bytes] = []
        size = 0
        for record in records:
            if chunk and size + len(record) > TRANSFER_CHUNK:
                messages.append(_transfer_message(query, flags, chunk, opt))
                chunk, size = [], 0
            chunk.append(record)
            size += len(record)
        messages.append(_transfer_message(query, flags, chunk, opt))
        self.rcodes[0] += 1
        log.info("AXFR of %s (serial %d) to %s: %d records", zone.name, zone.serial, source, len(records))
        return messages


def _transfer_message(query: Query, flags: int, records: list[bytes], opt: bytes) -> bytes:
    # Every message repeats the question, so name pointers to it (offset 12) stay valid.
    header = HEADER.pack(flags, 1, len(records), 0, 1 if opt else 0)
    return query.id + header + query.question + b"".join(records) + opt


def lookup(tables: Tables, key: bytes, qtype: int) -> tuple[Entry, ZoneTable] | None:
    """The compiled answer for (name key, type) and its zone; None when no zone of ours holds the name."""
    info = tables.names.get(key)
    if info is not None:
        answers = info.answers
        return (answers.any if qtype == TYPE_ANY else answers.by_type.get(qtype, answers.default)), info.zone
    entry, zone = _lookup_missing(tables, key, qtype)
    return (entry, zone) if entry is not None and zone is not None else None


def _lookup_missing(tables: Tables, key: bytes, qtype: int) -> tuple[Entry | None, ZoneTable | None]:
    """Answer for a name that does not exist: referral, wildcard synthesis (RFC 4592) or NXDOMAIN."""
    names = tables.names
    for offset in parent_offsets(key):
        ancestor = key[offset:]
        info: NameInfo | None = names.get(ancestor)
        if info is None:
            continue
        zone = info.zone
        if info.delegation is not None:
            return info.delegation.default, zone  # below a delegation point: refer
        # `ancestor` is the closest encloser; its wildcard child, if any, is the source of synthesis.
        wildcard = names.get(_WILDCARD + ancestor)
        if wildcard is not None and wildcard.synthesis is not None:
            answers = wildcard.synthesis
            return (answers.any if qtype == TYPE_ANY else answers.by_type.get(qtype, answers.default)), zone
        return zone.nxdomain(12 + len(key) - len(zone.key)), zone
    return None, None
