"""Binance WS-API: codec shapes and signing, error mapping, logon and user data on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import gevent
import gevent.queue
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from connectivity.config import Credentials
from connectivity.core.clock import NS_PER_MS, ManualClock
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import (
    AuthError,
    ConfigError,
    OrderOutcomeUnknown,
    OrderRejected,
    ParseError,
    RateLimited,
)
from connectivity.sim.wsserver import ServerConnection, WebSocketServer
from connectivity.transport.websocket import WebSocketSettings
from connectivity.transport.wsapi import (
    Event,
    RateLimitUsage,
    Response,
    WsApiClient,
    WsRequest,
)
from exchanges.binance.auth import BinanceSigner
from exchanges.binance.endpoints import WS_ORDER_PLACE, WS_ORDER_STATUS
from exchanges.binance.wsapi import BinanceWsApiCodec, binance_ws_api_client
from tests.exchanges.binance.test_auth import V1_KEY, V1_SECRET, V5_PEM

BOUND_S = 5.0
FAST = WebSocketSettings(
    ping_interval_s=None,
    rollover_after_s=None,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    read_timeout_s=0.5,
    tick_s=0.02,
    close_timeout_s=0.5,
)
HMAC_SIGNER = BinanceSigner(Credentials(api_key=V1_KEY, secret=V1_SECRET))
ED_SIGNER = BinanceSigner(Credentials(api_key="ed-key", private_key_pem=V5_PEM))
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "price": Decimal("0.00000100"), "quantity": 1}


def ws_payload(params: dict[str, Any]) -> bytes:
    """The WS-API signing rule, written out independently of the signer."""
    text = "&".join(
        f"{k}={'true' if v is True else 'false' if v is False else v}"
        for k, v in sorted(params.items())
        if k != "signature"
    )
    return text.encode("utf-8")


def ed_public_key() -> ed25519.Ed25519PublicKey:
    key = serialization.load_pem_private_key(V5_PEM, password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.public_key()


def encoded(codec: BinanceWsApiCodec, request: WsRequest, seq: int = 7) -> dict[str, Any]:
    key, frame = codec.encode(seq, request)
    message: dict[str, Any] = orjson.loads(frame)
    assert key == message["id"] == seq
    return message


# -- codec -----------------------------------------------------------------------------------


def test_signed_request_with_hmac_key_carries_key_timestamp_and_sorted_param_signature() -> None:
    clock = ManualClock()
    codec = BinanceWsApiCodec(HMAC_SIGNER, clock=clock, recv_window_ms=5000)
    message = encoded(codec, WsRequest("order.place", ORDER, signed=True))
    params = message["params"]
    assert message["method"] == "order.place"
    assert params["price"] == "0.00000100" and params["quantity"] == 1
    assert params["timestamp"] == clock.time_ns() // NS_PER_MS
    assert params["recvWindow"] == 5000 and params["apiKey"] == V1_KEY
    expected = hmac.new(V1_SECRET.encode(), ws_payload(params), hashlib.sha256).hexdigest()
    assert params["signature"] == expected


def test_after_logon_a_signed_request_carries_only_its_timestamp_until_the_next_connection() -> (
    None
):
    clock = ManualClock()
    codec = BinanceWsApiCodec(ED_SIGNER, clock=clock, timestamp_ms=lambda: 42)
    codec.session_authenticated = True
    params = encoded(codec, WsRequest("order.place", ORDER, signed=True))["params"]
    assert params["timestamp"] == 42
    assert "apiKey" not in params and "signature" not in params
    codec.new_connection()
    params = encoded(codec, WsRequest("order.place", ORDER, signed=True))["params"]
    assert params["apiKey"] == "ed-key"
    ed_public_key().verify(base64.b64decode(params["signature"]), ws_payload(params))


def test_unsigned_request_without_params_has_no_params_and_floats_are_refused() -> None:
    codec = BinanceWsApiCodec(None, clock=ManualClock())
    assert encoded(codec, WsRequest("time")) == {"id": 7, "method": "time"}
    with pytest.raises(ConfigError, match="price"):
        codec.encode(8, WsRequest("order.place", {"price": 0.1}))
    with pytest.raises(ConfigError, match="signer"):
        codec.encode(9, WsRequest("order.place", ORDER, signed=True))


def test_answer_rate_limits_map_to_limiter_buckets_and_unmetered_ones_are_ignored() -> None:
    frame = orjson.dumps(
        {
            "id": 3,
            "status": 200,
            "result": {"orderId": 1},
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 6000, "count": 12},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": 50, "count": 2},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                 "limit": 160000, "count": 9},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
                 "limit": 61000, "count": 40},
            ],
        }
    )  # fmt: skip
    answer = BinanceWsApiCodec(None, clock=ManualClock()).decode(frame)
    assert isinstance(answer, Response)
    assert (answer.id, answer.status, answer.result) == (3, 200, {"orderId": 1})
    assert answer.rate_limits == (
        RateLimitUsage("weight", 12),
        RateLimitUsage("orders_10s", 2),
        RateLimitUsage("orders_1d", 9),
    )


def test_throttled_answer_retry_after_is_an_epoch_ms_time() -> None:
    error = {"code": -1003, "msg": "Too much request weight used", "data": {"retryAfter": 1_700}}
    frame = orjson.dumps({"id": 4, "status": 429, "error": error})
    answer = BinanceWsApiCodec(None, clock=ManualClock()).decode(frame)
    assert isinstance(answer, Response)
    assert answer.retry_at_ns == 1_700 * NS_PER_MS and answer.error == error


def test_user_data_envelope_decodes_as_an_event_of_its_subscription() -> None:
    frame = b'{"subscriptionId":0,"event":{"e":"executionReport","i":5}}'
    event = BinanceWsApiCodec(None, clock=ManualClock()).decode(frame)
    assert event == Event({"e": "executionReport", "i": 5}, 0)


@pytest.mark.parametrize(
    "frame",
    [
        b"{oops",
        b"[1, 2]",
        b'{"id": 1, "status": "200"}',
        b'{"id": 1.5, "status": 200}',
        b'{"id": 1, "status": 400, "error": "bad"}',
        b'{"id": 1, "status": 200, "rateLimits": {}}',
        b'{"id": 1, "status": 200, "rateLimits": [{"rateLimitType": "ORDERS"}]}',
        b'{"subscriptionId": 0, "event": [1]}',
        b'{"result": {}}',
    ],
)
def test_malformed_frame_raises_parse_error(frame: bytes) -> None:
    with pytest.raises(ParseError):
        BinanceWsApiCodec(None, clock=ManualClock()).decode(frame)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(400, -2010, OrderRejected), (401, -2015, AuthError), (400, -1021, AuthError)],
)
def test_venue_error_codes_map_through_the_binance_table(
    status: int, code: int, expected: type[Exception]
) -> None:
    codec = BinanceWsApiCodec(None, clock=ManualClock())
    answer = Response(1, status, None, {"code": code, "msg": "no"}, raw=b"{}")
    error = codec.error(answer, WsRequest("order.place"))
    assert type(error) is expected
    assert error is not None and error.code == code and error.operation == "order.place"


# -- on a loopback venue ---------------------------------------------------------------------

Script = Callable[[ServerConnection, dict[str, Any]], dict[str, Any] | None]


class ScriptedVenue:
    """Answers each method with the test's script (None: no answer); checks signatures."""

    def __init__(self, signer_check: Callable[[dict[str, Any]], bool]) -> None:
        self.check = signer_check
        self.scripts: dict[str, Script] = {}
        self.log: list[tuple[int, str, dict[str, Any]]] = []
        self.connections: list[ServerConnection] = []
        self.bad_signatures = 0

    def handler(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        number = len(self.connections)
        while not conn.closed:
            message = conn.recv(timeout=BOUND_S)
            if message is None:
                continue
            request = orjson.loads(message[1])
            params = request.get("params", {})
            self.log.append((number, request["method"], params))
            if "signature" in params and not self.check(params):
                self.bad_signatures += 1
            script = self.scripts.get(request["method"], lambda conn, request: {})
            result = script(conn, request)
            if result is not None:
                reply = {"id": request["id"], "status": 200, "result": result}
                conn.send_text(orjson.dumps(reply))


def ed_check(params: dict[str, Any]) -> bool:
    try:
        ed_public_key().verify(base64.b64decode(params["signature"]), ws_payload(params))
    except Exception:
        return False
    return True


def hmac_check(params: dict[str, Any]) -> bool:
    expected = hmac.new(V1_SECRET.encode(), ws_payload(params), hashlib.sha256).hexdigest()
    return bool(params["signature"] == expected)


@pytest.fixture
def servers() -> Iterator[list[WebSocketServer]]:
    made: list[WebSocketServer] = []
    yield made
    for server in made:
        server.close()


@pytest.fixture
def clients() -> Iterator[list[WsApiClient]]:
    made: list[WsApiClient] = []
    yield made
    for client in made:
        client.close()


def start(
    venue: ScriptedVenue,
    servers: list[WebSocketServer],
    clients: list[WsApiClient],
    signer: BinanceSigner,
    clock: ManualClock,
    **kw: Any,
) -> WsApiClient:
    server = WebSocketServer(venue.handler)
    server.start()
    servers.append(server)
    client = binance_ws_api_client(server.url(), signer, clock=clock, ws_settings=FAST, **kw)
    clients.append(client)
    client.start()
    assert client.wait_connected(BOUND_S)
    return client


def wait_for(condition: Callable[[], object]) -> None:
    with gevent.Timeout(BOUND_S, AssertionError("condition not met in time")):
        while not condition():
            gevent.sleep(0.005)


def test_ed25519_key_logs_on_subscribes_and_does_both_again_after_a_reconnect(
    servers: list[WebSocketServer], clients: list[WsApiClient]
) -> None:
    clock = ManualClock()
    venue = ScriptedVenue(ed_check)
    venue.scripts["userDataStream.subscribe"] = lambda conn, request: {"subscriptionId": 0}

    def place(conn: ServerConnection, request: dict[str, Any]) -> dict[str, Any]:
        event = {"e": "executionReport", "c": request["params"]["newClientOrderId"]}
        conn.send_text(orjson.dumps({"subscriptionId": 0, "event": event}))
        return {"orderId": 1}

    venue.scripts["order.place"] = place
    events: gevent.queue.Queue[Event] = gevent.queue.Queue()
    client = start(venue, servers, clients, ED_SIGNER, clock, on_event=lambda e, ts: events.put(e))
    assert client.call(WS_ORDER_PLACE, {**ORDER, "newClientOrderId": "x1"}) == {"orderId": 1}
    assert events.get(timeout=BOUND_S).payload == {"e": "executionReport", "c": "x1"}
    venue.connections[0].abort()
    wait_for(lambda: not client.connection.connected.is_set())
    clock.advance(1.0)  # the reconnect backoff
    assert client.wait_connected(BOUND_S)
    methods = [(number, method) for number, method, _ in venue.log]
    assert methods == [
        (1, "session.logon"),
        (1, "userDataStream.subscribe"),
        (1, "order.place"),
        (2, "session.logon"),
        (2, "userDataStream.subscribe"),
    ]
    logon, order = venue.log[0][2], venue.log[2][2]
    assert logon["apiKey"] == "ed-key" and "signature" in logon
    assert set(order) == set(ORDER) | {"newClientOrderId", "timestamp"}  # the session vouches
    assert venue.bad_signatures == 0


def test_hmac_key_subscribes_to_user_data_with_a_signed_request(
    servers: list[WebSocketServer], clients: list[WsApiClient]
) -> None:
    venue = ScriptedVenue(hmac_check)
    venue.scripts["userDataStream.subscribe.signature"] = lambda c, r: {"subscriptionId": 0}
    client = start(venue, servers, clients, HMAC_SIGNER, ManualClock())
    assert client.call(WS_ORDER_STATUS, {"symbol": "BTCUSDT", "orderId": 1}) == {}
    (_, method, params), (_, _, query) = venue.log
    assert method == "userDataStream.subscribe.signature"
    assert set(params) == {"apiKey", "timestamp", "signature"}
    assert {"apiKey", "signature"} <= set(query)
    assert venue.bad_signatures == 0


def test_order_throttled_with_retry_after_raises_rate_limited_with_the_seconds_left(
    servers: list[WebSocketServer], clients: list[WsApiClient]
) -> None:
    clock = ManualClock()
    retry_at_ms = clock.time_ns() // NS_PER_MS + 3_500

    def throttle(conn: ServerConnection, request: dict[str, Any]) -> None:
        error = {"code": -1015, "msg": "Too many new orders", "data": {"retryAfter": retry_at_ms}}
        rate = {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                "limit": 6000, "count": 37}  # fmt: skip
        reply = {"id": request["id"], "status": 429, "error": error, "rateLimits": [rate]}
        conn.send_text(orjson.dumps(reply))

    venue = ScriptedVenue(hmac_check)
    venue.scripts["order.place"] = throttle
    buckets = [Bucket("weight", 6000, 60.0), Bucket("orders_10s", 50, 10.0),
               Bucket("orders_1d", 160_000, 86_400.0)]  # fmt: skip
    limiter = RateLimiter(clock, buckets, max_wait=0)
    client = start(venue, servers, clients, HMAC_SIGNER, clock, limiter=limiter, user_data=False)
    with pytest.raises(RateLimited) as caught:
        client.call(WS_ORDER_PLACE, ORDER)
    assert caught.value.retry_after == 3.5
    assert (caught.value.status, caught.value.code) == (429, -1015)
    assert limiter.blocked_until_ns == retry_at_ms * NS_PER_MS
    assert limiter.usage("weight") == 37
    assert limiter.blocked_until_ns - clock.time_ns() == 3_500 * NS_PER_MS


def test_order_answered_with_a_server_error_is_in_doubt(
    servers: list[WebSocketServer], clients: list[WsApiClient]
) -> None:
    def fail(conn: ServerConnection, request: dict[str, Any]) -> None:
        error = {"code": -1007, "msg": "Timeout waiting for response from backend server."}
        conn.send_text(orjson.dumps({"id": request["id"], "status": 503, "error": error}))

    venue = ScriptedVenue(hmac_check)
    venue.scripts["order.place"] = fail
    client = start(venue, servers, clients, HMAC_SIGNER, ManualClock(), user_data=False)
    with pytest.raises(OrderOutcomeUnknown) as caught:
        client.call(WS_ORDER_PLACE, ORDER)
    assert caught.value.code == -1007 and caught.value.status == 503


def test_server_shutdown_event_rolls_over_to_a_new_logged_on_subscribed_connection(
    servers: list[WebSocketServer], clients: list[WsApiClient]
) -> None:
    venue = ScriptedVenue(ed_check)
    venue.scripts["userDataStream.subscribe"] = lambda conn, request: {"subscriptionId": 0}
    events: list[Event] = []
    client = start(
        venue, servers, clients, ED_SIGNER, ManualClock(), on_event=lambda e, ts: events.append(e)
    )
    venue.connections[0].send_text(b'{"event":{"e":"serverShutdown","E":1}}')
    wait_for(lambda: client.connection.stats.rollovers == 1)
    methods = [(number, method) for number, method, _ in venue.log]
    assert methods == [
        (1, "session.logon"),
        (1, "userDataStream.subscribe"),
        (2, "session.logon"),
        (2, "userDataStream.subscribe"),
    ]
    assert [e.payload["e"] for e in events] == ["serverShutdown"]
    assert client.connection.stats.reconnects == 0
