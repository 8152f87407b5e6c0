"""NOTIFY (RFC 1996): tell secondaries that a zone's serial changed, so they transfer it now.

`notify_message` is pure (dnspython builds the message); `send_notify` does the UDP exchange with
retries. The server sends a NOTIFY for every zone whose serial a newly loaded bundle changes.
"""

from __future__ import annotations

import asyncio
import logging
import random

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype

log = logging.getLogger(__name__)

Address = tuple[str, int]
ATTEMPTS = 5  # RFC 1996 §3.6: retransmit until answered, a bounded number of times
TIMEOUT = 1.0  # seconds to wait for each attempt's response


def notify_message(zone: str, msg_id: int) -> bytes:
    """A NOTIFY for `zone` (QUESTION: zone SOA, AA set, RD clear), RFC 1996 §3.7."""
    message = dns.message.Message(id=msg_id)
    message.set_opcode(dns.opcode.NOTIFY)
    message.flags |= dns.flags.AA
    message.find_rrset(message.question, dns.name.from_text(zone), dns.rdataclass.IN, dns.rdatatype.SOA, create=True)
    return message.to_wire()


def is_notify_response(data: bytes, msg_id: int) -> bool:
    """True when `data` answers our NOTIFY `msg_id` (QR set, opcode NOTIFY)."""
    if len(data) < 12:
        return False
    flags = int.from_bytes(data[2:4], "big")
    return int.from_bytes(data[:2], "big") == msg_id and bool(flags & 0x8000) and (flags >> 11) & 0xF == 4


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, msg_id: int) -> None:
        self.msg_id = msg_id
        self.answered = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if is_notify_response(data, self.msg_id) and not self.answered.done():
            self.answered.set_result(True)


async def send_notify(target: Address, zone: str, serial: int, rng: random.Random) -> bool:
    """Send a NOTIFY for `zone` to `target`, retrying until it is acknowledged. Returns whether it was."""
    loop = asyncio.get_running_loop()
    msg_id = rng.randrange(1 << 16)
    payload = notify_message(zone, msg_id)
    transport, protocol = await loop.create_datagram_endpoint(lambda: _Exchange(msg_id), remote_addr=target)
    try:
        for _ in range(ATTEMPTS):
            transport.sendto(payload)
            try:
                await asyncio.wait_for(asyncio.shield(protocol.answered), TIMEOUT)
                log.info("NOTIFY %s serial %d acknowledged by %s:%d", zone, serial, *target)
                return True
            except TimeoutError:
                continue
    finally:
        transport.close()
    log.warning("NOTIFY %s serial %d: no answer from %s:%d after %d attempts", zone, serial, *target, ATTEMPTS)
    return False
