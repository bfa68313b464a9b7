"""WebSocketConnection against the loopback server of connectivity.sim; its frame parser."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import gevent
import gevent.event
import gevent.queue
import orjson
import pytest
import websocket
from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.core.clock import NS_PER_SECOND, ManualClock, SystemClock
from connectivity.errors import (
    AuthError,
    Banned,
    ConnectFailed,
    ConnectionLost,
    ParseError,
    RateLimited,
)
from connectivity.runtime import Supervisor
from connectivity.sim.wsserver import (
    ServerConnection,
    WebSocketServer,
    encode_frame,
    encode_text_frame,
)
from connectivity.transport.websocket import (
    WebSocketConnection,
    WebSocketSettings,
    _Session,
    websocket_client_factory,
)
from connectivity.transport.wsclient import translate_connect_error

FAST = WebSocketSettings(
    ping_interval_s=None,
    pong_timeout_s=5.0,
    rollover_after_s=None,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    stable_after_s=60.0,
    read_timeout_s=0.5,
    tick_s=0.02,
    close_timeout_s=0.5,
    send_limit=100,
)


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait (cooperatively, bounded) until ``condition()`` is true."""
    with gevent.Timeout(timeout, AssertionError("condition not met in time")):
        while not condition():
            gevent.sleep(0.005)


