"""One HTTP/1.1 connection as a byte stream: buffered reads (lines, whole message heads, exact lengths) and
coalesced writes. Both ends of pipelining (RFC 9112 §9.3) use it: the emulator's server side
(`kuadns_sync.dev.http`: answers are queued while the next request is already here and leave together, and
always before the server waits for more input, so a client waiting for them is never stuck) and the sync
loop's pipelined writes (`kuadns_sync.kube.pipe`, which reads answers with it and sends on the socket).

I/O: recv and send on the socket it is given (plain or TLS), nothing else.
"""

from __future__ import annotations

import socket
import ssl

RECV_SIZE = 65536
MAX_QUEUED = 65536  # bytes of answers held back at most (then they are sent even if more requests wait)


class Connection:
    """Reads and writes of one connection (one thread uses it; the file-like names are what the stdlib's
    request handler calls)."""

    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self._out: list[bytes] = []
        self._queued = 0
        self.closed = False

    # --- reading -------------------------------------------------------------------------------------------

    def fill(self) -> bool:
        """Wait for more input, after sending the queued answers; False at the end of the stream."""
        if self._out:
            self.flush()
        data = self._sock.recv(RECV_SIZE)
        if not data:
            return False
        self._buf = data if self._pos >= len(self._buf) else self._buf[self._pos :] + data
        self._pos = 0
        return True

    def buffered(self) -> int:
        """Bytes received and not read yet."""
        return len(self._buf) - self._pos

    def readline(self, limit: int) -> bytes:
        """Up to and including the next b"\\n", at most `limit` bytes (less at the end of the stream)."""
        while True:
            buf, pos = self._buf, self._pos
            end = buf.find(b"\n", pos, pos + limit)
            if end >= 0:
                self._pos = end + 1
                return buf[pos : end + 1]
            if len(buf) - pos >= limit:
                self._pos = pos + limit
                return buf[pos : pos + limit]
            if not self.fill():
                self._pos = len(self._buf)
                return self._buf[pos:]

    def take_head(self, limit: int) -> bytes | None:
        """A whole message head that is already buffered, without its final CRLF CRLF, when it is shorter
        than `limit` and all its lines end in CRLF; None otherwise (nothing is consumed then)."""
        buf, pos = self._buf, self._pos
        end = buf.find(b"\r\n\r\n", pos, pos + limit)
        if end < 0:
            return None
        head = buf[pos:end]
        # A bare LF also ends a line for the line-by-line reader: leave such heads to it.
        if head.count(b"\n") != head.count(b"\r\n"):
            return None
        self._pos = end + 4
        return head

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes (less at the end of the stream)."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos >= size:
            self._pos = pos + size
            return buf[pos : pos + size]
        parts = [buf[pos:]]
        have = len(parts[0])
        self._buf, self._pos = b"", 0
        while have < size:
            if self._out:
                self.flush()
            data = self._sock.recv(max(RECV_SIZE, size - have))
            if not data:
                break
            parts.append(data)
            have += len(data)
        data = b"".join(parts)
        if have > size:  # the start of the next request
            self._buf, data = data[size:], data[:size]
        return data

    # --- writing -------------------------------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        """Queue `data`: it is sent with the next flush, before the next wait for input, or once much is queued."""
        self._out.append(data)
        self._queued += len(data)
        if self._queued >= MAX_QUEUED or not self.buffered():
            self.flush()
        return len(data)

    def flush(self) -> None:
        """Send everything queued (one send call)."""
        if not self._out:
            return
        data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        self._queued = 0
        self._sock.sendall(data)

    def close(self) -> None:
        """Forget the buffers (the socket is closed by its owner)."""
        self._out.clear()
        self._buf, self._pos = b"", 0
        self.closed = True
