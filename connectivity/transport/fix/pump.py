"""Socket pump: greenlets that run sans-I/O FIX sessions over TCP or TLS.

:class:`FixInitiator` connects (TLS with SNI and hostname verification by default when
``FixAddress.tls``), logs on, reconnects with exponential backoff and jitter, and on
:meth:`FixInitiator.close` logs out, waits for the answer and joins its greenlets.
:class:`~connectivity.transport.fix.acceptor.FixAcceptor` serves sessions on a loopback port
(the simulator and tests) with the same :class:`Link` and :class:`Pump` building blocks.

Per connection one reader greenlet feeds the session; one timer greenlet per pump runs the
session timers; application callbacks run in a separate consumer greenlet fed by a bounded
queue, so a slow callback never stalls the socket loop (when the queue is full the reader
waits, which pushes back through TCP). Every greenlet belongs to the pump's
:class:`~connectivity.runtime.Supervisor`. Socket and TLS errors become
:class:`~connectivity.errors.ConnectFailed` / :class:`~connectivity.errors.ConnectionLost`.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import gevent
import gevent.event
import gevent.lock
import gevent.queue
from gevent import socket as gsocket
from gevent import ssl as gssl

from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.errors import ConfigError, ConnectFailed, ConnectionLost
from connectivity.runtime import Supervisor
from connectivity.transport.fix.codec import FixMessage
from connectivity.transport.fix.session import Session, SessionEvent, SessionEventKind
from connectivity.transport.fix.session_writer import Field

__all__ = ["Backoff", "FixAddress", "FixInitiator", "Link", "Pump", "open_connection"]

log = logging.getLogger(__name__)
READ_SIZE = 1 << 16
_IDLE_READ_S = 5.0  # a read wakes at least this often to notice a close
_MAX_TIMER_SLEEP_S = 1.0


@attrs.frozen
class FixAddress:
    """Where an initiator connects; ``server_hostname`` defaults to ``host`` (SNI + checks)."""

    host: str
    port: int
    tls: bool = False
    server_hostname: str | None = None
    ssl_context: Any = attrs.field(default=None, repr=False)  # default: verified, SNI on
    connect_timeout_s: float = 10.0
    io_timeout_s: float = 10.0  # a single write may block this long


@attrs.frozen
class Backoff:
    """Exponential reconnect delays with jitter: initial * factor**(n-1), capped."""

    initial_s: float = 0.5
    maximum_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2  # +/- this fraction, so a fleet does not reconnect in lockstep

    def delay(self, attempt: int) -> float:
        """Return the delay before reconnect attempt ``attempt`` (1-based)."""
        base = min(self.maximum_s, self.initial_s * self.factor ** max(0, attempt - 1))
        return base * (1 + random.uniform(-self.jitter, self.jitter))


def open_connection(address: FixAddress) -> socket.socket:
    """Connect (and TLS-handshake) to ``address``; ConnectFailed on any failure."""
    where = f"{address.host}:{address.port}"
    try:
        sock = gsocket.create_connection(
            (address.host, address.port), timeout=address.connect_timeout_s
        )
    except OSError as e:
        raise ConnectFailed(f"FIX connect to {where} failed: {e}", operation="fix.connect") from e
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if address.tls:
            context = address.ssl_context or gssl.create_default_context()
            hostname = address.server_hostname or address.host
            sock = context.wrap_socket(sock, server_hostname=hostname)
    except (ssl.SSLError, OSError) as e:
        sock.close()
        raise ConnectFailed(f"FIX TLS to {where} failed: {e}", operation="fix.tls") from e
    return sock


class Link:
    """One live connection of one session: ordered writes and the read loop (a building block)."""

    def __init__(self, sock: socket.socket, session: Session, io_timeout_s: float) -> None:
        self.sock = sock
        self.session = session
        self._lock = gevent.lock.Semaphore()
        self._io_timeout = io_timeout_s
        self.closed = False

    def flush(self) -> None:
        """Write what the session queued; close the socket if the session wants it closed."""
        with self._lock:  # taken before data_to_send so writes keep MsgSeqNum order
            data = self.session.data_to_send()
            if data and not self.closed:
                try:
                    self.sock.settimeout(self._io_timeout)
                    self.sock.sendall(data)
                except OSError as e:
                    self.close()
                    raise ConnectionLost(f"FIX write failed: {e}", operation="fix.send") from e
        if self.session.wants_close:
            self.close()

    def run_reader(self) -> str:
        """Feed the session until the connection ends; return why it ended."""
        while not self.closed:
            try:
                self.sock.settimeout(_IDLE_READ_S)
                data = self.sock.recv(READ_SIZE)
            except TimeoutError:
                continue
            except OSError as e:
                return "closed" if self.closed else f"read failed: {e}"
            if not data:
                return "peer closed the connection"
            self.session.data_received(data)
            try:
                self.flush()
            except ConnectionLost as e:
                return str(e)
        return self.session.close_reason or "closed"

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


class Pump:
    """What both roles share: supervisor, delivery queue, timer loop over live links."""

    def __init__(self, name: str, clock: Clock, queue_size: int) -> None:
        self.clock = clock
        self.supervisor = Supervisor(name)
        self._queue: gevent.queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = (
            gevent.queue.Queue(maxsize=queue_size)
        )
        self._links: dict[int, Link] = {}
        self._closing = False
        self._consumer: gevent.Greenlet | None = None

    def _start_common(self) -> None:
        self._consumer = self.supervisor.spawn(self._consume, name="deliver")
        self.supervisor.spawn(self._timers, name="timers")

    def _deliver(self, handler: Callable[..., None] | None, *args: Any) -> None:
        """Queue a callback for the consumer greenlet (waits, in slices, while full)."""
        if handler is None:
            return
        try:
            self._queue.put_nowait((handler, args))  # the common case: no timer object needed
            return
        except gevent.queue.Full:
            pass
        while not self._closing:
            try:
                self._queue.put((handler, args), timeout=1.0)
                return
            except gevent.queue.Full:
                log.warning("%s: application queue full; reader waiting", self.supervisor.name)

    def _consume(self) -> None:
        queue = self._queue
        while True:
            try:
                item = queue.get_nowait() if queue.qsize() else queue.get(timeout=1.0)
            except gevent.queue.Empty:
                continue
            if item is None:
                return
            handler, args = item
            try:
                handler(*args)
            except Exception:  # one bad callback must not stop delivery of the next message
                log.exception("%s: application callback failed", self.supervisor.name)

    def _timers(self) -> None:
        while True:
            now = self.clock.monotonic_ns()
            wait = _MAX_TIMER_SLEEP_S
            for link in list(self._links.values()):
                session = link.session
                deadline = session.next_deadline_ns()
                if deadline is not None and deadline <= now:
                    try:
                        session.tick()
                        link.flush()
                    except ConnectionLost as e:
                        log.info("%s: %s", self.supervisor.name, e)
                    except Exception:  # a bug must cost this connection, not every timer
                        log.exception("%s: session timer failed", self.supervisor.name)
                        link.close()
                    deadline = session.next_deadline_ns()
                if deadline is not None:
                    wait = min(wait, max(0.0, (deadline - now) / NS_PER_SECOND))
            self.clock.sleep(max(wait, 0.001))

    def _drain(self, timeout: float) -> None:
        """Let queued callbacks run (up to ``timeout``), then stop the consumer."""
        if self._consumer is None or self._consumer is gevent.getcurrent():
            return  # close() called from a callback: the supervisor stops the consumer
        try:
            self._queue.put(None, timeout=timeout)
        except gevent.queue.Full:
            return
        self._consumer.join(timeout)


class FixInitiator(Pump):
    """Run one initiator session over TCP/TLS, reconnecting with backoff until closed."""

    def __init__(
        self,
        session: Session,
        address: FixAddress,
        *,
        clock: Clock,
        on_message: Callable[[FixMessage], None] | None = None,
        on_event: Callable[[SessionEvent], None] | None = None,
        backoff: Backoff | None = None,
        reconnect: bool = True,
        queue_size: int = 10_000,
    ) -> None:
        super().__init__(f"fix-initiator:{session.config.sender_comp_id}", clock, queue_size)
        if session.config.role.value != "initiator":
            raise ConfigError("FixInitiator needs a session configured as initiator")
        self.session = session
        self.address = address
        self.backoff = backoff or Backoff()
        self.reconnect = reconnect
        self._on_message = on_message
        self._on_event = on_event
        self.logged_on = gevent.event.Event()
        self._disconnected = gevent.event.Event()
        self._disconnected.set()
        self.last_error: Exception | None = None
        self.connections = 0
        self._logons = 0
        session.on_message = lambda message: self._deliver(self._on_message, message)
        session.on_event = self._session_event

    def _session_event(self, event: SessionEvent) -> None:
        if event.kind is SessionEventKind.LOGGED_ON:
            self._logons += 1
            self.logged_on.set()
        elif event.kind is SessionEventKind.DISCONNECT:
            self.logged_on.clear()
        self._deliver(self._on_event, event)

    def start(self) -> None:
        """Start connecting in the background."""
        self._start_common()
        self.supervisor.spawn(self._run, name="connection")

    def wait_logged_on(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the session to be logged on."""
        return bool(self.logged_on.wait(timeout))

    def send(
        self, msg_type: bytes | str, fields: Iterable[Field], header: Sequence[Field] = ()
    ) -> int:
        """Send an application message now; return its MsgSeqNum (ConnectionLost if down)."""
        link = self._links.get(0)
        if link is None or link.closed:
            raise ConnectionLost("FIX initiator is not connected", operation="fix.send")
        seq = self.session.send(msg_type, fields, header)
        link.flush()
        return seq

    def send_test_request(self, test_req_id: str) -> None:
        """Send a TestRequest now (its answer arrives as a TEST_REQUEST_ANSWERED event)."""
        link = self._links.get(0)
        if link is None or link.closed:
            raise ConnectionLost("FIX initiator is not connected", operation="fix.send")
        self.session.send_test_request(test_req_id)
        link.flush()

    def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                sock = open_connection(self.address)
            except ConnectFailed as e:
                self.last_error = e
                attempt += 1
                log.warning("%s: %s (attempt %d)", self.supervisor.name, e, attempt)
                self.clock.sleep(self.backoff.delay(attempt))
                continue
            self.connections += 1
            reason = self._serve(sock)
            log.info("%s: connection ended: %s", self.supervisor.name, reason)
            attempt = 0 if self._logons else attempt + 1  # a logon proves the settings work
            self._logons = 0
            if self._closing or not self.reconnect:
                return
            self.clock.sleep(self.backoff.delay(max(attempt, 1)))

    def _serve(self, sock: socket.socket) -> str:
        link = Link(sock, self.session, self.address.io_timeout_s)
        self._disconnected.clear()
        self._links[0] = link
        reason = "closed"
        try:
            self.session.connection_made()
            link.flush()
            reason = link.run_reader()
        except ConnectionLost as e:
            self.last_error = e
            reason = str(e)
        except Exception as e:  # a bug costs this connection; the reconnect loop carries on
            log.exception("%s: session failed", self.supervisor.name)
            self.last_error = e
            reason = f"internal error: {e!r}"
        finally:
            self.session.connection_lost(reason)
            link.close()
            self._links.pop(0, None)
            self.logged_on.clear()
            self._disconnected.set()
        return reason

    def close(self, timeout: float = 5.0) -> None:
        """Log out (waiting up to the logout timeout for the answer), then stop everything."""
        self._closing = True
        link = self._links.get(0)
        if link is not None and self.session.is_logged_on:
            self.session.logout()
            try:
                link.flush()
            except ConnectionLost:
                pass
            self._disconnected.wait(min(timeout, self.session.policy.logout_timeout_s + 0.5))
        if link is not None:
            link.close()
        self._drain(min(timeout, 1.0))
        self.supervisor.close(timeout)