class Recorder:
    """Collects what a connection delivers."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.timestamps: list[int] = []
        self.disconnects: list[str] = []
        self.binary: list[bytes] = []

    def on_message(self, payload: bytes, ts: int) -> None:
        self.messages.append(payload)
        self.timestamps.append(ts)

    def on_json(self, payload: bytes, ts: int) -> None:
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise ParseError("bad JSON", payload=payload) from exc
        self.on_message(payload, ts)


@pytest.fixture
def server_factory() -> Iterator[Callable[[Callable[[ServerConnection], None]], WebSocketServer]]:
    servers: list[WebSocketServer] = []

    def start(handler: Callable[[ServerConnection], None]) -> WebSocketServer:
        server = WebSocketServer(handler)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def connections() -> Iterator[list[WebSocketConnection]]:
    made: list[WebSocketConnection] = []
    yield made
    for conn in made:
        conn.close()


def connect(
    made: list[WebSocketConnection], url: str, recorder: Recorder, **kwargs: Any
) -> WebSocketConnection:
    kwargs.setdefault("clock", SystemClock())
    kwargs.setdefault("settings", FAST)
    kwargs.setdefault("on_disconnect", recorder.disconnects.append)
    conn = WebSocketConnection(url, kwargs.pop("on_message", recorder.on_message), **kwargs)
    made.append(conn)
    conn.start()
    return conn


def hold_open(conn: ServerConnection) -> None:
    """A handler that answers pings (the reader does) and otherwise stays silent."""
    while conn.recv(timeout=10) is not None:
        pass


# -- delivery -------------------------------------------------------------------------------


def test_text_frames_of_every_size_and_fragments_arrive_as_raw_bytes(
    server_factory, connections
) -> None:
    big = b"x" * 70_000
    not_utf8 = b"\xff\xfe not validated by the transport"

    def handler(conn: ServerConnection) -> None:
        conn.send_text(b'{"a":1}')
        conn.send_text(big)
        conn.send_raw_frame(
            encode_frame(0x1, b"frag", fin=False)
            + encode_frame(0x9, b"ping-in-between")
            + encode_frame(0x0, b"mented")
        )
        conn.send_text(not_utf8)
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    conn = connect(connections, server.url(), rec)
    wait_for(lambda: len(rec.messages) == 4)
    assert rec.messages == [b'{"a":1}', big, b"fragmented", not_utf8]
    assert all(isinstance(ts, int) and ts > 0 for ts in rec.timestamps)
    assert conn.stats.frames == 6 and conn.stats.pings_received == 1
    assert conn.last_message_age_s() is not None


def test_large_frame_split_over_many_reads_is_reassembled(server_factory, connections) -> None:
    huge = bytes(range(256)) * 8192  # 2 MiB, far above one read of 256 KiB

    def handler(conn: ServerConnection) -> None:
        conn.send_text(huge)
        conn.send_text(b"after")
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    connect(connections, server.url(), rec)
    wait_for(lambda: len(rec.messages) == 2)
    assert rec.messages[0] == huge and rec.messages[1] == b"after"


# -- reconnect and resubscribe ----------------------------------------------------------------


def test_server_drop_reconnects_and_on_connect_resubscribes(server_factory, connections) -> None:
    subscribes: list[bytes | None] = []

    def handler(conn: ServerConnection) -> None:
        message = conn.recv(timeout=5)
        subscribes.append(message[1] if message else None)
        if len(subscribes) == 1:
            conn.abort()  # network failure: no close frame
            return
        conn.send_text(b'{"ok":true}')
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    sub = b'{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":1}'
    conn = connect(connections, server.url(), rec, on_connect=lambda c: c.send(sub))
    wait_for(lambda: rec.messages == [b'{"ok":true}'])
    assert subscribes == [sub, sub]
    assert conn.stats.connects == 2 and conn.stats.reconnects == 1
    assert len(rec.disconnects) == 1 and "EOF" in rec.disconnects[0]


def test_every_connection_end_is_reported_with_its_number_and_reason(
    server_factory, connections
) -> None:
    accepted: list[ServerConnection] = []

    def handler(conn: ServerConnection) -> None:
        accepted.append(conn)
        if len(accepted) == 1:
            conn.abort()  # the first connection dies during on_connect's wait
            return
        hold_open(conn)

    server = server_factory(handler)
    ended: list[tuple[int, str]] = []
    first_wait = gevent.event.Event()

    def on_connect(c: WebSocketConnection) -> None:
        if c.connection_number == 1:
            first_wait.wait(timeout=5)  # released by the end notice, not by the manager

    def on_end(number: int, reason: str) -> None:
        ended.append((number, reason))
        first_wait.set()

    conn = connect(
        connections, server.url(), Recorder(), on_connect=on_connect, on_connection_end=on_end
    )
    wait_for(lambda: conn.connected.is_set() and conn.connection_number == 2)
    assert [number for number, _ in ended] == [1] and "EOF" in ended[0][1]
    conn.close()
    assert [number for number, _ in ended] == [1, 2]


def test_server_close_frame_is_answered_and_reconnects_with_the_reason(
    server_factory, connections
) -> None:
    seen: list[ServerConnection] = []

    def handler(conn: ServerConnection) -> None:
        seen.append(conn)
        if len(seen) == 1:
            conn.close(1001, "going away")
            return
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    conn = connect(connections, server.url(), rec)
    wait_for(lambda: conn.stats.connects == 2)
    assert rec.disconnects and "1001 going away" in rec.disconnects[0]
    assert seen[0].close_received is not None and seen[0].close_received[0] == 1001


def test_connect_failures_back_off_with_capped_full_jitter() -> None:
    clock = ManualClock()
    calls: list[tuple[float, float]] = []

    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            calls.append((a, b))
            return b

    def refuse(url: str, timeout: float) -> Any:
        raise ConnectionRefusedError(111, "refused")

    settings_ = WebSocketSettings(backoff_initial_s=1.0, backoff_max_s=5.0)
    conn = WebSocketConnection(
        "ws://127.0.0.1:9/", lambda p, t: None, clock=clock, settings=settings_,
        factory=refuse, rng=Top(),
    )  # fmt: skip
    conn.start()
    try:
        for _ in range(5):
            wait_for(lambda: clock.sleepers == 1)
            clock.advance(5.0)
        assert calls[:5] == [(0.0, 2.0), (0.0, 4.0), (0.0, 5.0), (0.0, 5.0), (0.0, 5.0)]
        assert conn.stats.errors["ConnectFailed"] >= 5 and conn.stats.connects == 0
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("status", "expected"),
    [(429, RateLimited), (418, Banned), (403, AuthError), (503, ConnectFailed)],
)
def test_handshake_status_is_translated_to_the_error_tree(status: int, expected: type) -> None:
    exc = websocket.WebSocketBadStatusException(
        "Handshake status %d", status, resp_headers={"retry-after": "7"}
    )
    err = translate_connect_error(exc, "wss://h/ws/x?listenKey=secret")
    assert type(err) is expected and err.status == status
    assert "secret" not in str(err)
    if isinstance(err, RateLimited):
        assert err.retry_after == 7.0


def test_default_factory_verifies_tls_certificates_and_hostnames() -> None:
    options: dict[str, Any] = {}
    original = websocket.create_connection

    def spy(url: str, **kwargs: Any) -> Any:
        options.update(kwargs)
        raise ConnectionRefusedError(111, "refused")

    websocket.create_connection = spy
    try:
        with pytest.raises(ConnectionRefusedError):
            websocket_client_factory()("wss://example.invalid/ws", 1.0)
    finally:
        websocket.create_connection = original
    import ssl

    assert options["sslopt"]["cert_reqs"] == ssl.CERT_REQUIRED
    assert options["sslopt"]["check_hostname"] is True
    assert options["skip_utf8_validation"] is True


# -- liveness -------------------------------------------------------------------------------


def test_server_ping_is_answered_with_the_same_payload(server_factory, connections) -> None:
    seen: list[ServerConnection] = []

    def handler(conn: ServerConnection) -> None:
        seen.append(conn)
        conn.send_ping(b"1700000000000")
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    connect(connections, server.url(), rec)
    wait_for(lambda: seen and seen[0].pongs_received)
    assert seen[0].pongs_received == [b"1700000000000"]


def test_silent_server_answering_pings_is_reconnected_by_the_subscription_watchdog(
    server_factory, connections
) -> None:
    seen: list[ServerConnection] = []

    def handler(conn: ServerConnection) -> None:
        seen.append(conn)
        hold_open(conn)  # never sends data, but its reader answers every ping

    server = server_factory(handler)
    rec = Recorder()
    fast_pings = attrs.evolve(FAST, ping_interval_s=0.02)
    conn = connect(
        connections, server.url(), rec, settings=fast_pings,
        on_connect=lambda c: c.watch("btcusdt@depth", 0.3),
    )  # fmt: skip
    wait_for(lambda: conn.stats.connects >= 2)
    assert conn.stats.errors["StaleSubscription"] >= 1
    assert conn.stats.pongs_received >= 1  # pings flowed the whole time
    assert "btcusdt@depth" in rec.disconnects[0]


def test_touched_subscription_keeps_the_connection(server_factory, connections) -> None:
    # Manual time, so a slow machine cannot stretch a gap past the watch: 60 messages, one
    # per 0.1 s (6 s in all), under a 0.3 s watch.
    clock = ManualClock()
    go: gevent.queue.Queue[None] = gevent.queue.Queue()

    def handler(conn: ServerConnection) -> None:
        for i in range(60):
            go.get(timeout=5)
            conn.send_text(b'{"u":%d}' % i)
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    holder: list[WebSocketConnection] = []

    def on_message(payload: bytes, ts: int) -> None:
        rec.on_message(payload, ts)
        holder[0].touch("btcusdt@depth")

    conn = connect(
        connections, server.url(), rec, on_message=on_message, clock=clock,
        on_connect=lambda c: c.watch("btcusdt@depth", 0.3),
    )  # fmt: skip
    holder.append(conn)
    for i in range(60):
        go.put(None)
        wait_for(lambda n=i + 1: len(rec.messages) == n)
        clock.advance(0.1)
    assert conn.stats.connects == 1 and not conn.stats.errors
    conn.unwatch("btcusdt@depth")


def test_missing_pong_declares_the_connection_dead(server_factory, connections) -> None:
    def handler(conn: ServerConnection) -> None:
        conn.auto_pong = False  # a silent stall: TCP open, nobody home
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    cfg = attrs.evolve(FAST, ping_interval_s=0.02, pong_timeout_s=0.1)
    conn = connect(connections, server.url(), rec, settings=cfg)
    wait_for(lambda: conn.stats.connects >= 2)
    assert conn.stats.errors["PongTimeout"] >= 1 and conn.stats.pings_sent >= 1


def test_no_frame_at_all_trips_the_idle_watchdog(server_factory, connections) -> None:
    server = server_factory(hold_open)
    rec = Recorder()
    cfg = attrs.evolve(FAST, idle_timeout_s=0.1)
    conn = connect(connections, server.url(), rec, settings=cfg)
    wait_for(lambda: conn.stats.connects >= 2)
    assert conn.stats.errors["IdleTimeout"] >= 1


def test_watchdog_rules_under_a_manual_clock() -> None:
    clock = ManualClock()
    cfg = attrs.evolve(FAST, pong_timeout_s=60.0, idle_timeout_s=30.0)
    conn = WebSocketConnection("ws://fake/", lambda p, t: None, clock=clock, settings=cfg)
    session = _Session(FakeWire([]), 1, clock.monotonic_ns(), gevent.event.Event())

    def dead_after(seconds: float) -> str | None:
        clock.advance(seconds)
        verdict = conn._dead_reason(session, clock.monotonic_ns())
        return None if verdict is None else verdict[0]

    conn.watch("btcusdt@depth", 10.0)
    assert dead_after(9.9) is None
    conn.touch("btcusdt@depth")
    assert dead_after(9.9) is None  # the touch restarted its interval
    assert dead_after(0.2) == "StaleSubscription"
    conn.unwatch("btcusdt@depth")
    session.last_frame_ns = clock.monotonic_ns()
    session.awaiting_pong_ns = clock.monotonic_ns()
    assert dead_after(29.0) is None
    assert dead_after(1.1) == "IdleTimeout"
    session.last_frame_ns = clock.monotonic_ns()
    assert dead_after(29.0) is None
    session.last_frame_ns = clock.monotonic_ns()
    assert dead_after(1.0) == "PongTimeout"  # 60.1 s since the unanswered ping


def test_callback_errors_are_counted_each_time_but_logged_rate_limited(caplog) -> None:
    clock = ManualClock()
    seen: list[bytes] = []

    def parser(payload: bytes, ts: int) -> None:
        if payload.startswith(b"bad"):
            raise ParseError("malformed depthUpdate", payload=payload)
        seen.append(payload)

    conn = WebSocketConnection("ws://fake/", parser, clock=clock, settings=FAST)
    frames = b"".join(encode_text_frame(b"bad%d" % i) for i in range(50))
    wire = FakeWire([frames + encode_text_frame(b"good")])
    with caplog.at_level("WARNING", logger="connectivity.transport.websocket"):
        conn._read_frames(_Session(wire, 1, 0, gevent.event.Event()))
    assert seen == [b"good"] and conn.stats.errors["ParseError"] == 50
    assert len([r for r in caplog.records if "ParseError" in r.getMessage()]) == 1


# -- bad input ------------------------------------------------------------------------------


def test_malformed_json_and_binary_frames_are_counted_and_the_feed_continues(
    server_factory, connections
) -> None:
    def handler(conn: ServerConnection) -> None:
        conn.send_text(b'{"u":1}')
        conn.send_text(b'{"u":2,')  # truncated JSON
        conn.send_binary(b"\x00\x01")
        conn.send_text(b'{"u":3}')
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    conn = connect(connections, server.url(), rec, on_message=rec.on_json)
    wait_for(lambda: len(rec.messages) == 2)
    assert rec.messages == [b'{"u":1}', b'{"u":3}']
    assert conn.stats.errors["ParseError"] == 1
    assert conn.stats.errors["UnexpectedBinaryFrame"] == 1
    assert conn.stats.connects == 1


def test_binary_frames_go_to_the_on_binary_hook(server_factory, connections) -> None:
    def handler(conn: ServerConnection) -> None:
        conn.send_binary(b"\x1f\x8b compressed")
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    conn = connect(connections, server.url(), rec, on_binary=lambda p, t: rec.binary.append(p))
    wait_for(lambda: rec.binary)
    assert rec.binary == [b"\x1f\x8b compressed"] and not conn.stats.errors


def test_masked_server_frame_is_a_protocol_violation_and_reconnects(
    server_factory, connections
) -> None:
    count: list[int] = []

    def handler(conn: ServerConnection) -> None:
        count.append(1)
        if len(count) == 1:
            conn.send_raw_frame(b"\x81\x82abcd\x00\x00")  # servers must not mask
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    conn = connect(connections, server.url(), rec)
    wait_for(lambda: conn.stats.connects >= 2)
    assert conn.stats.errors["ProtocolViolation"] == 1
    assert "masked" in rec.disconnects[0]


# -- rollover -------------------------------------------------------------------------------


def test_rollover_opens_the_new_connection_before_closing_the_old_and_loses_nothing(
    server_factory, connections
) -> None:
    subscribed: list[ServerConnection] = []
    overlap: list[int] = []
    publisher = Supervisor("publisher")

    def handler(conn: ServerConnection) -> None:
        if conn.recv(timeout=5) is not None:
            subscribed.append(conn)
        hold_open(conn)

    def publish() -> None:
        for u in range(1, 100_000):
            frame = encode_text_frame(b'{"u":%d}' % u)
            for conn in list(subscribed):
                if not conn.closed:
                    try:
                        conn.send_raw_frame(frame)
                    except OSError:
                        pass
            gevent.sleep(0.002)

    server = server_factory(handler)
    rec = Recorder()
    cfg = attrs.evolve(FAST, rollover_after_s=0.2)

    def on_connect(conn: WebSocketConnection) -> None:
        overlap.append(sum(not c.closed for c in subscribed))
        conn.send(b'{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":1}')

    publisher.spawn(publish)
    try:
        conn = connect(connections, server.url(), rec, settings=cfg, on_connect=on_connect)
        wait_for(lambda: conn.stats.rollovers >= 2)
        wait_for(lambda: len(rec.messages) > 20)
    finally:
        publisher.close()
    ids = sorted({orjson.loads(m)["u"] for m in rec.messages})
    assert ids == list(range(ids[0], ids[-1] + 1)), "a message was lost across a rollover"
    assert overlap[1:3] == [1, 1]  # the old connection was still live when on_connect ran
    assert conn.stats.reconnects == 0 and rec.disconnects == []


def test_rollover_on_request_replaces_the_connection(server_factory, connections) -> None:
    server = server_factory(hold_open)
    rec = Recorder()
    conn = connect(connections, server.url(), rec)
    wait_for(lambda: conn.connected.is_set())
    conn.rollover()  # what the venue layer calls on serverShutdown
    wait_for(lambda: conn.stats.rollovers == 1)
    assert conn.stats.connects == 2 and rec.disconnects == []


def test_per_connection_handlers_tell_which_connection_carried_each_message(
    server_factory, connections
) -> None:
    served: list[ServerConnection] = []

    def handler(conn: ServerConnection) -> None:
        served.append(conn)
        conn.send_text(b'{"server_connection":%d}' % len(served))
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    received: list[tuple[int, bytes]] = []

    def per_connection(number: int) -> Callable[[bytes, int], None]:
        return lambda payload, ts: received.append((number, payload))

    conn = connect(connections, server.url(), rec, per_connection=per_connection)
    wait_for(lambda: len(received) == 1)
    conn.rollover()  # the replacement gets a handler of its own
    wait_for(lambda: len(received) == 2 and conn.stats.rollovers == 1)
    assert received == [(1, b'{"server_connection":1}'), (2, b'{"server_connection":2}')]
    assert rec.messages == []  # the plain handler is not used


# -- outbound pacing ------------------------------------------------------------------------


def test_outbound_messages_never_exceed_the_window_limit(server_factory, connections) -> None:
    server = server_factory(hold_open)
    clock = ManualClock()
    sent: list[tuple[int, object]] = []
    real = websocket_client_factory()

    def recording_factory(url: str, timeout: float) -> Any:
        wire = real(url, timeout)
        original = wire.send

        def send(payload: Any, opcode: int = 1) -> int:
            sent.append((clock.monotonic_ns(), payload))
            return int(original(payload, opcode))

        wire.send = send
        return wire

    cfg = attrs.evolve(FAST, send_limit=2, send_window_s=1.0)
    rec = Recorder()
    conn = connect(connections, server.url(), rec, settings=cfg, clock=clock,
                   factory=recording_factory)  # fmt: skip
    wait_for(lambda: conn.connected.is_set())
    sender = Supervisor("sender")
    sender.spawn(lambda: [conn.send(b"m%d" % i) for i in range(5)])
    try:
        for _ in range(40):
            gevent.sleep(0.01)
            clock.advance(0.25)
            if len(sent) == 5:
                break
    finally:
        sender.close()
    times = [t for t, _ in sent]
    assert len(times) == 5
    for i in range(len(times) - 2):
        assert times[i + 2] - times[i] >= NS_PER_SECOND  # at most 2 in any 1 s window
    assert [p for _, p in sent] == [b"m%d" % i for i in range(5)]


def test_pongs_and_pings_draw_from_the_same_outbound_window() -> None:
    clock = ManualClock()
    conn = WebSocketConnection(
        "ws://fake/", lambda p, t: None, clock=clock,
        settings=attrs.evolve(FAST, send_limit=2, send_window_s=1.0),
    )  # fmt: skip
    wire = FakeWire([])
    session = _Session(wire, 1, 0, gevent.event.Event())
    conn._session = session
    conn._control(session, 0x9, b"server-ping")  # our pong takes one slot
    conn._send_ping(session, clock.monotonic_ns())  # our ping takes the other
    sender = Supervisor("sender")
    sender.spawn(conn.send, b'{"method":"SUBSCRIBE"}')
    try:
        gevent.sleep(0.01)
        assert [op for _, op in wire.sent] == [0xA, 0x9]  # the text waits for the window
        clock.advance(1.0)
        wait_for(lambda: len(wire.sent) == 3)
        assert wire.sent[2] == (b'{"method":"SUBSCRIBE"}', 0x1)
    finally:
        session.end("test over")
        sender.close()
        conn.close()


def test_pong_waiting_for_the_budget_never_stalls_message_delivery() -> None:
    clock = ManualClock()
    rec = Recorder()
    conn = WebSocketConnection(
        "ws://fake/", rec.on_message, clock=clock,
        settings=attrs.evolve(FAST, send_limit=1, send_window_s=1.0),
    )  # fmt: skip
    wire = FakeWire([encode_frame(0x9, b"srv") + encode_text_frame(b'{"u":1}')])
    session = _Session(wire, 1, 0, gevent.event.Event())
    conn._reserve(session)  # two sends already booked: the window is full for 2 s
    conn._reserve(session)
    try:
        conn._read_frames(session)  # returns at EOF; must not wait for the pong's slot
        assert rec.messages == [b'{"u":1}'] and wire.sent == []
        clock.advance(2.0)
        wait_for(lambda: wire.sent == [(b"srv", 0xA)])
    finally:
        conn.close()


def test_a_ping_flood_costs_one_pending_pong_and_never_starves_a_subscribe() -> None:
    clock = ManualClock()
    conn = WebSocketConnection(
        "ws://fake/", lambda p, t: None, clock=clock,
        settings=attrs.evolve(FAST, send_limit=5, send_window_s=1.0),
    )  # fmt: skip
    flood = b"".join(encode_frame(0x9, b"%d" % i) for i in range(20_000))
    wire = FakeWire([flood[i : i + 65536] for i in range(0, len(flood), 65536)])
    session = _Session(wire, 1, 0, gevent.event.Event())
    conn._session = session
    sender = Supervisor("sender")
    try:
        conn._read_frames(session)  # returns at EOF, all 20,000 pings read
        assert conn.stats.pings_received == 20_000
        assert [p for p, _ in wire.sent] == [b"0", b"1", b"2", b"3", b"4"]  # the window's five
        assert len(conn._supervisor) == 1  # one pong waits for a slot, not 19,995 greenlets
        # What send() does; the fake wire's EOF has ended the session, so call under it.
        sender.spawn(conn._send_frame, session, 0x1, b'{"method":"SUBSCRIBE"}')
        wait_for(lambda: clock.sleepers == 2)
        clock.advance(1.0)  # one window later: the waiting pong, then the subscribe
        wait_for(lambda: len(wire.sent) == 7)
        assert wire.sent[5:] == [(b"19999", 0xA), (b'{"method":"SUBSCRIBE"}', 0x1)]
        assert len(conn._supervisor) == 0
    finally:
        session.end("test over")
        sender.close()
        conn.close()


def test_tls_handshake_failure_is_counted_as_connect_failed(server_factory, connections) -> None:
    server = server_factory(hold_open)
    rec = Recorder()
    url = server.url().replace("ws://", "wss://")  # our plain server cannot speak TLS
    conn = connect(connections, url, rec)
    wait_for(lambda: conn.stats.errors["ConnectFailed"] >= 2)
    assert conn.stats.connects == 0


def test_failing_on_connect_drops_the_connection_and_retries(server_factory, connections) -> None:
    server = server_factory(hold_open)
    rec = Recorder()
    attempts: list[int] = []

    def on_connect(conn: WebSocketConnection) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionLost("login refused for now")

    conn = connect(connections, server.url(), rec, on_connect=on_connect)
    wait_for(lambda: conn.connected.is_set())
    assert len(attempts) == 3 and conn.stats.errors["ConnectFailed"] == 2
    assert conn.stats.connects == 1


def test_send_without_a_connection_raises_connection_lost() -> None:
    conn = WebSocketConnection("ws://127.0.0.1:9/", lambda p, t: None, clock=ManualClock())
    with pytest.raises(ConnectionLost):
        conn.send("x")
    conn.close()


# -- close ----------------------------------------------------------------------------------


def test_close_sends_a_close_frame_and_leaves_no_greenlet(server_factory) -> None:
    seen: list[ServerConnection] = []

    def handler(conn: ServerConnection) -> None:
        seen.append(conn)
        hold_open(conn)

    server = server_factory(handler)
    rec = Recorder()
    conn = WebSocketConnection(server.url(), rec.on_message, clock=SystemClock(), settings=FAST)
    conn.start()
    wait_for(lambda: conn.connected.is_set())
    conn.close()
    wait_for(lambda: seen[0].closed)
    assert seen[0].close_received == (1000, "")
    assert len(conn._supervisor) == 0  # the leak check in conftest verifies the rest


def first_connection_sends(frame: bytes, seen: list[ServerConnection]) -> Callable[..., None]:
    """A handler that sends ``frame`` on the first connection and then stays open.

    A violation is the last frame sent: bytes the client leaves unread would make its close
    a TCP reset, racing the server's read of the close frame.
    """

    def handler(conn: ServerConnection) -> None:
        seen.append(conn)
        if len(seen) == 1:
            conn.send_raw_frame(frame)
        hold_open(conn)

    return handler


@pytest.mark.parametrize(
    ("payload", "answer"),
    [
        (struct.pack("!H", 1001) + b"going away", 1001),  # a valid code is echoed
        (struct.pack("!H", 3000), 3000),
        (struct.pack("!H", 4999), 4999),
        (b"", 1000),  # no code: a normal closure
        (b"\x03", 1002),  # one byte
        *[(struct.pack("!H", code), 1002) for code in (999, 1004, 1005, 1006, 1015, 2999, 5000)],
        (struct.pack("!H", 1000) + b"\xff", 1007),  # reason not UTF-8
    ],
)
def test_a_server_close_frame_is_answered_with_its_code_or_the_violation_it_is(
    server_factory, connections, payload: bytes, answer: int
) -> None:
    seen: list[ServerConnection] = []
    server = server_factory(first_connection_sends(encode_frame(0x8, payload), seen))
    rec = Recorder()
    conn = connect(connections, server.url(), rec)
    wait_for(lambda: seen and seen[0].close_received is not None)
    assert seen[0].close_received is not None and seen[0].close_received[0] == answer
    wait_for(lambda: conn.stats.connects == 2)  # and the client reconnects
    assert conn.stats.errors["ProtocolViolation"] == (answer in (1002, 1007))


@pytest.mark.parametrize(
    ("frame", "code", "why"),
    [
        (b"\x91\x00", 1002, "reserved bits"),
        (b"\x83\x00", 1002, "reserved opcode"),
        (b"\x81\x82abcd\x00\x00", 1002, "masked"),
        (b"\x80\x01x", 1002, "continuation"),
        (encode_frame(0x9, b"p", fin=False), 1002, "control frames"),
        (encode_frame(0x1, b"x" * 1001), 1009, "exceeds"),
        (encode_frame(0x1, b"x" * 600, fin=False) + encode_frame(0x0, b"x" * 600), 1009, "size"),
        (encode_frame(0x2, b"", fin=False) + encode_frame(0x0, b"", fin=False) * 8, 1009, "frag"),
    ],
)
def test_a_protocol_violation_is_answered_with_a_close_frame_carrying_its_code(
    server_factory, connections, frame: bytes, code: int, why: str
) -> None:
    seen: list[ServerConnection] = []
    server = server_factory(first_connection_sends(frame, seen))
    rec = Recorder()
    cfg = attrs.evolve(FAST, max_message_bytes=1000, max_fragments=8)
    conn = connect(connections, server.url(), rec, settings=cfg)
    wait_for(lambda: seen and seen[0].close_received is not None)
    assert seen[0].close_received is not None and seen[0].close_received[0] == code
    wait_for(lambda: conn.stats.connects == 2)
    assert conn.stats.errors["ProtocolViolation"] == 1 and why in rec.disconnects[0]
    assert rec.messages == []


def test_validated_text_that_is_not_utf8_closes_with_1007_and_valid_text_arrives(
    server_factory, connections
) -> None:
    seen: list[ServerConnection] = []
    split = encode_frame(0x1, b"caf\xc3", fin=False) + encode_frame(0x0, b"\xa9")
    bad = encode_frame(0x1, b"ok \xc3", fin=False) + encode_frame(0x0, b"(")
    server = server_factory(first_connection_sends(split + bad, seen))
    rec = Recorder()
    conn = connect(connections, server.url(), rec, settings=attrs.evolve(FAST, validate_utf8=True))
    wait_for(lambda: seen and seen[0].close_received is not None)
    assert seen[0].close_received is not None and seen[0].close_received[0] == 1007
    wait_for(lambda: conn.stats.connects == 2)
    assert rec.messages == ["café".encode()]


def test_send_binary_delivers_a_binary_message(server_factory, connections) -> None:
    received: list[tuple[str, bytes] | None] = []

    def handler(conn: ServerConnection) -> None:
        received.append(conn.recv(timeout=5))
        hold_open(conn)

    server = server_factory(handler)
    conn = connect(connections, server.url(), Recorder())
    wait_for(lambda: conn.connected.is_set())
    conn.send_binary(b"\x00\xff\x80")
    wait_for(lambda: received)
    assert received == [("binary", b"\x00\xff\x80")]


# -- the frame parser, property-tested over arbitrary read boundaries ---------------------


class FakeSock:
    """Returns the scripted chunks, then EOF."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def recv(self, size: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def shutdown(self, how: int) -> None:
        pass


