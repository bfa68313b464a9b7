"""A small RFC 6455 websocket server on gevent, bound to loopback, for tests and benchmarks.

It is the transport of the simulated venue: a venue simulator supplies a ``handler`` that runs
in its own greenlet per connection (owned by the server's :class:`Supervisor`) and talks to
one :class:`ServerConnection`. A second greenlet per connection reads client frames: it
answers pings (unless the ``auto_pong`` fault knob is off), records pongs, reassembles
fragmented messages and queues them for :meth:`ServerConnection.recv`. When the handler
returns, the connection is closed.

Frames are encoded and decoded by :mod:`connectivity.transport.wsframes`, the code the client
uses, in the other direction (client frames are masked, text is checked to be UTF-8); a frame
that breaks the rules is answered with a close frame carrying its status code. Floods skip
per-message framing work: :func:`encode_text_frame` builds a frame once and
:meth:`ServerConnection.send_raw_frame` writes prebuilt frames (several concatenated ones too).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
from collections.abc import Callable

import gevent
import gevent.event
import gevent.lock
import gevent.queue
from gevent.server import StreamServer

from connectivity.errors import ParseError
from connectivity.runtime import Supervisor
from connectivity.sim.loopback import LoopbackServer
from connectivity.transport.wsframes import (
    CLOSE_NO_STATUS,
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    FrameDecoder,
    close_payload,
    encode_frame,
    encode_text_frame,
    parse_close,
)

__all__ = [
    "WS_GUID",
    "ServerConnection",
    "WebSocketServer",
    "accept_key",
    "encode_frame",
    "encode_text_frame",
]

log = logging.getLogger(__name__)

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HANDSHAKE_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 16 * 1024
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CLOSE_WAIT_S = 1.0
READ_BYTES = 65536


def accept_key(key: str) -> str:
    """Return the ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1(key.strip().encode("ascii") + WS_GUID).digest()
    return base64.b64encode(digest).decode("ascii")


