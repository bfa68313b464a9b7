"""The acceptor side: route inbound connections to sessions and serve them over sockets.

An acceptor serves a fixed set of sessions. A new connection is unbound until its first
complete message arrives; that message's BeginString and CompIDs pick the session. A
connection is refused (the transport closes it without a word) when the first message is
garbled, names no configured session, or names a session that already has a connection
(FIX allows one connection per session; QuickFIX's scripts 1b and AlreadyLoggedOn check it).
:class:`AcceptorRouter` is sans-I/O (the script runner drives it directly); :class:`FixAcceptor`
runs it on a gevent ``StreamServer`` (loopback by default) with the socket pump's building blocks.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gevent
import gevent.event
import gevent.server

from connectivity.core.clock import Clock
from connectivity.errors import ConnectionLost, Rejected
from connectivity.transport.fix.codec import FixMessage
from connectivity.transport.fix.framing import FixFramer
from connectivity.transport.fix.pump import READ_SIZE, Link, Pump
from connectivity.transport.fix.session import Session, SessionEvent
from connectivity.transport.fix.session_writer import Field

__all__ = ["AcceptorRouter", "ConnectionRefused", "FixAcceptor", "PendingConnection"]

log = logging.getLogger(__name__)

SessionKey = tuple[bytes, bytes, bytes]  # (BeginString, peer CompID, our CompID)


class ConnectionRefused(Rejected):
    """The inbound connection must be closed: it names no free configured session."""


class AcceptorRouter:
    """Bind inbound connections to configured sessions by (BeginString, CompIDs)."""

    def __init__(self, sessions: Iterable[Session]) -> None:
        self._sessions: dict[SessionKey, Session] = {}
        for session in sessions:
            config = session.config
            key = (
                config.begin_string.encode("ascii"),
                config.target_comp_id.encode("ascii"),
                config.sender_comp_id.encode("ascii"),
            )
            if key in self._sessions:
                raise ValueError(f"two acceptor sessions share the identity {key!r}")
            self._sessions[key] = session

    @property
    def sessions(self) -> list[Session]:
        """Return the configured sessions."""
        return list(self._sessions.values())

    def open(self) -> PendingConnection:
        """Start routing a new inbound connection."""
        return PendingConnection(self)

    def lookup(self, key: SessionKey) -> Session | None:
        """Return the session configured for ``key``, if any."""
        return self._sessions.get(key)


class PendingConnection:
    """An inbound connection whose first message has not arrived yet."""

    def __init__(self, router: AcceptorRouter) -> None:
        self._router = router
        self._buffer = bytearray()
        self._garbled: str | None = None
        self._framer = FixFramer(on_garbled=self._on_garbled, max_body_length=64 << 10)

    def _on_garbled(self, raw: bytes, reason: str) -> None:
        self._garbled = reason

    def feed(self, data: bytes) -> Session | None:
        """Add bytes; return the bound session (already fed) or None while still waiting.

        Raises :class:`ConnectionRefused` when the connection must be closed.
        """
        self._buffer += data
        messages = self._framer.feed(data)
        if not messages:
            if self._garbled is not None:
                raise ConnectionRefused(f"garbled first message: {self._garbled}")
            return None
        first = messages[0]
        key = (first.fields[0][1], first.get(49) or b"", first.get(56) or b"")
        session = self._router.lookup(key)
        if session is None:
            raise ConnectionRefused(f"no session for {key!r}")
        if session.connected:
            raise ConnectionRefused(f"session {key!r} already has a connection")
        session.connection_made()
        session.data_received(bytes(self._buffer))
        self._buffer.clear()
        return session


class FixAcceptor(Pump):
    """Serve configured acceptor sessions on ``host:port`` (loopback by default)."""

    def __init__(
        self,
        sessions: Sequence[Session],
        *,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: Any = None,
        on_message: Callable[[Session, FixMessage], None] | None = None,
        on_event: Callable[[Session, SessionEvent], None] | None = None,
        io_timeout_s: float = 10.0,
        queue_size: int = 10_000,
    ) -> None:
        super().__init__(f"fix-acceptor:{host}:{port}", clock, queue_size)
        self.router = AcceptorRouter(sessions)
        self._on_message = on_message
        self._on_event = on_event
        self._io_timeout = io_timeout_s
        for session in sessions:
            session.on_message = self._message_hook(session)
            session.on_event = self._event_hook(session)
        kwargs: dict[str, Any] = {"spawn": self._spawn_handler}
        if ssl_context is not None:
            kwargs["ssl_context"] = ssl_context
        self._server = gevent.server.StreamServer((host, port), self._handle, **kwargs)
        self.refused = 0
        self._idle = gevent.event.Event()  # set while no connection is bound to a session
        self._idle.set()

    def _message_hook(self, session: Session) -> Callable[[FixMessage], None]:
        return lambda message: self._deliver(self._on_message, session, message)

    def _event_hook(self, session: Session) -> Callable[[SessionEvent], None]:
        return lambda event: self._deliver(self._on_event, session, event)

    def _spawn_handler(self, func: Callable[..., Any], *args: Any) -> gevent.Greenlet:
        return self.supervisor.spawn(func, *args, name="connection")

    def start(self) -> tuple[str, int]:
        """Start listening; return the bound (host, port)."""
        self._server.start()
        self._start_common()
        host, port = self._server.address[:2]
        return str(host), int(port)

    def send(
        self,
        session: Session,
        msg_type: bytes | str,
        fields: Iterable[Field],
        header: Sequence[Field] = (),
    ) -> int:
        """Send an application message on ``session``; ConnectionLost if it has no connection."""
        link = self._links.get(id(session))
        if link is None or link.closed:
            raise ConnectionLost("FIX session has no connection", operation="fix.send")
        seq = session.send(msg_type, fields, header)
        link.flush()
        return seq

    def flush(self, session: Session) -> None:
        """Write whatever ``session`` has queued (after calling it directly)."""
        link = self._links.get(id(session))
        if link is not None:
            link.flush()

    def _handle(self, sock: socket.socket, address: Any) -> None:
        pending = self.router.open()
        session: Session | None = None
        timeout = max((s.policy.logon_timeout_s for s in self.router.sessions), default=10.0)
        sock.settimeout(timeout)
        try:
            while session is None:
                data = sock.recv(READ_SIZE)
                if not data:
                    return
                session = pending.feed(data)
        except (ConnectionRefused, OSError) as e:
            self.refused += 1
            log.info("%s: refused %s: %s", self.supervisor.name, address, e)
            sock.close()
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = Link(sock, session, self._io_timeout)
        self._links[id(session)] = link
        self._idle.clear()
        reason = "closed"
        try:
            link.flush()
            reason = link.run_reader()
        except ConnectionLost as e:
            reason = str(e)
        finally:
            session.connection_lost(reason)
            link.close()
            self._links.pop(id(session), None)
            if not self._links:
                self._idle.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening, log out live sessions (briefly), close and join everything."""
        self._closing = True
        self._server.close()
        for link in list(self._links.values()):
            if link.session.is_logged_on:
                link.session.logout()
                try:
                    link.flush()
                except ConnectionLost:
                    pass
        self._idle.wait(min(timeout, 2.0))  # the peers' Logout answers end their connections
        for link in list(self._links.values()):
            link.close()
        self._drain(min(timeout, 1.0))
        self.supervisor.close(timeout)
