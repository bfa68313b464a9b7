"""Play QuickFIX scripts over real loopback sockets through :class:`FixAcceptor`.

The same scripts as :class:`~connectivity.testing.fix_scripts.SansIOHarness`, but every byte
crosses a TCP connection and the socket pump's reader, timer and delivery greenlets. Time is a
:class:`ManualClock`: when no data arrives within :attr:`SocketHarness.READ_WAIT_S` real
seconds, the clock jumps to the session's next timer, as a waiting harness would see it.
"""

from __future__ import annotations

import socket
from collections import deque

from gevent import socket as gsocket

from connectivity.core.clock import NS_PER_SECOND, ManualClock
from connectivity.core.store import MemoryStore
from connectivity.testing.fix_scripts import (
    EchoApplication,
    PollingHarness,
    ScriptFailure,
    quickfix_session_config,
)
from connectivity.transport.fix.acceptor import FixAcceptor
from connectivity.transport.fix.dictionary import FixDictionary
from connectivity.transport.fix.framing import FixFramer
from connectivity.transport.fix.session import Session

__all__ = ["SocketHarness"]


class _SocketConn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.framer = FixFramer()
        self.inbox: deque[bytes] = deque()
        self.closed = False


class SocketHarness(PollingHarness):
    """Drive our acceptor through real sockets on 127.0.0.1 (implements ScriptHarness)."""

    READ_WAIT_S = 0.5  # real seconds to wait for data before simulated time moves on

    def __init__(
        self, dictionary: FixDictionary | None = None, clock: ManualClock | None = None
    ) -> None:
        self.clock = clock or ManualClock()
        self.app = EchoApplication()
        self.session = Session(
            quickfix_session_config(), clock=self.clock, store=MemoryStore(), dictionary=dictionary
        )
        self.acceptor = FixAcceptor(
            [self.session], clock=self.clock, on_message=lambda s, m: self.app.on_message(m)
        )
        self.app.session = self.session
        self.app.flush = lambda: self.acceptor.flush(self.session)
        self.host, self.port = self.acceptor.start()
        self._conns: dict[int, _SocketConn] = {}

    def connect(self, cid: int) -> None:
        """Open a TCP connection to the acceptor."""
        sock = gsocket.create_connection((self.host, self.port), timeout=5.0)
        self._conns[cid] = _SocketConn(sock)

    def disconnect(self, cid: int) -> None:
        """Close connection ``cid`` from the harness side."""
        conn = self._conns.pop(cid)
        conn.sock.close()

    def send(self, cid: int, data: bytes) -> None:
        """Write bytes on ``cid``."""
        conn = self._conns.get(cid)
        if conn is None or conn.closed:
            raise ScriptFailure("unable to send: the engine dropped the connection")
        try:
            conn.sock.sendall(data)
        except OSError as e:
            raise ScriptFailure(f"unable to send: {e}") from e

    def _read(self, conn: _SocketConn) -> bool:
        """Read once (waiting up to READ_WAIT_S); False if nothing arrived."""
        conn.sock.settimeout(self.READ_WAIT_S)
        try:
            data = conn.sock.recv(1 << 16)
        except TimeoutError:
            return False
        except OSError:
            data = b""
        if not data:
            conn.closed = True
            return True
        conn.inbox.extend(message.raw for message in conn.framer.feed(data))
        return True

    def _let_time_pass(self, limit_ns: int) -> bool:
        deadline = self.session.next_deadline_ns() if self.session.connected else None
        if deadline is None or deadline > limit_ns:
            return False
        self.clock.advance(max(deadline - self.clock.monotonic_ns(), 1000) / NS_PER_SECOND)
        return True

    def _progress(self, conn: _SocketConn, limit_ns: int) -> bool:
        return self._read(conn) or self._let_time_pass(limit_ns)

    def close(self) -> None:
        """Close every connection and the acceptor (joining its greenlets)."""
        super().close()
        self.acceptor.close(timeout=2.0)
