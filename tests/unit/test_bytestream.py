"""`kuadns_sync.bytestream.Connection` on a real socket pair: lines with limits, whole heads only when
buffered whole and CRLF-only, exact reads across many receives, and answers queued while the next request is
already buffered but always sent before the connection waits for input."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from kuadns_sync.bytestream import MAX_QUEUED, Connection


@pytest.fixture
def pair() -> Iterator[tuple[Connection, socket.socket]]:
    server, client = socket.socketpair()
    server.settimeout(5)
    client.settimeout(5)
    with server, client:
        yield Connection(server), client


def test_readline_honours_the_limit_and_returns_the_rest_at_the_end(pair: tuple[Connection, socket.socket]) -> None:
    conn, client = pair
    client.sendall(b"abc\nlonger line\nrest")
    client.shutdown(socket.SHUT_WR)
    assert conn.readline(100) == b"abc\n"
    assert conn.readline(4) == b"long"
    assert conn.readline(100) == b"er line\n"
    assert conn.readline(100) == b"rest"
    assert conn.readline(100) == b""


def test_a_head_is_taken_whole_only_when_buffered_whole_with_crlf_line_ends(
    pair: tuple[Connection, socket.socket],
) -> None:
    conn, client = pair
    client.sendall(b"GET / HTTP/1.1\r\nA: b\r\n")
    assert conn.fill()
    assert conn.take_head(8192) is None  # not complete yet: nothing consumed
    client.sendall(b"\r\nGET /x HTTP/1.1\nA: b\r\n\r\n")
    assert conn.fill()
    assert conn.take_head(10) is None  # longer than the limit
    assert conn.take_head(8192) == b"GET / HTTP/1.1\r\nA: b"
    assert conn.take_head(8192) is None  # a bare LF ends a line: left to readline
    assert conn.readline(100) == b"GET /x HTTP/1.1\n"


def test_read_returns_exact_sizes_across_receives_and_keeps_what_follows(
    pair: tuple[Connection, socket.socket],
) -> None:
    conn, client = pair
    payload = bytes(range(256)) * 2000  # 512,000 bytes: many receives
    sender = threading.Thread(target=client.sendall, args=(b"HEAD\n" + payload + b"NEXT\n",))
    sender.start()
    assert conn.readline(100) == b"HEAD\n"
    assert conn.read(len(payload)) == payload
    assert conn.readline(100) == b"NEXT\n"
    sender.join()
    client.shutdown(socket.SHUT_WR)
    assert conn.read(10) == b""


def test_answers_wait_while_input_is_buffered_and_leave_before_a_wait_for_input(
    pair: tuple[Connection, socket.socket],
) -> None:
    conn, client = pair
    client.sendall(b"one\ntwo\n")
    assert conn.readline(100) == b"one\n"
    conn.write(b"answer one;")  # "two" is already here: queued
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)
    assert conn.readline(100) == b"two\n"
    conn.write(b"answer two;")  # nothing buffered any more: sent at once, with the queued one
    client.settimeout(5)
    assert client.recv(100) == b"answer one;answer two;"
    client.sendall(b"three\nfour")
    assert conn.readline(100) == b"three\n"
    conn.write(b"answer three;")  # "four" is buffered: queued ...
    client.sendall(b"\n")
    assert conn.readline(100) == b"four\n"  # ... and sent before the wait for the rest of "four"
    assert client.recv(100) == b"answer three;"


def test_much_queued_output_is_sent_without_waiting_for_input(pair: tuple[Connection, socket.socket]) -> None:
    conn, client = pair
    client.sendall(b"x\ny\n")
    assert conn.readline(100) == b"x\n"
    conn.write(b"a" * MAX_QUEUED)
    received = b""
    while len(received) < MAX_QUEUED:
        received += client.recv(MAX_QUEUED)
    assert received == b"a" * MAX_QUEUED
