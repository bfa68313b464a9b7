"""WebSocketConnection: one venue stream over websocket-client, read by our own greenlet.

websocket-client does what it is good at: DNS, TCP, TLS (verification on, SNI) and the HTTP
upgrade. After the handshake we read the socket ourselves, in large chunks, and decode them
with :class:`~connectivity.transport.wsframes.FrameDecoder`: websocket-client reads each frame
with several small ``recv`` calls and checks UTF-8 in pure Python, which caps it at a few ten
thousand messages per second; ours hands each text payload to ``on_message(payload: bytes,
ts_recv_ns)`` untouched: feeds' JSON parser (orjson) validates UTF-8, so checking it here too
is off by default; ``WebSocketSettings.validate_utf8`` turns it on for a general-purpose client
(invalid text then closes with 1007). The decoder enforces the framing rules; pings, pongs and
close are answered here; writes (text, binary, ping, pong, close) still go through
websocket-client, which masks them. ``ts_recv_ns`` is the wall time at which the read carrying
the frame returned. Callbacks run in the reader greenlet; they must not call
:meth:`WebSocketConnection.close` (use ``reconnect``).

Close handshake (RFC 6455 7): a server's close frame is answered with its code (1000 when it
has none). A protocol violation (a bad frame, a close frame with a code a peer may not send, a
reason or, when validated, text that is not UTF-8, a message over the limits) is answered with
a close frame carrying the matching code (1002, 1007 or 1009) before the connection is dropped.

Liveness: server pings are answered with the same payload; at most one pong waits for an
outbound slot, answering the latest ping (RFC 6455 5.5.3), so a ping flood costs one greenlet
and, with sends queued, at most every other slot. Our own pings go out every
``ping_interval_s`` and a missing pong within ``pong_timeout_s`` ends the connection; so do a
connection with no frame at all for ``idle_timeout_s`` and a watched subscription with no
*useful* message (the venue router calls :meth:`touch`) for its interval, even while pings
flow. A dead connection is reconnected with capped exponential backoff and full jitter, and
``on_connect(conn)`` runs on every new connection (resubscribe, re-login).
``on_connection_end(number, reason)`` runs (in the reader) when physical connection ``number``
is over, whatever ended it: a drop during ``on_connect``, a rollover's retired connection and
:meth:`close` included; requests awaiting answers on it learn at once that none will come.

Rollover: after ``rollover_after_s`` (Binance disconnects at 24 h) or on :meth:`rollover`
(Binance ``serverShutdown``), a NEW connection is opened and ``on_connect`` runs for it before
the old one is closed, and both deliver in between, so nothing is lost. Messages in the overlap
may arrive twice; the venue layer de-duplicates by update id. A feed whose messages only make
sense per physical connection (per-connection sequence numbers, snapshots sent on subscription)
passes ``per_connection(number) -> on_message``: each connection, a rollover's replacement
included, then gets its own handler, so the venue layer knows which connection said what.

Outbound pacing: at most ``send_limit`` frames per ``send_window_s`` per connection, counting
pings and pongs (each venue passes its own limit; Binance: 5 per second, control frames
included; the default is unpaced). A sliding window is used,
not a token bucket, because a burst after idle must not exceed the venue's per-second count.
"""

from __future__ import annotations

import collections
import functools
import logging
import random
import socket
from collections.abc import Callable

import gevent
import gevent.event
import gevent.lock
import websocket as wsclient

from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.counters import ErrorCounter
from connectivity.errors import (
    ClosedError,
    ConnectFailed,
    ConnectionLost,
    ConnectivityError,
    ParseError,
)
from connectivity.runtime import Supervisor
from connectivity.transport.wsclient import (
    Factory,
    MessageHandler,
    WebSocketSettings,
    WebSocketStats,
    WireSocket,
    translate_connect_error,
    websocket_client_factory,
)
from connectivity.transport.wsframes import (
    CLOSE_NO_STATUS,
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameDecoder,
    close_payload,
    parse_close,
)

__all__ = [
    "WebSocketConnection",
    "WebSocketSettings",
    "WebSocketStats",
    "WireSocket",
    "websocket_client_factory",
]

log = logging.getLogger(__name__)