class FakeWire:
    """A wire whose writes are recorded."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.sock = FakeSock(chunks)
        self.sent: list[tuple[bytes | str, int]] = []

    def send(self, payload: bytes | str, opcode: int = 1) -> int:
        self.sent.append((payload, opcode))
        return len(payload)

    def shutdown(self) -> None:
        pass


message_st = st.tuples(
    st.sampled_from(["text", "binary", "fragmented", "ping"]),
    st.binary(max_size=300)
    | st.builds(lambda n, b: bytes([b]) * n, st.integers(65_530, 65_540), st.integers(0, 255)),
)


@settings(max_examples=40, deadline=None)
@given(
    messages=st.lists(message_st, max_size=12),
    cuts=st.lists(st.integers(min_value=1, max_value=70_000), max_size=30),
)
def test_frame_parser_delivers_every_message_whatever_the_read_boundaries(
    messages: list[tuple[str, bytes]], cuts: list[int]
) -> None:
    stream = b""
    expected_text: list[bytes] = []
    expected_binary: list[bytes] = []
    expected_pongs: list[bytes] = []
    for kind, payload in messages:
        if kind == "ping":
            payload = payload[:125]
            stream += encode_frame(0x9, payload)
            expected_pongs.append(payload)
        elif kind == "binary":
            stream += encode_frame(0x2, payload)
            expected_binary.append(payload)
        elif kind == "fragmented":
            half = len(payload) // 2
            stream += encode_frame(0x1, payload[:half], fin=False)
            stream += encode_frame(0xA, b"unsolicited")
            stream += encode_frame(0x0, payload[half:])
            expected_text.append(payload)
        else:
            stream += encode_frame(0x1, payload)
            expected_text.append(payload)
    chunks, pos = [], 0
    for cut in cuts:
        if pos >= len(stream):
            break
        chunks.append(stream[pos : pos + cut])
        pos += cut
    if pos < len(stream):
        chunks.append(stream[pos:])
    rec = Recorder()
    cfg = attrs.evolve(FAST, recv_bytes=4096)
    conn = WebSocketConnection(
        "ws://fake/", rec.on_message, clock=ManualClock(), settings=cfg,
        on_binary=lambda p, t: rec.binary.append(p),
    )  # fmt: skip
    wire = FakeWire(chunks)
    session = _Session(wire, 1, 0, gevent.event.Event())
    conn._read_frames(session)
    assert rec.messages == expected_text
    assert rec.binary == expected_binary
    assert [p for p, op in wire.sent if op == 0xA] == expected_pongs
    assert not conn.stats.errors


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b"\x91\x00", "reserved bits"),
        (b"\x83\x00", "reserved opcode"),
        (b"\x09\x00", "control frames"),
        (b"\x80\x00", "continuation"),
        (b"\x01\x01a\x81\x01b", "inside a fragmented"),
        (b"\x8a\x7e\x00\x80" + b"p" * 128, "control frames"),
    ],
)
def test_frame_parser_rejects_protocol_violations(frame: bytes, why: str) -> None:
    conn = WebSocketConnection("ws://fake/", lambda p, t: None, clock=ManualClock())
    session = _Session(FakeWire([frame]), 1, 0, gevent.event.Event())
    with pytest.raises(ParseError, match=why):
        conn._read_frames(session)
