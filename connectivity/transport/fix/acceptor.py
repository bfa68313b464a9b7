"""Sans-I/O routing of inbound connections to acceptor sessions by their first message.

An acceptor serves a fixed set of sessions. A new connection is unbound until its first
complete message arrives; that message's BeginString and CompIDs pick the session. A
connection is refused (the transport closes it without a word) when the first message is
garbled, names no configured session, or names a session that already has a connection
(FIX allows one connection per session; QuickFIX's scripts 1b and AlreadyLoggedOn check it).
"""

from __future__ import annotations

from collections.abc import Iterable

from connectivity.errors import ConnectivityError
from connectivity.transport.fix.codec import FixFramer
from connectivity.transport.fix.session import Session

__all__ = ["AcceptorRouter", "ConnectionRefused", "PendingConnection"]

SessionKey = tuple[bytes, bytes, bytes]  # (BeginString, peer CompID, our CompID)


class ConnectionRefused(ConnectivityError):
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
