"""The loopback RFC 6455 server of connectivity.sim, driven by websocket-client and raw sockets."""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable, Iterator

import gevent
import gevent.event
import pytest
import websocket
from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.sim.wsserver import (
    ServerConnection,
    WebSocketServer,
    accept_key,
    encode_frame,
    encode_text_frame,
)

Handler = Callable[[ServerConnection], None]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], WebSocketServer]]:
    servers: list[WebSocketServer] = []

    def start(handler: Handler) -> WebSocketServer:
        server = WebSocketServer(handler)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def echo(conn: ServerConnection) -> None:
    while True:
        message = conn.recv(timeout=5)
        if message is None:
            return
        kind, payload = message
        if kind == "text":
            conn.send_text(payload)
        else:
            conn.send_binary(payload)


def _client(server: WebSocketServer, path: str = "/") -> websocket.WebSocket:
    return websocket.create_connection(server.url(path), timeout=5)


def _masked(
    opcode: int, payload: bytes, fin: bool = True, mask: bytes = b"\x01\x02\x03\x04"
) -> bytes:
    head = bytearray([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(head) + mask + body


def _raw_upgrade(server: WebSocketServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(
        b"GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 101")
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in reply
    return sock


def test_accept_key_matches_the_rfc_6455_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_text_and_binary_messages_echo_and_path_and_headers_are_visible(serve) -> None:
    seen: list[ServerConnection] = []

    def handler(conn: ServerConnection) -> None:
        seen.append(conn)
        echo(conn)

    server = serve(handler)
    ws = _client(server, "/stream?streams=a@depth/b@trade")
    try:
        ws.send("héllo")
        assert ws.recv() == "héllo"
        ws.send_binary(b"\x00\xff")
        assert ws.recv() == b"\x00\xff"
    finally:
        ws.close()
    assert seen[0].path == "/stream?streams=a@depth/b@trade"
    assert seen[0].headers["sec-websocket-version"] == "13"


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 200_000])
def test_messages_at_every_length_encoding_round_trip(serve, size: int) -> None:
    server = serve(echo)
    payload = os.urandom(size)
    ws = _client(server)
    try:
        ws.send_binary(payload)
        assert ws.recv() == payload
    finally:
        ws.close()


def test_fragmented_client_message_is_reassembled_with_a_ping_interleaved(serve) -> None:
    server = serve(echo)
    sock = _raw_upgrade(server)
    try:
        sock.sendall(
            _masked(0x1, b"frag", fin=False)
            + _masked(0x9, b"mid")
            + _masked(0x0, b"men", fin=False)
            + _masked(0x0, b"ted")
        )
        expected = encode_frame(0xA, b"mid") + encode_text_frame(b"fragmented")
        got = b""
        while len(got) < len(expected):
            chunk = sock.recv(4096)
            assert chunk, f"connection closed after {got!r}"  # else this loop would spin
            got += chunk
        assert got == expected
    finally:
        sock.close()


def test_unmasked_client_frame_is_closed_with_protocol_error(serve) -> None:
    server = serve(echo)
    sock = _raw_upgrade(server)
    try:
        sock.sendall(b"\x81\x02hi")
        got = b""
        while len(got) < 4:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        assert got[:2] == b"\x88\x02" or got[0] == 0x88
        assert struct.unpack("!H", got[2:4])[0] == 1002
    finally:
        sock.close()


def test_server_ping_is_answered_and_recorded_in_pongs_received(serve) -> None:
    done = gevent.event.Event()
    conns: list[ServerConnection] = []

    def handler(conn: ServerConnection) -> None:
        conns.append(conn)
        conn.send_ping(b"p1")
        conn.send_text("after ping")
        done.wait(timeout=5)

    server = serve(handler)
    ws = _client(server)
    try:
        assert ws.recv() == "after ping"  # websocket-client pongs while reading
        for _ in range(100):
            if conns[0].pongs_received:
                break
            gevent.sleep(0.01)
        assert conns[0].pongs_received == [b"p1"]
    finally:
        done.set()
        ws.close()


@pytest.mark.parametrize("auto_pong", [True, False])
def test_client_ping_gets_a_pong_only_when_auto_pong_is_on(serve, auto_pong: bool) -> None:
    def handler(conn: ServerConnection) -> None:
        conn.auto_pong = auto_pong
        echo(conn)

    server = serve(handler)
    ws = _client(server)
    try:
        ws.ping(b"are you there")
        ws.send("marker")
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if auto_pong:
            assert opcode == websocket.ABNF.OPCODE_PONG
            assert frame.data == b"are you there"
        else:
            assert opcode == websocket.ABNF.OPCODE_TEXT
            assert frame.data == b"marker"
    finally:
        ws.close()


def test_server_close_sends_close_frame_with_code_and_reason(serve) -> None:
    server = serve(lambda conn: conn.close(4000, "bye"))
    ws = _client(server)
    try:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert struct.unpack("!H", frame.data[:2])[0] == 4000
        assert frame.data[2:] == b"bye"
    finally:
        ws.close()


def test_abort_drops_tcp_without_a_close_frame(serve) -> None:
    server = serve(lambda conn: conn.abort())
    sock = _raw_upgrade(server)
    try:
        assert sock.recv(4096) == b""
    finally:
        sock.close()


def test_client_close_ends_recv_and_handler_and_connection_list(serve) -> None:
    results: list[object] = []
    finished = gevent.event.Event()

    def handler(conn: ServerConnection) -> None:
        results.append(conn.recv(timeout=5))
        results.append(conn.close_received)
        finished.set()

    server = serve(handler)
    ws = _client(server)
    ws.close(status=1001, reason=b"going")
    assert finished.wait(timeout=5)
    assert results == [None, (1001, "going")]
    for _ in range(100):
        if not server.connections:
            break
        gevent.sleep(0.01)
    assert server.connections == []


def test_non_websocket_request_gets_400(serve) -> None:
    server = serve(echo)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
    finally:
        sock.close()


def test_server_close_kills_blocked_handlers_and_disconnects_clients() -> None:
    server = WebSocketServer(lambda conn: gevent.sleep(60))
    server.start()
    ws = _client(server)
    try:
        for _ in range(100):
            if server.connections:
                break
            gevent.sleep(0.01)
        server.close()
        with pytest.raises((websocket.WebSocketConnectionClosedException, OSError)):
            ws.recv()
    finally:
        ws.close()


def test_send_from_another_greenlet_while_handler_sends_keeps_frames_whole(serve) -> None:
    frame = encode_text_frame(b"x" * 300)

    def handler(conn: ServerConnection) -> None:
        other = gevent.spawn(lambda: [conn.send_raw_frame(frame) for _ in range(200)])
        for _ in range(200):
            conn.send_text(b"y" * 300)
        other.join(timeout=5)
        conn.recv(timeout=5)

    server = serve(handler)
    ws = _client(server)
    try:
        got = [ws.recv() for _ in range(400)]
        assert sorted({m[:1] for m in got}) == ["x", "y"]
        assert all(len(m) == 300 for m in got)
    finally:
        ws.close()


@settings(max_examples=50, deadline=None)
@given(
    opcode=st.sampled_from([0x0, 0x1, 0x2]), payload=st.binary(max_size=70_000), fin=st.booleans()
)
def test_encode_frame_is_parsed_by_websocket_client(opcode: int, payload: bytes, fin: bool) -> None:
    frame = encode_frame(opcode, payload, fin=fin)
    buf = [frame]

    def recv(n: int) -> bytes:
        data, buf[0] = buf[0][:n], buf[0][n:]
        return data

    reader = websocket._abnf.frame_buffer(recv, skip_utf8_validation=True)
    parsed = reader.recv_frame()
    assert (parsed.fin, parsed.opcode, parsed.data) == (int(fin), opcode, payload)


def _close_code_answering(server: WebSocketServer, frames: bytes) -> int:
    """Send raw client ``frames``; return the code of the server's close frame."""
    sock = _raw_upgrade(server)
    try:
        sock.sendall(frames)
        got = b""
        while len(got) < 4:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        assert got[0] == 0x88, got
        return int(struct.unpack("!H", got[2:4])[0])
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (struct.pack("!H", 1004), 1002),
        (struct.pack("!H", 2999), 1002),
        (b"\x03", 1002),
        (struct.pack("!H", 4000) + b"\xff", 1007),
        (struct.pack("!H", 4000) + b"ok", 4000),  # a valid code is echoed
    ],
)
def test_client_close_frame_is_echoed_or_answered_with_the_violation_code(
    serve, payload: bytes, code: int
) -> None:
    server = serve(echo)
    assert _close_code_answering(server, _masked(0x8, payload)) == code


def test_client_text_that_is_not_utf8_across_fragments_is_closed_with_1007(serve) -> None:
    server = serve(echo)
    frames = _masked(0x1, b"ok \xc3", fin=False) + _masked(0x0, b"(")
    assert _close_code_answering(server, frames) == 1007


def test_client_message_in_too_many_empty_fragments_is_closed_with_1009(serve) -> None:
    server = serve(echo)
    # The 65,537th frame is refused; it is the last sent, so no unread bytes turn close into RST.
    frames = _masked(0x2, b"", fin=False) + _masked(0x0, b"", fin=False) * 65_536
    assert _close_code_answering(server, frames) == 1009