class _Session:
    """One physical connection: its socket, reader state, pacing window and liveness marks."""

    def __init__(self, wire: WireSocket, number: int, now: int, wake: gevent.event.Event) -> None:
        self.wire = wire
        self.sock = wire.sock
        self.number = number
        self.opened_ns = now
        self.last_frame_ns = now
        self.next_ping_ns = now
        self.awaiting_pong_ns: int | None = None
        self.ping_payload = b""
        self.pong_payload: bytes | None = None  # the latest ping, while its pong awaits a slot
        self.sent: collections.deque[int] = collections.deque()
        self.write_lock = gevent.lock.Semaphore()
        self.close_sent = False
        self.rollover_requested = False
        self.retry_rollover_ns: int | None = None
        self.ended = gevent.event.Event()
        self.reason = ""
        self._wake = wake

    def end(self, reason: str) -> None:
        """Mark the connection dead (first reason wins) and wake its reader with EOF."""
        if self.ended.is_set():
            return
        self.reason = reason
        self.ended.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass  # already closed, or a fake without a real socket
        self._wake.set()


class WebSocketConnection:
    """A self-healing websocket stream: reader greenlet, liveness watchdogs, reconnect, rollover."""

    def __init__(
        self,
        url: str,
        on_message: MessageHandler,
        *,
        clock: Clock,
        settings: WebSocketSettings | None = None,
        on_connect: Callable[[WebSocketConnection], None] | None = None,
        on_disconnect: Callable[[str], None] | None = None,
        on_binary: MessageHandler | None = None,
        per_connection: Callable[[int], MessageHandler] | None = None,
        on_connection_end: Callable[[int, str], None] | None = None,
        factory: Factory | None = None,
        rng: random.Random | None = None,
        name: str = "ws",
    ) -> None:
        self.url = url
        self.name = name
        self.settings = settings or WebSocketSettings()
        interval_ns = int(self.settings.error_log_interval_s * NS_PER_SECOND)
        errors = ErrorCounter(
            f"websocket {name}", clock.monotonic_ns, logger=log, log_interval_ns=interval_ns
        )
        self.stats = WebSocketStats(errors=errors)
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._on_binary = on_binary
        self._per_connection = per_connection
        self._on_connection_end = on_connection_end
        self._clock = clock
        self._factory = factory or websocket_client_factory()
        self._rng = rng or random.Random()
        self._supervisor = Supervisor(f"{name}")
        self._wake = gevent.event.Event()
        self._session: _Session | None = None
        self._retiring: list[_Session] = []
        self._numbers = 0
        self._closing = False
        self._watches: dict[str, int] = {}
        self._touched: dict[str, int] = {}
        self._ever_connected = False
        self.connected = gevent.event.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start connecting in the background (the owned manager greenlet)."""
        self._supervisor.spawn(self._run, name="manager")

    def close(self) -> None:
        """Close every connection (close frame, brief wait) and kill and join all greenlets."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        sessions = [s for s in [self._session, *self._retiring] if s is not None]
        for session in sessions:
            self._close_session(session, "closed by us")
        self._supervisor.close(timeout=self.settings.close_timeout_s + 5.0)
        for session in sessions:
            session.wire.shutdown()
        self.connected.clear()

    def reconnect(self, reason: str) -> None:
        """Declare the current connection dead now (e.g. a stream gap); it reconnects."""
        if self._session is not None:
            self._session.end(reason)

    def rollover(self) -> None:
        """Replace the connection without a gap (Binance ``serverShutdown``)."""
        if self._session is not None:
            self._session.rollover_requested = True
            self._wake.set()

    # -- subscriptions' staleness ----------------------------------------------------------
    def watch(self, key: str, stale_after_s: float) -> None:
        """Declare the connection dead when ``key`` gets no useful message for this long."""
        self._watches[key] = int(stale_after_s * NS_PER_SECOND)
        self._touched[key] = self._clock.monotonic_ns()

    def touch(self, key: str) -> None:
        """Record a useful message for ``key`` (called by the venue router)."""
        self._touched[key] = self._clock.monotonic_ns()

    def unwatch(self, key: str) -> None:
        """Stop watching ``key``."""
        self._watches.pop(key, None)
        self._touched.pop(key, None)

    @property
    def connection_number(self) -> int | None:
        """Return the number of the connection :meth:`send` writes to (None before the first)."""
        session = self._session
        return None if session is None else session.number

    def last_message_age_s(self) -> float | None:
        """Return seconds since the last data message (None before the first)."""
        last = self.stats.last_message_ns
        return None if last is None else (self._clock.monotonic_ns() - last) / NS_PER_SECOND

    # -- sending ---------------------------------------------------------------------------
    def send(self, message: str | bytes) -> None:
        """Send one text message (subscribe, login), paced to the per-connection rate."""
        self._send_frame(self._live_session(), OP_TEXT, message)

    def send_binary(self, message: bytes) -> None:
        """Send one binary message, paced like :meth:`send`."""
        self._send_frame(self._live_session(), OP_BINARY, message)

    def _live_session(self) -> _Session:
        session = self._session
        if self._closing:
            raise ClosedError(f"websocket {self.name} is closed")
        if session is None or session.ended.is_set():
            raise ConnectionLost(f"websocket {self.name} is not connected")
        return session

    def _send_frame(self, session: _Session, opcode: int, payload: str | bytes) -> None:
        wait_ns = self._reserve(session)
        if wait_ns > 0:
            self._clock.sleep(wait_ns / NS_PER_SECOND)
        self._write(session, opcode, payload)

    def _reserve(self, session: _Session) -> int:
        """Book the earliest slot the sliding window allows; return ns until it.

        Runs without yielding, so bookings are atomic among greenlets and writes go out in
        booking order; nobody holds a lock while waiting for a slot.
        """
        limit = self.settings.send_limit
        now = self._clock.monotonic_ns()
        if limit is None:
            return 0  # the venue sets no outbound limit
        sent = session.sent
        slot = max(now, sent[-1]) if sent else now
        if len(sent) >= limit:
            slot = max(slot, sent[-limit] + int(self.settings.send_window_s * NS_PER_SECOND))
        sent.append(slot)
        if len(sent) > limit:
            sent.popleft()
        return slot - now

    def _write(self, session: _Session, opcode: int, payload: str | bytes) -> None:
        try:
            with session.write_lock:
                session.wire.send(payload, opcode)
        except (OSError, wsclient.WebSocketException) as exc:
            session.end(f"send failed: {exc!r}")
            raise ConnectionLost(f"websocket {self.name} send failed") from exc

    def _pong_later(self, session: _Session, wait_ns: int) -> None:
        """Send the pending pong once its booked slot comes (own greenlet: the reader never waits).

        It answers the latest ping seen by then: the ones in between are coalesced into it.
        """
        self._clock.sleep(wait_ns / NS_PER_SECOND)
        payload, session.pong_payload = session.pong_payload, None
        if payload is None or session.close_sent:
            return
        try:
            self._write(session, OP_PONG, payload)
        except ConnectionLost:
            pass  # the reader sees the EOF next

    def _send_close(self, session: _Session, code: int, reason: str = "") -> None:
        """Send our one close frame (unpaced: it ends the connection); a write error is moot."""
        if session.close_sent or session.ended.is_set():
            return
        session.close_sent = True
        try:
            with session.write_lock:
                session.wire.send(close_payload(code, reason), OP_CLOSE)
        except (OSError, wsclient.WebSocketException):
            pass  # the connection is going away anyway

    # -- manager ---------------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._closing:
            try:
                session = self._open()
            except ConnectivityError as exc:
                self._count_error(exc, "connect failed")
                failures += 1
                self._backoff(failures)
                continue
            if self._ever_connected:
                self.stats.reconnects += 1
            self._ever_connected = True
            session, reason = self._supervise(session)
            lived = self._clock.monotonic_ns() - session.opened_ns
            self.connected.clear()
            if self._closing:
                return
            self._notify_disconnect(reason)
            failures = 0 if lived >= self.settings.stable_after_s * NS_PER_SECOND else failures + 1
            self._backoff(failures)

    def _backoff(self, failures: int) -> None:
        s = self.settings
        cap = min(s.backoff_max_s, s.backoff_initial_s * 2 ** min(failures, 30))
        self._clock.sleep(self._rng.uniform(0.0, cap))

    def _open(self) -> _Session:
        """Connect, start the reader and watchdog, and run ``on_connect``."""
        try:
            wire = self._factory(self.url, self.settings.connect_timeout_s)
        except (OSError, wsclient.WebSocketException) as exc:
            raise translate_connect_error(exc, self.url) from exc
        self._numbers += 1
        session = _Session(wire, self._numbers, self._clock.monotonic_ns(), self._wake)
        session.next_ping_ns = session.opened_ns + self._ping_interval_ns()
        wire.sock.settimeout(self.settings.read_timeout_s)
        previous = self._session
        self._session = session
        self._supervisor.spawn(self._read_loop, session, name=f"reader{session.number}")
        self._supervisor.spawn(self._watchdog, session, name=f"watchdog{session.number}")
        if self._on_connect is not None:
            try:
                self._on_connect(self)
            except Exception as exc:
                session.end(f"on_connect failed: {exc!r}")
                self._session = previous
                raise ConnectFailed(f"on_connect of {self.name} failed: {exc!r}") from exc
        if session.ended.is_set():
            self._session = previous
            raise ConnectFailed(f"{self.name} dropped during on_connect: {session.reason}")
        self.stats.connects += 1
        self.connected.set()
        return session

    def _supervise(self, session: _Session) -> tuple[_Session, str]:
        """Wait until the current connection dies, rolling it over when asked; say why."""
        while True:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._closing:
                return session, "closed by us"
            if session.ended.is_set():
                return session, session.reason
            if session.rollover_requested:
                session = self._rollover(session)

    def _rollover(self, old: _Session) -> _Session:
        old.rollover_requested = False
        try:
            new = self._open()
        except ConnectivityError as exc:
            self._count_error(exc, "rollover connect failed")
            delay = self._rng.uniform(0.0, self.settings.backoff_max_s)
            old.retry_rollover_ns = self._clock.monotonic_ns() + int(delay * NS_PER_SECOND)
            return old
        self.stats.rollovers += 1
        self._retiring.append(old)
        self._close_session(old, "rolled over")
        self._retiring.remove(old)
        return new

    def _close_session(self, session: _Session, reason: str) -> None:
        """Send a close frame, let the reader drain until the server answers, then end."""
        if not session.ended.is_set() and not session.close_sent:
            self._send_close(session, CLOSE_NORMAL)
            session.ended.wait(timeout=self.settings.close_timeout_s)
        session.end(reason)

    def _notify_disconnect(self, reason: str) -> None:
        log.info("websocket %s disconnected: %s", self.name, reason)
        if self._on_disconnect is not None:
            try:
                self._on_disconnect(reason)
            except Exception as exc:
                self._count_error(exc, "on_disconnect raised")

    def _ping_interval_ns(self) -> int:
        interval = self.settings.ping_interval_s
        return int(interval * NS_PER_SECOND) if interval else 1 << 62

    # -- watchdog --------------------------------------------------------------------------
    def _watchdog(self, session: _Session) -> None:
        while not session.ended.is_set():
            self._clock.sleep(self.settings.tick_s)
            now = self._clock.monotonic_ns()
            dead = self._dead_reason(session, now)
            if dead is not None:
                kind, reason = dead
                log.warning("websocket %s: %s; reconnecting", self.name, reason)
                self.stats.errors[kind] += 1
                session.end(reason)
                return
            if session is self._session:
                self._maybe_request_rollover(session, now)
            if now >= session.next_ping_ns and not session.close_sent:
                session.next_ping_ns = now + self._ping_interval_ns()
                self._send_ping(session, now)

    def _dead_reason(self, session: _Session, now: int) -> tuple[str, str] | None:
        """Return (counter key, reason) when the connection must be considered dead."""
        s = self.settings
        awaiting = session.awaiting_pong_ns
        if awaiting is not None and now - awaiting > s.pong_timeout_s * NS_PER_SECOND:
            return "PongTimeout", f"no pong within {s.pong_timeout_s}s"
        idle = s.idle_timeout_s
        if idle is not None and now - session.last_frame_ns > idle * NS_PER_SECOND:
            return "IdleTimeout", f"no frame for {s.idle_timeout_s}s"
        touched = self._touched
        for key, limit in self._watches.items():
            last = max(touched.get(key, 0), session.opened_ns)
            if now - last > limit:
                return "StaleSubscription", f"subscription {key!r} silent {limit / NS_PER_SECOND}s"
        return None

    def _maybe_request_rollover(self, session: _Session, now: int) -> None:
        after = self.settings.rollover_after_s
        due = after is not None and now - session.opened_ns >= after * NS_PER_SECOND
        retry_ok = session.retry_rollover_ns is None or now >= session.retry_rollover_ns
        if due and retry_ok and not session.rollover_requested:
            session.rollover_requested = True
            self._wake.set()

    def _send_ping(self, session: _Session, now: int) -> None:
        payload = str(now).encode("ascii")
        try:
            self._send_frame(session, OP_PING, payload)
        except ConnectionLost:
            return
        session.ping_payload = payload
        if session.awaiting_pong_ns is None:
            session.awaiting_pong_ns = now
        self.stats.pings_sent += 1

    # -- reader ----------------------------------------------------------------------------
    def _read_loop(self, session: _Session) -> None:
        try:
            self._read_frames(session)
        except ParseError as exc:
            self._count_error(exc, "protocol violation", key="ProtocolViolation")
            code = exc.code if isinstance(exc.code, int) else CLOSE_PROTOCOL_ERROR
            self._send_close(session, code, exc.message)
            session.end(f"protocol violation: {exc.message}")
        except OSError as exc:
            session.end(f"connection lost: {exc!r}")
        finally:
            session.end("reader stopped")
            session.wire.shutdown()
            self._connection_ended(session)

    def _connection_ended(self, session: _Session) -> None:
        """Tell ``on_connection_end`` which physical connection is over (its reader has stopped)."""
        if self._on_connection_end is None:
            return
        try:
            self._on_connection_end(session.number, session.reason)
        except Exception as exc:
            self._count_error(exc, "on_connection_end raised")

    def _read_frames(self, session: _Session) -> None:
        """Read large chunks and decode them; text frames take the fast path to ``on_message``."""
        on_message = self._on_message
        if self._per_connection is not None:
            on_message = self._per_connection(session.number)
        decoder = FrameDecoder(
            on_message,
            self._binary,
            functools.partial(self._control, session),
            max_message_bytes=self.settings.max_message_bytes,
            max_fragments=self.settings.max_fragments,
            validate_utf8=self.settings.validate_utf8,
            chunk_bytes=self.settings.recv_bytes,
            on_error=self._handler_failed,
            stopped=session.ended.is_set,
        )
        feed = decoder.feed
        recv = session.sock.recv
        size = self.settings.recv_bytes
        time_ns = self._clock.time_ns
        monotonic_ns = self._clock.monotonic_ns
        stats = self.stats
        ended = session.ended
        while not ended.is_set():
            try:
                chunk = recv(size)
            except TimeoutError:
                continue  # the watchdog decides whether silence means death
            if not chunk:
                session.end("connection closed by the server (EOF)")
                return
            ts = time_ns()
            session.last_frame_ns = monotonic_ns()
            stats.bytes += len(chunk)
            frames, delivered = feed(chunk, ts)
            stats.frames += frames
            if delivered:
                stats.last_message_ns = session.last_frame_ns

    def _binary(self, payload: bytes, ts: int) -> None:
        if self._on_binary is None:
            err = ParseError("unexpected binary frame", payload=payload[:64])
            self._count_error(err, "unexpected binary frame", key="UnexpectedBinaryFrame")
            return
        self._on_binary(payload, ts)

    def _handler_failed(self, exc: Exception) -> None:
        self._count_error(exc, "message handler raised")

    def _control(self, session: _Session, opcode: int, payload: bytes) -> None:
        """Answer a ping, match a pong, or answer a close (the decoder checked the opcode)."""
        if opcode == OP_PING:
            self.stats.pings_received += 1
            if session.close_sent:
                return
            if session.pong_payload is not None:
                session.pong_payload = payload  # the waiting pong answers this one instead
                return
            wait_ns = self._reserve(session)
            if wait_ns <= 0:
                try:
                    self._write(session, OP_PONG, payload)
                except ConnectionLost:
                    pass  # the reader sees the EOF next
            elif not self._supervisor.closed:
                # Behind queued sends a pong may wait its turn (Binance allows a minute).
                session.pong_payload = payload
                self._supervisor.spawn(self._pong_later, session, wait_ns, name="pong")
        elif opcode == OP_PONG:
            self.stats.pongs_received += 1
            if payload == session.ping_payload:
                session.awaiting_pong_ns = None
        elif opcode == OP_CLOSE:
            code, text = parse_close(payload)  # the decoder refused codes a peer may not send
            self._send_close(session, CLOSE_NORMAL if code == CLOSE_NO_STATUS else code)
            session.end(f"closed by the server: {code} {text}".rstrip())

    # -- errors ----------------------------------------------------------------------------
    def _count_error(self, exc: BaseException, what: str, key: str | None = None) -> None:
        """Count ``exc`` by type and log it, at most once per interval per type."""
        self.stats.errors.count(exc, what, key)

    def __repr__(self) -> str:
        state = "connected" if self.connected.is_set() else "disconnected"
        return f"WebSocketConnection({self.name!r}, {state}, connects={self.stats.connects})"
