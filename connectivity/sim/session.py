"""One client connection of a simulated streaming venue, independent of the venue's dialect.

A :class:`StreamSession` wraps a :class:`~connectivity.sim.wsserver.ServerConnection` with what
every streaming venue does the same way:

- an outbound queue drained by a sender greenlet (owned by the venue's Supervisor) that writes
  queued frames in batches, so a slow client never blocks the venue's market loop;
- server pings every ``ping_interval_s`` and a disconnect when no pong came for
  ``pong_timeout_s``;
- an inbound message-rate limit: more than ``max_inbound_per_s`` frames (data, ping and pong
  alike) in any one-second window closes the connection, as Binance does;
- a ``stalled`` flag: the session keeps the TCP connection and keeps answering pings, but
  sends no data (the "open but dead" feed).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Hashable

import gevent
import gevent.queue

from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.runtime import Supervisor
from connectivity.sim.wsserver import ServerConnection

__all__ = ["StreamSession"]

log = logging.getLogger(__name__)

BATCH = 512  # frames written with one sendall


class StreamSession:
    """Outbound queue, keepalive and inbound limit around one websocket connection."""

    def __init__(
        self,
        conn: ServerConnection,
        supervisor: Supervisor,
        clock: Clock,
        *,
        ping_interval_s: float = 20.0,
        pong_timeout_s: float = 60.0,
        max_inbound_per_s: int | None = None,
    ) -> None:
        self.conn = conn
        self.clock = clock
        self.subscriptions: dict[str, None] = {}  # ordered set of venue stream names
        self.stalled = False
        self.encoding: Hashable = None  # how the dialect wraps frames (e.g. an envelope or not)
        self.frames_sent = 0
        self.close_reason = ""
        self._supervisor = supervisor
        self._ping_interval_ns = int(ping_interval_s * NS_PER_SECOND)
        self._pong_timeout_ns = int(pong_timeout_s * NS_PER_SECOND)
        self._max_inbound = max_inbound_per_s
        self._inbound: collections.deque[int] = collections.deque()
        self._frames_seen = 0
        self._queue: gevent.queue.Queue[bytes] = gevent.queue.Queue()
        self._sender: gevent.Greenlet | None = None

    @property
    def closed(self) -> bool:
        """Return True once the underlying connection is closed."""
        return self.conn.closed

    def send(self, frame: bytes) -> None:
        """Queue prebuilt frame bytes (dropped while stalled or closed)."""
        if not self.stalled and not self.conn.closed:
            self._queue.put(frame)

    def run(self, on_message: Callable[[str, bytes], None]) -> None:
        """Serve the connection until it ends: feed inbound messages to ``on_message``."""
        self._sender = self._supervisor.spawn(self._send_loop, name="sender")
        now = self.clock.monotonic_ns()
        next_ping = now + self._ping_interval_ns
        last_pong = now
        pongs = 0
        try:
            while not self.conn.closed:
                wait_ns = max(0, min(next_ping - now, NS_PER_SECOND // 4))
                message = self.conn.recv(timeout=wait_ns / NS_PER_SECOND)
                now = self.clock.monotonic_ns()
                if not self._within_rate(now):
                    self.close_reason = "too many messages"
                    self.conn.close(1008, "Too many requests")
                    return
                if len(self.conn.pongs_received) != pongs:
                    pongs, last_pong = len(self.conn.pongs_received), now
                if now - last_pong > self._pong_timeout_ns:
                    self.close_reason = "pong timeout"
                    self.conn.close(1008, "Pong timeout")
                    return
                if now >= next_ping:
                    self.conn.send_ping(str(self.clock.time_ns() // 1_000_000).encode())
                    next_ping = now + self._ping_interval_ns
                if message is not None:
                    on_message(*message)
        finally:
            self.stop()

    def _within_rate(self, now: int) -> bool:
        if self._max_inbound is None:
            return True
        received = self.conn.frames_received
        for _ in range(received - self._frames_seen):
            self._inbound.append(now)
        self._frames_seen = received
        while self._inbound and now - self._inbound[0] >= NS_PER_SECOND:
            self._inbound.popleft()
        return len(self._inbound) <= self._max_inbound

    def _send_loop(self) -> None:
        queue = self._queue
        while not self.conn.closed:
            try:
                first = queue.get(timeout=0.5)
            except gevent.queue.Empty:
                continue
            frames = [first]
            while len(frames) < BATCH:
                try:
                    frames.append(queue.get_nowait())
                except gevent.queue.Empty:
                    break
            if self.stalled:
                continue
            try:
                self.conn.send_raw_frame(b"".join(frames))
            except OSError:
                return  # the client went away; the handler notices and ends the session
            self.frames_sent += len(frames)

    def stop(self) -> None:
        """Stop the sender greenlet (the connection itself is closed by the server)."""
        if self._sender is not None:
            self._sender.kill(block=True, timeout=1.0)
            self._sender = None

    def __repr__(self) -> str:
        return (
            f"StreamSession(path={self.conn.path!r}, streams={len(self.subscriptions)}, "
            f"stalled={self.stalled}, closed={self.conn.closed})"
        )
