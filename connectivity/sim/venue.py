"""The dialect-free half of a simulated streaming venue.

:class:`SimVenue` owns what every simulated venue does the same way: a loopback HTTP server and
websocket server, the market loop (one :meth:`SimVenue.on_tick` every ``settings.tick_s`` unless
frozen), the connected :class:`StreamSession` s and their subscriptions, broadcasting a payload
to a stream's subscribers (each frame encoded once per session encoding), pre-encoded floods,
and the connection-level faults (disconnect, stall, shutdown notice then disconnect).

Timers and limits arrive as one frozen :class:`SimSettings` value. A venue dialect
(``exchanges/<venue>/sim.py``) subclasses it and supplies the wire format: HTTP routes,
:meth:`open_session` (what a connection URL subscribes to), :meth:`on_client_message` (control
messages), :meth:`encode` (envelopes) and :meth:`shutdown_notice`.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Iterable
from typing import TypeVar

import attrs

from connectivity.core.clock import Clock, SystemClock
from connectivity.runtime import Supervisor
from connectivity.sim.faults import FaultKnobs
from connectivity.sim.http import HttpServer
from connectivity.sim.market import Market
from connectivity.sim.session import StreamSession
from connectivity.sim.wsserver import ServerConnection, WebSocketServer, encode_text_frame

__all__ = ["Flood", "SimSettings", "SimVenue"]

CHUNK_FRAMES = 256  # frames per queued chunk when flooding
V = TypeVar("V", bound="SimVenue")


@attrs.frozen
class Flood:
    """A pre-encoded flood of one stream: a lead frame and the flood's frame chunks."""

    lead: dict[Hashable, bytes]  # per session encoding
    chunks: dict[Hashable, list[bytes]]
    hold: bool  # released only by SimVenue.release_flood, not by the dialect's own trigger


@attrs.frozen
class SimSettings:
    """Timers and limits of a simulated venue (a venue dialect supplies its own defaults)."""

    tick_s: float = 0.1  # the market steps once per tick
    ping_interval_s: float = 20.0  # server pings
    pong_timeout_s: float = 60.0  # a client that does not answer is dropped
    max_inbound_per_s: int | None = None  # client messages per second (None: unlimited)
    max_streams: int | None = None  # streams per connection (None: unlimited)
    shutdown_grace_s: float = 1.0  # between a shutdown notice and the disconnect