class ServerConnection:
    """One accepted websocket connection, as seen by a venue simulator's handler."""

    def __init__(
        self, sock: socket.socket, path: str, headers: dict[str, str], leftover: bytes
    ) -> None:
        self._sock = sock
        self.path = path
        self.headers = headers  # header names lower-cased
        self.auto_pong = True
        self.closed = False
        self.pongs_received: list[bytes] = []
        self.pings_received: list[bytes] = []
        self.close_received: tuple[int, str] | None = None
        self.frames_received = 0
        self._leftover = leftover  # bytes read with the handshake: the first frames' start
        self._inbox: gevent.queue.Queue[tuple[str, bytes] | None] = gevent.queue.Queue()
        self._write_lock = gevent.lock.Semaphore()
        self._close_sent = False
        self._peer_done = gevent.event.Event()
        self._reader: gevent.Greenlet | None = None

    # -- sending (safe from any greenlet) --------------------------------------------------
    def send_raw_frame(self, frame: bytes) -> None:
        """Write prebuilt frame bytes (one or several frames) as they are."""
        if self.closed or self._close_sent:
            raise ConnectionError("websocket connection is closed")
        with self._write_lock:
            self._sock.sendall(frame)

    def send_text(self, data: str | bytes) -> None:
        """Send one text message (``bytes`` are sent as they are, unchecked)."""
        self.send_raw_frame(encode_text_frame(data))

    def send_binary(self, data: bytes) -> None:
        """Send one binary message."""
        self.send_raw_frame(encode_frame(OP_BINARY, data))

    def send_ping(self, payload: bytes = b"") -> None:
        """Send a ping; the client's pong lands in :attr:`pongs_received`."""
        self.send_raw_frame(encode_frame(OP_PING, payload))

    # -- receiving -------------------------------------------------------------------------
    def recv(self, timeout: float | None = None) -> tuple[str, bytes] | None:
        """Return the next ``("text"|"binary", payload)``; None on close or timeout."""
        if self.closed and self._inbox.empty():
            return None
        try:
            return self._inbox.get(timeout=timeout)
        except gevent.queue.Empty:
            return None

    # -- closing ---------------------------------------------------------------------------
    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame, wait briefly for the client's reply, then close the socket."""
        if self.closed:
            return
        self._send_close(code, reason)
        if gevent.getcurrent() is not self._reader:
            self._peer_done.wait(timeout=CLOSE_WAIT_S)
        self._drop()

    def abort(self) -> None:
        """Drop the TCP connection with no close frame (a network failure)."""
        self._drop()

    def _send_close(self, code: int, reason: str) -> None:
        if self._close_sent:
            return
        try:
            with self._write_lock:
                self._sock.sendall(encode_frame(OP_CLOSE, close_payload(code, reason)))
        except OSError:
            pass  # the peer is already gone; closing proceeds
        self._close_sent = True

    def _drop(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            # shutdown() wakes our reader with EOF instead of cancelling its wait mid-read.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._inbox.put(None)
        self._peer_done.set()

    # -- reader greenlet -------------------------------------------------------------------
    def _read_loop(self) -> None:
        self._reader = gevent.getcurrent()
        decoder = FrameDecoder(
            self._text,
            self._binary,
            self._control,
            masked=True,
            max_message_bytes=MAX_MESSAGE_BYTES,
            validate_utf8=True,
            chunk_bytes=READ_BYTES,
            stopped=self._reading_done,
        )
        chunk, self._leftover = self._leftover, b""
        try:
            while True:
                if chunk:
                    self.frames_received += decoder.feed(chunk)[0]
                if self._reading_done():
                    break
                chunk = self._sock.recv(READ_BYTES)
                if not chunk:
                    break
        except ParseError as exc:
            log.info("closing websocket on protocol violation: %s", exc.message)
            code = exc.code if isinstance(exc.code, int) else CLOSE_PROTOCOL_ERROR
            self._send_close(code, exc.message)
        except OSError:
            pass  # reset by peer or closed under us: the connection is simply over
        self._peer_done.set()
        self._drop()

    def _reading_done(self) -> bool:
        return self.closed or self.close_received is not None

    def _text(self, message: bytes, ts: int) -> None:
        self._inbox.put(("text", message))

    def _binary(self, message: bytes, ts: int) -> None:
        self._inbox.put(("binary", message))

    def _control(self, opcode: int, payload: bytes) -> None:
        """Answer a ping (unless ``auto_pong`` is off), record a pong, answer a close."""
        if opcode == OP_PING:
            self.pings_received.append(payload)
            if self.auto_pong and not self._close_sent:
                self.send_raw_frame(encode_frame(OP_PONG, payload))
        elif opcode == OP_PONG:
            self.pongs_received.append(payload)
        elif opcode == OP_CLOSE:
            code, reason = parse_close(payload)
            self.close_received = (code, reason)
            self._send_close(CLOSE_NORMAL if code == CLOSE_NO_STATUS else code, "")

    def __repr__(self) -> str:
        return f"ServerConnection(path={self.path!r}, closed={self.closed})"


Handler = Callable[[ServerConnection], None]


class WebSocketServer(LoopbackServer):
    """A loopback websocket server running ``handler(conn)`` in a greenlet per connection."""

    scheme = "ws"
    default_path = "/"

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._handler = handler
        self._supervisor = Supervisor("wsserver")
        self.connections: list[ServerConnection] = []

    def _make_server(self, address: tuple[str, int]) -> StreamServer:
        return StreamServer(address, self._serve, spawn=self._spawn)

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection, and kill and join all greenlets."""
        self._stop_listening()
        for conn in list(self.connections):
            conn.abort()
        self._supervisor.close(timeout=timeout)
        self.connections.clear()

    def _spawn(self, func: Callable[..., object], *args: object) -> gevent.Greenlet:
        # StreamServer's spawn hook: every connection greenlet is owned by our supervisor.
        return self._supervisor.spawn(func, *args, name="conn")

    def _serve(self, sock: socket.socket, address: tuple[str, int]) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self._handshake(sock)
        except (OSError, ValueError, gevent.Timeout) as exc:
            log.info("websocket handshake failed: %r", exc)
            sock.close()
            return
        self.connections.append(conn)
        reader = self._supervisor.spawn(conn._read_loop, name="reader")
        try:
            self._handler(conn)
        except OSError:
            pass  # the client went away while the handler was writing
        finally:
            conn.close()
            reader.join(timeout=CLOSE_WAIT_S)
            reader.kill(block=True, timeout=CLOSE_WAIT_S)
            if conn in self.connections:
                self.connections.remove(conn)

    def _handshake(self, sock: socket.socket) -> ServerConnection:
        data = b""
        with gevent.Timeout(HANDSHAKE_TIMEOUT_S):
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk or len(data) > MAX_HEADER_BYTES:
                    raise ValueError("incomplete HTTP upgrade request")
                data += chunk
                if len(data) >= 4 and not data.startswith(b"GET "):
                    break  # not HTTP (a TLS ClientHello, say): refuse at once, do not wait
        head, _, leftover = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key", "")
        if (
            len(parts) != 3
            or parts[0] != "GET"
            or "websocket" not in headers.get("upgrade", "").lower()
            or headers.get("sec-websocket-version") != "13"
            or not key
        ):
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            raise ValueError(f"not a websocket upgrade: {lines[0]!r}")
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
            ).encode("ascii")
        )
        return ServerConnection(sock, parts[1], headers, leftover)

    def _describe(self) -> str:
        return f", connections={len(self.connections)}"
