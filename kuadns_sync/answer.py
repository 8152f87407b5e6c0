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


class Responder:
    """Answers queries from the current tables; the server swaps `tables` and `locate` atomically."""

    def __init__(
        self,
        tables: Tables | None,
        locate: Locate | None = None,
        rng: random.Random | None = None,
        allow_transfer: Sequence[Network] = (),
    ) -> None:
        self.tables = tables
        self.locate = locate
        self.rng = rng if rng is not None else random.Random()
        self.allow_transfer = tuple(allow_transfer)
        self.rcodes = [0] * 24  # replies by RCODE (BADVERS = 16 included)
        self.variants: dict[tuple[str, str], int] = {}  # location-dependent answers by (zone, variant)
        self.dropped = 0

    # -- entry points

    def handle(self, data: bytes, source: str, tcp: bool = False) -> bytes | None:
        """Reply to one query from `source` (the packet's address); None means drop it."""
        query = parse_query(data)
        if query is None:
            self.dropped += 1
            return None
        return self.reply(query, source, tcp)

    def handle_stream(self, data: bytes, source: str) -> list[bytes]:
        """Replies to one query received over TCP: one message, or several for a zone transfer."""
        query = parse_query(data)
        if query is None:
            self.dropped += 1
            return []
        if query.error is None and query.opcode == 0 and query.qtype in (TYPE_AXFR, TYPE_IXFR):
            return self.transfer(query, source)
        reply = self.reply(query, source, True)
        return [reply] if reply is not None else []

    # -- one reply

    def reply(self, query: Query, source: str, tcp: bool) -> bytes | None:
        """The reply to a parsed query (see `handle`)."""
        if query.error is not None:
            return self._error(query, query.error)
        if query.opcode != 0:
            return self._error(query, NOTIMP)  # NOTIFY, UPDATE, ...: not for us
        tables = self.tables
        if tables is None or query.qclass != CLASS_IN:
            return self._error(query, REFUSED if tables is not None else SERVFAIL)
        qtype = query.qtype
        if qtype in (TYPE_AXFR, TYPE_IXFR):
            return self._transfer_over_udp(query, source)
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
                return self._error(query, REFUSED)  # not in any zone we serve
        scope = None
        ecs = query.ecs
        if type(entry) is Geo:
            index, scope = self._variant(zone, query, source)
            reply = entry.replies[index]
        else:
            reply = entry  # type: ignore[assignment]
            if ecs is not None:
                scope = 0  # RFC 7871 §7.2.1: the answer is valid for every client
        return self._assemble(query, reply, scope, tcp)

    def _variant(self, zone: ZoneTable, query: Query, source: str) -> tuple[int, int | None]:
        """The variant index for this client, and the ECS scope to report (None without ECS)."""
        locate = self.locate
        ecs = query.ecs
        scope = None if ecs is None else 0
        if locate is None or (ecs is not None and ecs.source == 0):
            # RFC 7871 §7.1.2: SOURCE PREFIX-LENGTH 0 asks us not to use the client's address.
            index = 0
        else:
            location = locate(ecs.address if ecs is not None else source)
            index = zone.variant_index(location.country, location.continent)
            if ecs is not None:
                scope = min(location.prefix_len, ecs.source)
        key = zone.variant_keys[index]
        self.variants[key] = self.variants.get(key, 0) + 1
        return index, scope

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