class SimVenue:
    """Servers, market loop, sessions, broadcasting and connection faults of a simulated venue."""

    encodings: tuple[Hashable, ...] = (None,)  # every StreamSession.encoding a dialect uses

    def __init__(
        self,
        market: Market,
        *,
        name: str,
        clock: Clock | None = None,
        settings: SimSettings = SimSettings(),
    ) -> None:
        self.clock = clock or SystemClock()
        self.market = market
        self.faults = FaultKnobs()
        self.settings = settings
        self.frozen = False
        self.ticks = 0
        self.connections_accepted = 0
        self.closed_for_rate = 0  # connections closed for exceeding the inbound message rate
        self.sessions: list[StreamSession] = []
        self._subscribers: dict[str, set[StreamSession]] = collections.defaultdict(set)
        self._floods: dict[str, Flood] = {}
        self._supervisor = Supervisor(name)
        self.http = HttpServer()
        self.ws = WebSocketServer(self._serve)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self: V) -> V:
        """Start both servers and the market loop; return self."""
        self.http.start()
        self.ws.start()
        self._supervisor.spawn(self._tick_loop, name="ticks")
        return self

    def close(self) -> None:
        """Stop the market loop and both servers; every greenlet is joined."""
        self._supervisor.close(timeout=2.0)
        self.ws.close(timeout=2.0)
        self.http.close(timeout=2.0)

    def __enter__(self: V) -> V:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rest_url(self) -> str:
        """Return the REST base URL (``http://127.0.0.1:<port>``)."""
        return self.http.url()

    @property
    def ws_url(self) -> str:
        """Return the stream base URL (``ws://127.0.0.1:<port>``)."""
        return self.ws.url("")

    # -- dialect hooks -------------------------------------------------------------------------
    def on_tick(self) -> None:
        """Step the market once and publish what happened (the dialect's wire format)."""
        raise NotImplementedError

    def open_session(self, session: StreamSession) -> list[str] | None:
        """Return the streams a new connection's URL asks for, or None to refuse it."""
        raise NotImplementedError

    def on_client_message(self, session: StreamSession, kind: str, data: bytes) -> None:
        """Handle one message from a client (subscribe requests and the like)."""

    def encode(self, encoding: Hashable, stream: str, payload: bytes) -> bytes:
        """Return the frame carrying ``payload`` of ``stream`` for a session ``encoding``."""
        return encode_text_frame(payload)

    def shutdown_notice(self) -> tuple[str, bytes] | None:
        """Return ``(stream, payload)`` announcing maintenance, or None if the venue has none."""
        return None

    # -- faults (connection level) -------------------------------------------------------------
    def freeze(self) -> None:
        """Stop the market until :meth:`unfreeze` (nothing new is published)."""
        self.frozen = True

    def unfreeze(self) -> None:
        """Let the market move again."""
        self.frozen = False

    def disconnect(self) -> int:
        """Drop every open stream connection without a close frame; return how many."""
        sessions = list(self.sessions)
        for session in sessions:
            session.conn.abort()
        return len(sessions)

    def stall(self) -> int:
        """Stop sending data on every open connection (pings are still answered)."""
        for session in self.sessions:
            session.stalled = True
        return len(self.sessions)

    def server_shutdown(self) -> int:
        """Send the maintenance notice now and disconnect after ``shutdown_grace_s``."""
        sessions = list(self.sessions)
        notice = self.shutdown_notice()
        if notice is not None:
            for session in sessions:
                session.send(self.encode(session.encoding, *notice))
        self._supervisor.spawn(self._close_later, sessions, name="shutdown")
        return len(sessions)

    def inject(self, payload: bytes) -> int:
        """Send ``payload`` as-is (no envelope) on every open connection; return how many."""
        frame = encode_text_frame(payload)
        sessions = list(self.sessions)
        for session in sessions:
            session.send(frame)
        return len(sessions)

    def _close_later(self, sessions: list[StreamSession]) -> None:
        self.clock.sleep(self.settings.shutdown_grace_s)
        for session in sessions:
            session.conn.close(1001, "server shutdown")

    # -- publishing ----------------------------------------------------------------------------
    def has_subscribers(self, stream: str) -> bool:
        """Return True if any connection subscribes ``stream``."""
        return bool(self._subscribers.get(stream))

    def broadcast(self, stream: str, payload: bytes) -> None:
        """Send ``payload`` to every subscriber of ``stream`` (encoded once per encoding)."""
        frames: dict[Hashable, bytes] = {}
        for session in self._subscribers.get(stream, ()):
            frame = frames.get(session.encoding)
            if frame is None:
                frame = frames[session.encoding] = self.encode(session.encoding, stream, payload)
            session.send(frame)

    def subscribe(self, session: StreamSession, streams: Iterable[str]) -> None:
        """Add ``streams`` to a session (a pending flood's lead frame goes out at once)."""
        for stream in streams:
            session.subscriptions[stream] = None
            self._subscribers[stream].add(session)
            flood = self._floods.get(stream)
            if flood is not None:
                session.send(flood.lead[session.encoding])

    def unsubscribe(self, session: StreamSession, streams: Iterable[str]) -> None:
        """Remove ``streams`` from a session."""
        for stream in streams:
            session.subscriptions.pop(stream, None)
            self._subscribers[stream].discard(session)

    def hold_flood(self, stream: str, lead: bytes, payloads: list[bytes], hold: bool) -> None:
        """Pre-encode a flood of ``stream`` (frames for every encoding) until it is released."""
        chunks: dict[Hashable, list[bytes]] = {}
        for encoding in self.encodings:
            frames = [self.encode(encoding, stream, payload) for payload in payloads]
            chunks[encoding] = [
                b"".join(frames[i : i + CHUNK_FRAMES]) for i in range(0, len(frames), CHUNK_FRAMES)
            ]
        leads = {encoding: self.encode(encoding, stream, lead) for encoding in self.encodings}
        self._floods[stream] = Flood(leads, chunks, hold)

    def flood_bytes(self, stream: str, encoding: Hashable) -> int:
        """Return the size of a held flood's frames in one encoding (0 if none)."""
        flood = self._floods.get(stream)
        return sum(map(len, flood.chunks[encoding])) if flood is not None else 0

    def release_flood(self, stream: str, *, by_trigger: bool = False) -> bool:
        """Write a held flood to the stream's subscribers now; False if none (or held)."""
        flood = self._floods.get(stream)
        if flood is None or (by_trigger and flood.hold):
            return False
        del self._floods[stream]
        for session in list(self._subscribers.get(stream, ())):
            for chunk in flood.chunks[session.encoding]:
                session.send(chunk)
        return True

    # -- loops ---------------------------------------------------------------------------------
    def _tick_loop(self) -> None:
        while True:
            self.clock.sleep(self.settings.tick_s)
            if not self.frozen:
                self.ticks += 1
                self.on_tick()

    def _serve(self, conn: ServerConnection) -> None:
        self.connections_accepted += 1
        session = StreamSession(
            conn,
            self._supervisor,
            self.clock,
            ping_interval_s=self.settings.ping_interval_s,
            pong_timeout_s=self.settings.pong_timeout_s,
            max_inbound_per_s=self.settings.max_inbound_per_s,
        )
        streams = self.open_session(session)
        if streams is None:
            return
        self.subscribe(session, streams)
        self.sessions.append(session)
        try:
            session.run(lambda kind, data: self.on_client_message(session, kind, data))
        finally:
            if session.close_reason == "too many messages":
                self.closed_for_rate += 1
            self.sessions.remove(session)
            self.unsubscribe(session, list(session.subscriptions))
