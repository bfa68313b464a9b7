"""WsApiClient against a scripted WS-API responder on the loopback websocket server."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import gevent
import gevent.event
import gevent.queue
import orjson
import pytest

from connectivity.core.clock import NS_PER_SECOND, Clock, ManualClock, SystemClock
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import (
    Banned,
    ClosedError,
    ConnectionLost,
    ConnectivityError,
    OrderOutcomeUnknown,
    ParseError,
    RateLimited,
    Rejected,
    RequestTimeout,
    ServerError,
)
from connectivity.runtime import Supervisor
from connectivity.sim.wsserver import ServerConnection, WebSocketServer
from connectivity.transport.websocket import WebSocketSettings
from connectivity.transport.wsapi import (
    Event,
    RateLimitUsage,
    Response,
    WsApiClient,
    WsApiMethod,
    WsApiSettings,
    WsRequest,
)

FAST = WebSocketSettings(
    ping_interval_s=None,
    rollover_after_s=None,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    read_timeout_s=0.5,
    tick_s=0.02,
    close_timeout_s=0.5,
)
BOUND_S = 5.0  # every wait in these tests ends by then, whatever the machine's load


class JsonCodec:
    """A minimal venue format: ``{"id","method","params"}`` out; answers and events in."""

    def __init__(self) -> None:
        self.connections = 0

    def new_connection(self) -> None:
        self.connections += 1

    def encode(self, seq: int, request: WsRequest) -> tuple[Hashable, bytes]:
        message = {"id": seq, "method": request.method, "params": dict(request.params)}
        return seq, orjson.dumps(message)

    def decode(self, frame: bytes) -> Response | Event:
        try:
            data = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            raise ParseError("bad JSON", payload=frame) from exc
        if "event" in data:
            return Event(data["event"])
        usage = tuple(RateLimitUsage(b, n) for b, n in data.get("usage", []))
        return Response(
            data["id"],
            data["status"],
            data.get("result"),
            data.get("error"),
            usage,
            data.get("retry_at_ns"),
            frame,
        )

    def error(self, response: Response, request: WsRequest) -> ConnectivityError | None:
        error = response.error
        if not error:
            return None
        return Rejected(error["msg"], code=error["code"])


Script = Callable[[ServerConnection, dict[str, Any]], None]


class Venue:
    """The scripted responder: records each request, then runs the test's script on it."""

    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or answer_ok
        self.requests: gevent.queue.Queue[dict[str, Any]] = gevent.queue.Queue()
        self.log: list[tuple[int, str]] = []  # (connection number, method)
        self.connections: list[ServerConnection] = []

    def handler(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        number = len(self.connections)
        while not conn.closed:
            message = conn.recv(timeout=BOUND_S)
            if message is None:
                continue
            request = orjson.loads(message[1])
            self.log.append((number, request["method"]))
            self.requests.put(request)
            self.script(conn, request)

    def next_request(self) -> dict[str, Any]:
        return self.requests.get(timeout=BOUND_S)


def answer_ok(conn: ServerConnection, request: dict[str, Any], **extra: Any) -> None:
    reply = {"id": request["id"], "status": 200, "result": request["params"], **extra}
    conn.send_text(orjson.dumps(reply))


def silent(conn: ServerConnection, request: dict[str, Any]) -> None:
    """Answer nothing."""


@pytest.fixture
def venue_server() -> Iterator[Callable[[Venue], WebSocketServer]]:
    servers: list[WebSocketServer] = []

    def start(venue: Venue) -> WebSocketServer:
        server = WebSocketServer(venue.handler)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def clients() -> Iterator[list[WsApiClient]]:
    made: list[WsApiClient] = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    with Supervisor("test") as owner:
        yield owner


def make_client(
    made: list[WsApiClient], server: WebSocketServer, *, clock: Clock | None = None, **kw: Any
) -> WsApiClient:
    kw.setdefault("ws_settings", FAST)
    client = WsApiClient(
        server.url(), JsonCodec(), venue="test", clock=clock or SystemClock(), **kw
    )
    made.append(client)
    client.start()
    assert client.wait_connected(BOUND_S)
    return client


def wait_for(condition: Callable[[], object]) -> None:
    with gevent.Timeout(BOUND_S, AssertionError("condition not met in time")):
        while not condition():
            gevent.sleep(0.005)


def test_concurrent_requests_answered_in_reverse_order_each_get_their_own_answer(
    venue_server: Callable[[Venue], WebSocketServer],
    clients: list[WsApiClient],
    supervisor: Supervisor,
) -> None:
    held: list[dict[str, Any]] = []

    def reverse_after_all(conn: ServerConnection, request: dict[str, Any]) -> None:
        held.append(request)
        if len(held) == 20:
            for waiting in reversed(held):
                answer_ok(conn, waiting)

    client = make_client(clients, venue_server(Venue(reverse_after_all)))
    calls = [
        supervisor.spawn(client.request, WsRequest("echo", {"n": n}, idempotent=True))
        for n in range(20)
    ]
    gevent.joinall(calls, timeout=BOUND_S, raise_error=True)
    assert [call.value.result for call in calls] == [{"n": n} for n in range(20)]
    assert client.stats.requests == client.stats.responses == 20
    assert not client.stats.errors


@pytest.mark.parametrize(
    ("idempotent", "expected"), [(True, RequestTimeout), (False, OrderOutcomeUnknown)]
)
def test_unanswered_request_times_out_on_the_clock_and_its_late_answer_is_counted(
    venue_server: Callable[[Venue], WebSocketServer],
    clients: list[WsApiClient],
    supervisor: Supervisor,
    idempotent: bool,
    expected: type[ConnectivityError],
) -> None:
    clock = ManualClock()
    venue = Venue(silent)
    client = make_client(clients, venue_server(venue), clock=clock)
    call = supervisor.spawn(
        functools.partial(client.request, WsRequest("order", idempotent=idempotent), timeout=5.0)
    )
    request = venue.next_request()
    clock.advance(4.9)
    assert not call.ready()
    clock.advance(0.2)
    call.join(timeout=BOUND_S)
    assert isinstance(call.exception, expected)
    assert client.stats.timeouts == 1
    answer_ok(venue.connections[0], request)  # too late: nobody waits for it any more
    wait_for(lambda: client.stats.errors["UnknownResponseId"] == 1)


def test_connection_dropping_mid_request_leaves_orders_in_doubt_and_queries_retryable(
    venue_server: Callable[[Venue], WebSocketServer],
    clients: list[WsApiClient],
    supervisor: Supervisor,
) -> None:
    venue = Venue(silent)
    client = make_client(clients, venue_server(venue))
    order = supervisor.spawn(client.request, WsRequest("order.place", idempotent=False))
    query = supervisor.spawn(client.request, WsRequest("order.status", idempotent=True))
    venue.next_request()
    venue.next_request()
    venue.connections[0].abort()
    gevent.joinall([order, query], timeout=BOUND_S)
    assert isinstance(order.exception, OrderOutcomeUnknown)
    assert type(query.exception) is ConnectionLost
    assert client.stats.dropped == 2


def test_reconnect_reruns_on_connect_before_any_other_request_goes_out(
    venue_server: Callable[[Venue], WebSocketServer],
    clients: list[WsApiClient],
    supervisor: Supervisor,
) -> None:
    clock = ManualClock()  # the reconnect backoff waits for the test to advance it
    venue = Venue()

    def on_connect(client: WsApiClient) -> None:
        client.request(WsRequest("logon", idempotent=True))
        client.request(WsRequest("subscribe", idempotent=True))

    client = make_client(clients, venue_server(venue), clock=clock, on_connect=on_connect)
    assert client.request(WsRequest("first", idempotent=True)).ok
    venue.connections[0].abort()
    wait_for(lambda: not client.connection.connected.is_set())
    # Issued while the connection is down: it waits for the reconnect and its handshake.
    second = supervisor.spawn(client.request, WsRequest("second", idempotent=True))
    clock.advance(1.0)
    second.join(timeout=BOUND_S)
    assert second.value.ok
    assert venue.log == [
        (1, "logon"),
        (1, "subscribe"),
        (1, "first"),
        (2, "logon"),
        (2, "subscribe"),
        (2, "second"),
    ]
    assert client.connection.stats.reconnects == 1


def test_drop_during_on_connect_fails_its_request_at_once_and_the_handshake_is_retried(
    venue_server: Callable[[Venue], WebSocketServer], clients: list[WsApiClient]
) -> None:
    clock = ManualClock()  # never advanced to the logon's 10 s deadline
    dropped: list[bool] = []

    def drop_first_logon(conn: ServerConnection, request: dict[str, Any]) -> None:
        if not dropped:
            dropped.append(True)
            conn.abort()
            return
        answer_ok(conn, request)

    venue = Venue(drop_first_logon)
    failures: list[Exception] = []

    def on_connect(client: WsApiClient) -> None:
        try:
            client.request(WsRequest("logon", idempotent=True))
        except ConnectionLost as exc:
            failures.append(exc)
            raise

    server = venue_server(venue)
    client = WsApiClient(
        server.url(),
        JsonCodec(),
        venue="test",
        clock=clock,
        ws_settings=FAST,
        on_connect=on_connect,
    )
    clients.append(client)
    client.start()
    wait_for(lambda: failures)  # the connection's end, not the deadline, ended the logon
    clock.advance(1.0)  # the reconnect backoff
    assert client.wait_connected(BOUND_S)
    assert venue.log == [(1, "logon"), (2, "logon")]
    assert client.stats.dropped == 1


def test_request_while_unreachable_fails_typed_at_its_deadline_without_sending(
    clients: list[WsApiClient], supervisor: Supervisor
) -> None:
    clock = ManualClock()

    def refuse(url: str, timeout: float) -> Any:
        raise ConnectionRefusedError("refused")

    client = WsApiClient(
        "ws://127.0.0.1:9/", JsonCodec(), venue="test", clock=clock, factory=refuse
    )
    clients.append(client)
    client.start()
    call = supervisor.spawn(
        functools.partial(client.request, WsRequest("order.place"), timeout=2.0)
    )
    clock.advance(2.5)
    call.join(timeout=BOUND_S)
    assert type(call.exception) is ConnectionLost  # retryable, even for an order: never sent
    assert "nothing was sent" in str(call.exception)
    assert client.stats.requests == 0


@pytest.mark.parametrize(("status", "expected"), [(429, RateLimited), (418, Banned)])
def test_throttled_answer_raises_with_the_venue_retry_time_and_blocks_the_limiter(
    venue_server: Callable[[Venue], WebSocketServer],
    clients: list[WsApiClient],
    status: int,
    expected: type[RateLimited],
) -> None:
    clock = ManualClock()
    retry_at = clock.time_ns() + 7 * NS_PER_SECOND

    def throttle(conn: ServerConnection, request: dict[str, Any]) -> None:
        error = {"code": -1003, "msg": "Too many requests"}
        reply = {"id": request["id"], "status": status, "error": error, "retry_at_ns": retry_at}
        conn.send_text(orjson.dumps(reply))

    limiter = RateLimiter(clock, [Bucket("weight", 6000, 60.0)], max_wait=0)
    client = make_client(clients, venue_server(Venue(throttle)), clock=clock, limiter=limiter)
    with pytest.raises(expected) as caught:
        client.request(WsRequest("order.place"), costs={"weight": 1})
    assert type(caught.value) is expected
    assert caught.value.retry_after == 7.0
    assert caught.value.status == status and caught.value.code == -1003
    assert limiter.blocked_until_ns == retry_at
    with pytest.raises(expected):  # refused locally now: the venue said to hold off
        client.request(WsRequest("order.place"), costs={"weight": 1})


def test_usage_reported_with_answers_corrects_the_shared_limiter(
    venue_server: Callable[[Venue], WebSocketServer], clients: list[WsApiClient]
) -> None:
    clock = ManualClock()

    def with_usage(conn: ServerConnection, request: dict[str, Any]) -> None:
        answer_ok(conn, request, usage=[["weight", 500]])

    limiter = RateLimiter(clock, [Bucket("weight", 6000, 60.0)])
    client = make_client(clients, venue_server(Venue(with_usage)), clock=clock, limiter=limiter)
    method = WsApiMethod("account.status", weight=20, idempotent=True)
    assert client.call(method, {"x": 1}) == {"x": 1}
    assert limiter.usage("weight") == 500


@pytest.mark.parametrize(
    ("status", "idempotent", "expected"),
    [
        (503, False, OrderOutcomeUnknown),
        (503, True, ServerError),
        (400, False, Rejected),
    ],
)
def test_error_status_maps_by_idempotence_and_venue_code(
    venue_server: Callable[[Venue], WebSocketServer],
    clients: list[WsApiClient],
    status: int,
    idempotent: bool,
    expected: type[ConnectivityError],
) -> None:
    def fail(conn: ServerConnection, request: dict[str, Any]) -> None:
        error = {"code": -2010, "msg": "refused"}
        conn.send_text(orjson.dumps({"id": request["id"], "status": status, "error": error}))

    client = make_client(clients, venue_server(Venue(fail)))
    with pytest.raises(expected) as caught:
        client.request(WsRequest("order.place", idempotent=idempotent))
    assert type(caught.value) is expected
    assert caught.value.code == -2010 and caught.value.operation == "order.place"


def test_accepted_error_status_returns_the_answer_for_the_caller_to_read(
    venue_server: Callable[[Venue], WebSocketServer], clients: list[WsApiClient]
) -> None:
    error = {"code": -2021, "msg": "partially failed", "data": {"cancelResult": "SUCCESS"}}

    def partial(conn: ServerConnection, request: dict[str, Any]) -> None:
        conn.send_text(orjson.dumps({"id": request["id"], "status": 409, "error": error}))

    client = make_client(clients, venue_server(Venue(partial)))
    answer = client.request(WsRequest("order.cancelReplace"), accept=(409,))
    assert (answer.status, answer.error) == (409, error)
    with pytest.raises(Rejected):
        client.request(WsRequest("order.cancelReplace"))


def test_malformed_frame_and_unknown_id_are_counted_and_the_connection_goes_on(
    venue_server: Callable[[Venue], WebSocketServer], clients: list[WsApiClient]
) -> None:
    def noisy(conn: ServerConnection, request: dict[str, Any]) -> None:
        conn.send_text(b"{not json")
        conn.send_text(orjson.dumps({"id": 999_999, "status": 200, "result": {}}))
        answer_ok(conn, request)

    client = make_client(clients, venue_server(Venue(noisy)))
    assert client.request(WsRequest("echo", {"a": 1}, idempotent=True)).result == {"a": 1}
    assert client.stats.errors["MalformedFrame"] == 1
    assert client.stats.errors["UnknownResponseId"] == 1
    assert client.connection.stats.connects == 1 and client.connection.stats.reconnects == 0


def test_events_reach_the_handler_and_a_raising_handler_is_counted_not_fatal(
    venue_server: Callable[[Venue], WebSocketServer], clients: list[WsApiClient]
) -> None:
    def with_events(conn: ServerConnection, request: dict[str, Any]) -> None:
        conn.send_text(orjson.dumps({"event": {"e": "executionReport", "i": 1}}))
        conn.send_text(orjson.dumps({"event": {"e": "boom"}}))
        answer_ok(conn, request)

    seen: list[tuple[Any, int]] = []

    def on_event(event: Event, ts_recv_ns: int) -> None:
        if event.payload["e"] == "boom":
            raise ValueError("handler bug")
        seen.append((event.payload, ts_recv_ns))

    client = make_client(clients, venue_server(Venue(with_events)), on_event=on_event)
    assert client.request(WsRequest("subscribe", idempotent=True)).ok
    assert [payload for payload, _ in seen] == [{"e": "executionReport", "i": 1}]
    assert seen[0][1] > 0
    assert client.stats.events == 2
    assert client.stats.errors["EventHandlerFailed"] == 1


def test_close_ends_waiting_requests_and_refuses_new_ones(
    venue_server: Callable[[Venue], WebSocketServer],
    clients: list[WsApiClient],
    supervisor: Supervisor,
) -> None:
    venue = Venue(silent)
    client = make_client(clients, venue_server(venue), settings=WsApiSettings(poll_s=0.01))
    order = supervisor.spawn(client.request, WsRequest("order.place"))
    venue.next_request()
    client.close()
    order.join(timeout=BOUND_S)
    assert isinstance(order.exception, OrderOutcomeUnknown)  # it was sent: in doubt
    with pytest.raises(ClosedError):
        client.request(WsRequest("order.place"))
