"""Socket pump over real loopback sockets: logon, orders, reconnect, TLS, slow callbacks.

Timers run on a ManualClock shared by both ends; the tests wait on events with timeouts.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest
from gevent import socket as gsocket

from connectivity.core.clock import ManualClock
from connectivity.errors import ConnectFailed, ConnectionLost
from connectivity.transport.fix.acceptor import FixAcceptor
from connectivity.transport.fix.codec import FixMessage, encode
from connectivity.transport.fix.pump import (
    Backoff,
    FixAddress,
    FixInitiator,
    open_connection,
)
from connectivity.transport.fix.session import Session, SessionEvent, SessionEventKind
from connectivity.transport.fix.session_rules import (
    Role,
    SessionConfig,
    SessionPolicy,
    format_utc_timestamp,
)

WAIT = 5.0  # seconds any single loopback event may take


def session(role: Role, clock: ManualClock, policy: SessionPolicy | None = None) -> Session:
    ours, theirs = ("CLIENT", "VENUE") if role is Role.INITIATOR else ("VENUE", "CLIENT")
    config = SessionConfig(ours, theirs, role=role, policy=policy or SessionPolicy())
    return Session(config, clock=clock)


class Venue:
    """An acceptor whose application answers every NewOrderSingle with an ExecutionReport."""

    def __init__(self, clock: ManualClock, ssl_context: Any = None, **policy: Any) -> None:
        self.session = session(Role.ACCEPTOR, clock, SessionPolicy(**policy))
        self.events: list[SessionEvent] = []
        self.acceptor = FixAcceptor(
            [self.session],
            clock=clock,
            ssl_context=ssl_context,
            on_message=self.on_message,
            on_event=lambda s, e: self.events.append(e),
        )
        self.host, self.port = self.acceptor.start()

    def on_message(self, session: Session, message: FixMessage) -> None:
        if message.msg_type == b"D":
            self.acceptor.send(session, b"8", [(11, message[11]), (150, b"0"), (39, b"0")])

    def kinds(self) -> list[SessionEventKind]:
        return [e.kind for e in self.events]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def venue(clock: ManualClock) -> Iterator[Venue]:
    venue = Venue(clock)
    yield venue
    venue.acceptor.close()


def wait_for(predicate: Any, timeout: float = WAIT) -> None:
    with gevent.Timeout(timeout, AssertionError("condition not met in time")):
        while not predicate():
            gevent.sleep(0.002)


def test_initiator_logs_on_trades_and_logs_out_cleanly(clock: ManualClock, venue: Venue) -> None:
    reports: list[FixMessage] = []
    client = FixInitiator(
        session(Role.INITIATOR, clock),
        FixAddress(venue.host, venue.port),
        clock=clock,
        on_message=reports.append,
    )
    client.start()
    try:
        assert client.wait_logged_on(WAIT)
        for i in range(20):
            client.send("D", [(11, f"order-{i}"), (55, "BTCUSDT")])
        wait_for(lambda: len(reports) == 20)
        assert [r[11] for r in reports] == [b"order-%d" % i for i in range(20)]
    finally:
        client.close()
    assert SessionEventKind.LOGGED_OUT in venue.kinds()  # our Logout reached the venue
    assert client.session.close_reason == "logout"  # and its answer came back


def test_initiator_reconnects_after_the_connection_drops(clock: ManualClock, venue: Venue) -> None:
    client = FixInitiator(
        session(Role.INITIATOR, clock),
        FixAddress(venue.host, venue.port),
        clock=clock,
        backoff=Backoff(initial_s=1.0, jitter=0.0),
    )
    client.start()
    try:
        assert client.wait_logged_on(WAIT)
        for link in list(venue.acceptor._links.values()):
            link.close()  # the venue drops us without a Logout
        wait_for(lambda: not client.logged_on.is_set())
        wait_for(lambda: clock.sleepers >= 2)  # timers + the backoff sleep
        clock.advance(1.0)  # the backoff delay passes
        assert client.wait_logged_on(WAIT)
        assert client.connections == 2
        assert client.session.next_sender_seq == 3  # sequence numbers carried on
    finally:
        client.close()


def test_initiator_retries_with_backoff_while_the_venue_is_down(clock: ManualClock) -> None:
    probe = gsocket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens on this port now
    client = FixInitiator(
        session(Role.INITIATOR, clock),
        FixAddress("127.0.0.1", port, connect_timeout_s=1.0),
        clock=clock,
        backoff=Backoff(initial_s=1.0, jitter=0.0),
    )
    client.start()
    try:
        wait_for(lambda: isinstance(client.last_error, ConnectFailed))
        wait_for(lambda: clock.sleepers >= 2)
        assert client.connections == 0
    finally:
        client.close()


def test_open_connection_translates_refused_into_connect_failed() -> None:
    probe = gsocket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectFailed) as info:
        open_connection(FixAddress("127.0.0.1", port, connect_timeout_s=1.0))
    assert isinstance(info.value.__cause__, OSError)


def test_send_while_disconnected_raises_connection_lost(clock: ManualClock) -> None:
    client = FixInitiator(
        session(Role.INITIATOR, clock), FixAddress("127.0.0.1", 9), clock=clock, reconnect=False
    )
    with pytest.raises(ConnectionLost):
        client.send("D", [(11, "x")])


def test_slow_application_callback_does_not_stop_heartbeats(clock: ManualClock) -> None:
    venue = Venue(clock)
    release = gevent.event.Event()
    entered = gevent.event.Event()

    def slow(message: FixMessage) -> None:
        entered.set()
        release.wait(WAIT)

    client = FixInitiator(
        session(Role.INITIATOR, clock),
        FixAddress(venue.host, venue.port),
        clock=clock,
        on_message=slow,
    )
    client.start()
    try:
        assert client.wait_logged_on(WAIT)
        client.send("D", [(11, "blocks-the-callback")])
        assert entered.wait(WAIT)
        before = venue.session.next_target_seq
        clock.advance(36)  # 1.2 x 30 s: the venue sends TestRequest; the client must answer
        wait_for(lambda: venue.session.next_target_seq > before)
        assert venue.session.is_logged_on and not release.is_set()
        release.set()
    finally:
        client.close()
        venue.acceptor.close()


def test_second_connection_for_a_live_session_is_refused(clock: ManualClock, venue: Venue) -> None:
    client = FixInitiator(
        session(Role.INITIATOR, clock), FixAddress(venue.host, venue.port), clock=clock
    )
    client.start()
    try:
        assert client.wait_logged_on(WAIT)
        intruder = gsocket.create_connection((venue.host, venue.port), timeout=WAIT)
        logon = encode(b"FIX.4.4", b"A", [(34, 1), (49, b"CLIENT"), (52, format_utc_timestamp(
            clock.time_ns())), (56, b"VENUE"), (98, 0), (108, 30)])  # fmt: skip
        intruder.sendall(logon)
        assert intruder.recv(100) == b""  # closed without a word
        intruder.close()
        assert venue.acceptor.refused == 1 and client.logged_on.is_set()
    finally:
        client.close()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_logon_sends_sni_and_verifies_the_server_hostname(
    clock: ManualClock, tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    sni: list[str] = []
    server_context.sni_callback = lambda sock, name, context: sni.append(name)  # type: ignore[assignment,misc,return-value]
    venue = Venue(clock, ssl_context=server_context)
    trusted = ssl.create_default_context(cafile=str(cert))
    good = FixAddress(
        "127.0.0.1", venue.port, tls=True, server_hostname="localhost", ssl_context=trusted
    )
    client = FixInitiator(session(Role.INITIATOR, clock), good, clock=clock)
    client.start()
    try:
        assert client.wait_logged_on(WAIT)
        assert isinstance(client._links[0].sock, ssl.SSLSocket)
        assert sni == ["localhost"]  # the client sent SNI
    finally:
        client.close()
    wrong_name = FixAddress(
        "127.0.0.1", venue.port, tls=True, server_hostname="fix.example.com", ssl_context=trusted
    )
    with pytest.raises(ConnectFailed) as info:
        open_connection(wrong_name)
    assert isinstance(info.value.__cause__, ssl.SSLError)
    untrusted = FixAddress("127.0.0.1", venue.port, tls=True, server_hostname="localhost")
    with pytest.raises(ConnectFailed):
        open_connection(untrusted)  # the default context does not trust a self-signed cert
    venue.acceptor.close()


def test_acceptor_close_logs_out_connected_initiators(clock: ManualClock) -> None:
    venue = Venue(clock)
    events: list[SessionEvent] = []
    client = FixInitiator(
        session(Role.INITIATOR, clock),
        FixAddress(venue.host, venue.port),
        clock=clock,
        on_event=events.append,
        reconnect=False,
    )
    client.start()
    try:
        assert client.wait_logged_on(WAIT)
        venue.acceptor.close()
        wait_for(lambda: SessionEventKind.LOGGED_OUT in [e.kind for e in events])
    finally:
        client.close()


def test_a_failing_hook_costs_one_connection_and_the_initiator_reconnects(
    clock: ManualClock, venue: Venue
) -> None:
    calls: list[int] = []

    def flaky_hook(context: Any) -> list[tuple[int, Any]]:
        calls.append(context.msg_seq_num)
        if len(calls) == 1:
            raise RuntimeError("signer not ready")
        return []

    config = SessionConfig("CLIENT", "VENUE", role=Role.INITIATOR)
    client = FixInitiator(
        Session(config, clock=clock, logon_hook=flaky_hook),
        FixAddress(venue.host, venue.port),
        clock=clock,
        backoff=Backoff(initial_s=1.0, jitter=0.0),
    )
    client.start()
    try:
        wait_for(lambda: isinstance(client.last_error, RuntimeError))
        wait_for(lambda: clock.sleepers >= 2)
        clock.advance(1.0)
        assert client.wait_logged_on(WAIT)
        assert len(calls) == 2 and client.connections == 2
    finally:
        client.close()


def test_close_from_inside_an_application_callback_stops_everything(
    clock: ManualClock, venue: Venue
) -> None:
    holder: dict[str, FixInitiator] = {}
    entered = gevent.event.Event()

    def on_message(message: FixMessage) -> None:
        entered.set()
        holder["client"].close()  # the consumer greenlet is stopped by this very call

    client = FixInitiator(
        session(Role.INITIATOR, clock),
        FixAddress(venue.host, venue.port),
        clock=clock,
        on_message=on_message,
    )
    holder["client"] = client
    client.start()
    assert client.wait_logged_on(WAIT)
    client.send("D", [(11, "stop-me")])
    assert entered.wait(WAIT)
    wait_for(lambda: client.supervisor.closed and len(client.supervisor) == 0)
    assert SessionEventKind.LOGGED_OUT in venue.kinds()
