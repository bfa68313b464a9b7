"""RestClient: exact signed bytes, limiter feedback, the status/exception mapping table, latency."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

import attrs
import gevent
import gevent.event
import gevent.pool
import gevent.pywsgi
import gevent.server
import orjson
import pytest
import requests
import responses
import urllib3.exceptions

from connectivity.core.clock import NS_PER_SECOND, ManualClock, SystemClock
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import (
    AuthError,
    Banned,
    ClosedError,
    ConfigError,
    ConnectFailed,
    ConnectionLost,
    ConnectivityError,
    OrderOutcomeUnknown,
    OrderRejected,
    ParseError,
    RateLimited,
    Rejected,
    RequestTimeout,
    ServerError,
)
from connectivity.transport.http import (
    EndpointStats,
    OutgoingRequest,
    RestClient,
    encode_params,
)

BASE = "https://api.test.invalid"
API_KEY = "KEY-vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6"
SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class CapturingSigner:
    """Binance-style HMAC over query + body; remembers exactly what it signed."""

    def __init__(self) -> None:
        self.signed: list[bytes] = []

    def sign_request(self, request: OutgoingRequest) -> OutgoingRequest:
        payload = request.query.encode("ascii") + request.body
        self.signed.append(payload)
        signature = hmac.new(SECRET, payload, hashlib.sha256).hexdigest()
        query = (
            f"{request.query}&signature={signature}" if request.query else f"signature={signature}"
        )
        return attrs.evolve(
            request, query=query, headers={**request.headers, "X-MBX-APIKEY": API_KEY}
        )

    def __repr__(self) -> str:
        return "CapturingSigner()"


def server_checks_signature(query: str, body: bytes) -> bool:
    """What the venue does: recompute the HMAC over the bytes that arrived."""
    unsigned, _, signature = query.rpartition("&signature=")
    expected = hmac.new(SECRET, unsigned.encode("ascii") + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ns=1_700_000_040 * NS_PER_SECOND)


@pytest.fixture
def limiter(clock: ManualClock) -> RateLimiter:
    buckets = [Bucket("weight", 6000, 60), Bucket("orders", 50, 10)]
    return RateLimiter(clock, buckets, in_flight={"orders": 1})


@pytest.fixture
def client(clock: ManualClock, limiter: RateLimiter) -> Iterator[RestClient]:
    rest = RestClient(
        BASE,
        venue="binance",
        clock=clock,
        limiter=limiter,
        signer=CapturingSigner(),
        usage_headers={"X-MBX-USED-WEIGHT-1M": "weight", "X-MBX-ORDER-COUNT-10S": "orders"},
    )
    yield rest
    rest.close()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_get_returns_parsed_json_and_records_latency_from_the_clock(
    client: RestClient, clock: ManualClock, mock: responses.RequestsMock
) -> None:
    def reply(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        clock.advance(0.25)
        return 200, {}, b'{"serverTime": 1499827319559}'

    mock.add_callback("GET", BASE + "/api/v3/time", callback=reply)
    response = client.get("/api/v3/time")
    assert response.status == 200
    assert response.data == {"serverTime": 1499827319559}
    assert response.latency_ns == NS_PER_SECOND // 4
    assert response.received_ns - response.sent_ns == NS_PER_SECOND // 4
    stats = client.stats["GET /api/v3/time"]
    assert (stats.count, stats.errors, stats.last_ns) == (1, 0, NS_PER_SECOND // 4)


def test_signed_post_sends_exactly_the_bytes_the_signer_saw(
    client: RestClient, mock: responses.RequestsMock
) -> None:
    seen: list[tuple[str, bytes, str]] = []

    def venue(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        url = str(request.url)
        body = request.body if isinstance(request.body, bytes) else b""
        seen.append((url, body, str(request.headers["X-MBX-APIKEY"])))
        return 200, {}, b'{"orderId": 1}'

    mock.add_callback("POST", BASE + "/api/v3/order", callback=venue)
    client.post(
        "/api/v3/order",
        params=[("symbol", "LTCBTC"), ("side", "BUY"), ("newClientOrderId", "ä é/+=")],
        form={"quantity": Decimal("1.00000000"), "price": Decimal("1E-8"), "postOnly": True},
        signed=True,
    )
    url, body, key = seen[0]
    assert key == API_KEY
    query = url.split("?", 1)[1]
    signed = client._signer.signed[0]  # type: ignore[union-attr]
    assert signed == query.rpartition("&signature=")[0].encode() + body
    assert query.startswith("symbol=LTCBTC&side=BUY&newClientOrderId=%C3%A4%20%C3%A9%2F%2B%3D&")
    assert body == b"quantity=1.00000000&price=0.00000001&postOnly=true"
    assert server_checks_signature(query, body)


def test_signed_query_reaches_the_venue_without_requoting(
    clock: ManualClock, mock: responses.RequestsMock
) -> None:
    class RawSigner:
        def sign_request(self, request: OutgoingRequest) -> OutgoingRequest:
            return attrs.evolve(request, query=request.query + "&sig=a%7Eb%2Fc~d")

    seen: list[str] = []

    def record(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        seen.append(str(request.url))
        return 200, {}, b"{}"

    mock.add_callback("GET", BASE + "/x", callback=record)
    with RestClient(BASE, venue="v", clock=clock, signer=RawSigner()) as rest:
        rest.get("/x", params={"symbols": '["BTCUSDT","BNBBTC"]'}, signed=True)
    # requests would have turned %7E into ~ had it re-quoted the URL.
    assert seen == [BASE + "/x?symbols=%5B%22BTCUSDT%22%2C%22BNBBTC%22%5D&sig=a%7Eb%2Fc~d"]


def test_params_keep_their_order_skip_none_and_refuse_floats() -> None:
    assert encode_params([("b", 2), ("a", "x y"), ("c", None)]) == "b=2&a=x%20y"
    assert encode_params({"a": "x y"}, quote_via=quote_plus) == "a=x+y"
    with pytest.raises(ConfigError, match=r"not 0\.1"):
        encode_params({"price": 0.1})  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        encode_params({"price": Decimal("NaN")})


@pytest.mark.parametrize(
    ("method", "status", "idempotent", "expected"),
    [
        ("POST", 400, None, Rejected),
        ("GET", 401, None, AuthError),
        ("POST", 403, None, AuthError),
        ("GET", 404, None, Rejected),
        ("POST", 409, None, Rejected),
        ("GET", 302, None, Rejected),
        ("GET", 408, None, RequestTimeout),
        ("POST", 408, None, OrderOutcomeUnknown),
        ("GET", 500, None, ServerError),
        ("POST", 503, None, OrderOutcomeUnknown),
        ("DELETE", 502, None, OrderOutcomeUnknown),  # a cancel is not idempotent by default
        ("DELETE", 502, True, ServerError),
        ("GET", 504, False, OrderOutcomeUnknown),
    ],
)
def test_status_classes_map_onto_the_error_tree(
    client: RestClient,
    mock: responses.RequestsMock,
    method: str,
    status: int,
    idempotent: bool | None,
    expected: type[ConnectivityError],
) -> None:
    body = b'{"code":-1121,"msg":"Invalid symbol."}'
    mock.add(method, BASE + "/api/v3/order", body=body, status=status)
    with pytest.raises(expected) as info:
        client.request(
            method, "/api/v3/order", params={"symbol": "NOPE"}, idempotent=idempotent, signed=True
        )
    assert type(info.value) is expected
    assert (info.value.venue, info.value.operation) == ("binance", f"{method} /api/v3/order")
    assert (info.value.status, info.value.code) == (status, -1121)
    assert "Invalid symbol." in str(info.value.payload)
    assert "signature" not in str(info.value) and API_KEY not in str(info.value)
    assert client.stats[f"{method} /api/v3/order"].errors == 1


def test_error_mapper_refines_rejections_but_not_an_order_in_doubt(
    clock: ManualClock, mock: responses.RequestsMock
) -> None:
    def mapper(status: int, body: bytes, headers: Any) -> ConnectivityError | None:
        if b"-1007" in body:  # Binance: "Send status unknown; execution status unknown."
            return OrderOutcomeUnknown("venue timed out internally", code=-1007)
        return OrderRejected("venue said no", code=-2010) if b"-2010" in body else None

    body = b'{"code":-2010,"msg":"Account has insufficient balance."}'
    mock.add("POST", BASE + "/order", body=body, status=400)
    mock.add("POST", BASE + "/order2", body=body, status=500)
    mock.add("POST", BASE + "/order3", body=b"{}", status=400)
    mock.add("POST", BASE + "/order4", body=b'{"code":-1007,"msg":"Timeout"}', status=400)
    with RestClient(BASE, venue="bn", clock=clock, error_mapper=mapper) as rest:
        with pytest.raises(OrderRejected) as info:
            rest.post("/order")
        assert (info.value.venue, info.value.operation, info.value.status) == (
            "bn",
            "POST /order",
            400,
        )
        with pytest.raises(OrderOutcomeUnknown):
            rest.post("/order2")
        with pytest.raises(Rejected):
            rest.post("/order3")  # the mapper declined: default mapping
        with pytest.raises(OrderOutcomeUnknown) as unknown:
            rest.post("/order4")  # a 4xx that the venue says is in doubt
        assert (unknown.value.code, unknown.value.status) == (-1007, 400)


@pytest.mark.parametrize(
    ("raised", "method", "expected"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "GET", RequestTimeout),
        (requests.exceptions.ReadTimeout("read timed out"), "POST", OrderOutcomeUnknown),
        (requests.exceptions.ConnectionError("reset by peer"), "GET", ConnectionLost),
        (requests.exceptions.ConnectionError("reset by peer"), "POST", OrderOutcomeUnknown),
        (requests.exceptions.ChunkedEncodingError("cut"), "GET", ConnectionLost),
        (
            requests.exceptions.ConnectionError(
                urllib3.exceptions.ProtocolError("Connection aborted.")
            ),
            "DELETE",
            OrderOutcomeUnknown,
        ),
        (
            requests.exceptions.ConnectionError(
                urllib3.exceptions.MaxRetryError(
                    None,  # type: ignore[arg-type]
                    "/",
                    urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
                )
            ),
            "POST",
            ConnectFailed,  # never connected, so the order was certainly not sent
        ),
        (requests.exceptions.ConnectTimeout("connect timed out"), "POST", ConnectFailed),
        (requests.exceptions.SSLError("certificate verify failed"), "GET", ConnectFailed),
        (requests.exceptions.InvalidURL("bad"), "GET", ConfigError),
    ],
)
def test_transport_exceptions_are_translated_once_with_cause(
    client: RestClient,
    mock: responses.RequestsMock,
    raised: Exception,
    method: str,
    expected: type[ConnectivityError],
) -> None:
    mock.add(method, BASE + "/api/v3/order", body=raised)
    with pytest.raises(expected) as info:
        client.request(method, "/api/v3/order", params={"symbol": "BTCUSDT"}, signed=True)
    assert type(info.value) is expected
    assert info.value.__cause__ is raised
    assert info.value.operation == f"{method} /api/v3/order"
    assert "BTCUSDT" not in str(info.value)  # no query string in the error


def test_malformed_json_in_a_2xx_reply_is_a_parse_error_with_truncated_payload(
    client: RestClient, mock: responses.RequestsMock
) -> None:
    mock.add("GET", BASE + "/api/v3/depth", body=b'{"lastUpdateId": 1, "bids": [' + b"x" * 5000)
    with pytest.raises(ParseError) as info:
        client.get("/api/v3/depth")
    assert info.value.status == 200
    assert info.value.payload is not None and len(info.value.payload) < 600
    assert info.value.payload.startswith('{"lastUpdateId": 1')


def test_empty_2xx_body_gives_no_data(client: RestClient, mock: responses.RequestsMock) -> None:
    mock.add("DELETE", BASE + "/api/v3/userDataStream", body=b"", status=204)
    assert client.request("DELETE", "/api/v3/userDataStream").data is None


def test_usage_headers_correct_the_shared_limiter(
    client: RestClient, limiter: RateLimiter, mock: responses.RequestsMock
) -> None:
    headers = {"X-MBX-USED-WEIGHT-1M": "5990", "X-MBX-ORDER-COUNT-10S": "oops"}
    mock.add("GET", BASE + "/api/v3/account", json={}, headers=headers)
    client.get("/api/v3/account", costs={"weight": 20})
    assert limiter.usage("weight") == 5990
    assert client.bad_usage_headers == 1
    with pytest.raises(RateLimited) as info:
        client.get("/api/v3/account", costs={"weight": 20}, max_wait=0)
    assert info.value.operation == "GET /api/v3/account"
    assert len(mock.calls) == 1  # refused locally: nothing was sent


def test_429_blocks_the_limiter_for_retry_after_and_raises_rate_limited(
    client: RestClient, limiter: RateLimiter, clock: ManualClock, mock: responses.RequestsMock
) -> None:
    mock.add(
        "GET",
        BASE + "/api/v3/depth",
        body=b'{"code":-1003,"msg":"Too many requests."}',
        status=429,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(RateLimited) as info:
        client.get("/api/v3/depth", costs={"weight": 5})
    assert type(info.value) is RateLimited
    assert (info.value.retry_after, info.value.code) == (7.0, -1003)
    assert limiter.blocked_until_ns == clock.time_ns() + 7 * NS_PER_SECOND
    with pytest.raises(RateLimited) as again:
        client.get("/api/v3/depth", costs={"weight": 5}, max_wait=0)
    assert again.value.retry_after == 7.0
    assert len(mock.calls) == 1


def test_418_bans_with_retry_after_and_defaults_when_the_header_is_missing(
    client: RestClient, limiter: RateLimiter, clock: ManualClock, mock: responses.RequestsMock
) -> None:
    mock.add("GET", BASE + "/a", status=418, headers={"Retry-After": "300"}, body=b"")
    mock.add("GET", BASE + "/b", status=418, body=b"")
    with pytest.raises(Banned) as info:
        client.get("/a")
    assert info.value.retry_after == 300.0
    with pytest.raises(Banned):
        client.get("/a", costs={"weight": 1})  # the limiter now refuses before sending
    clock.advance(300)
    with pytest.raises(Banned) as default:
        client.get("/b")
    assert default.value.retry_after == 120.0
    assert limiter.blocked_until_ns == clock.time_ns() + 120 * NS_PER_SECOND


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2.5", 2.5),
        ("-3", 0.0),
        ("inf", 1.0),
        ("soon", 1.0),
        ("Tue, 14 Nov 2023 22:14:10 GMT", 10.0),
    ],
)
def test_retry_after_accepts_seconds_or_an_http_date_and_defaults_otherwise(
    client: RestClient, mock: responses.RequestsMock, header: str, expected: float
) -> None:
    # the clock reads 2023-11-14 22:14:00 UTC
    mock.add("GET", BASE + "/x", status=429, headers={"Retry-After": header}, body=b"")
    with pytest.raises(RateLimited) as info:
        client.get("/x")
    assert info.value.retry_after == expected


def test_signing_happens_after_the_limiter_wait_so_timestamps_are_fresh(
    client: RestClient, limiter: RateLimiter, clock: ManualClock, mock: responses.RequestsMock
) -> None:
    signed_at: list[int] = []

    class TimestampSigner:
        def sign_request(self, request: OutgoingRequest) -> OutgoingRequest:
            signed_at.append(clock.time_ns())
            return attrs.evolve(request, query=f"{request.query}&timestamp={clock.time_ns()}")

    mock.add("POST", BASE + "/api/v3/order", json={"orderId": 1})
    client._signer = TimestampSigner()
    limiter.acquire({"orders": 50})
    start = clock.time_ns()
    g = gevent.spawn(client.post, "/api/v3/order", signed=True, costs={"orders": 1}, max_wait=20)
    gevent.sleep(0)
    assert signed_at == [] and not g.dead
    clock.advance(10)
    assert g.get(timeout=5).data == {"orderId": 1}
    assert signed_at == [start + 10 * NS_PER_SECOND]
    assert str(mock.calls[0].request.url).endswith(f"&timestamp={signed_at[0]}")


def test_in_flight_slot_is_held_for_the_call_and_a_full_cap_refuses_locally(
    client: RestClient, limiter: RateLimiter, mock: responses.RequestsMock
) -> None:
    held_during: list[int] = []

    def venue(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        held_during.append(limiter.in_flight_count("orders"))
        return 200, {}, b"{}"

    mock.add_callback("POST", BASE + "/api/v3/order", callback=venue)
    client.post("/api/v3/order", in_flight="orders", costs={"orders": 1})
    assert held_during == [1] and limiter.in_flight_count("orders") == 0
    with limiter.in_flight("orders"):
        with pytest.raises(RateLimited) as info:
            client.post("/api/v3/order", in_flight="orders", max_wait=0)
    assert (info.value.venue, info.value.operation, info.value.status) == (
        "binance",
        "POST /api/v3/order",
        None,  # refused before sending
    )
    assert len(mock.calls) == 1 and limiter.usage("orders") == 1


def test_header_that_requests_refuses_is_a_config_error_before_sending(
    client: RestClient, mock: responses.RequestsMock
) -> None:
    with pytest.raises(ConfigError) as info:
        client.post("/api/v3/order", headers={"X-Bad": "a\r\nInjected: 1"})
    assert isinstance(info.value.__cause__, requests.exceptions.InvalidHeader)
    assert len(mock.calls) == 0


def test_costs_without_a_limiter_are_a_config_error(clock: ManualClock) -> None:
    with RestClient(BASE, venue="v", clock=clock) as rest:
        with pytest.raises(ConfigError, match="no limiter"):
            rest.get("/x", costs={"weight": 1})


def test_stats_can_be_keyed_by_an_endpoint_name_instead_of_the_path(
    client: RestClient, mock: responses.RequestsMock
) -> None:
    mock.add("GET", BASE + "/orders/123", json={})
    mock.add("GET", BASE + "/orders/456", json={})
    client.get("/orders/123", endpoint="order_status")
    client.get("/orders/456", endpoint="order_status")
    assert list(client.stats) == ["order_status"]
    assert client.stats["order_status"].count == 2


def test_secrets_stay_out_of_repr_and_misuse_raises_typed_errors(
    client: RestClient, clock: ManualClock
) -> None:
    assert API_KEY not in repr(client) and "binance" in repr(client)
    out = OutgoingRequest("GET", "/x", "a=1&signature=abc", b"", {"X-MBX-APIKEY": API_KEY})
    assert "signature" not in repr(out) and API_KEY not in repr(out)
    with pytest.raises(ConfigError):
        client.post("/x", form={"a": "1"}, json={"a": 1})
    with RestClient(BASE, venue="v", clock=clock) as unsigned:
        with pytest.raises(ConfigError, match="no signer"):
            unsigned.get("/x", signed=True)
    client.close()
    with pytest.raises(ClosedError):
        client.get("/x")


def test_json_body_is_sent_as_the_exact_orjson_bytes(
    clock: ManualClock, mock: responses.RequestsMock
) -> None:
    bodies: list[Any] = []

    def record(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        bodies.append(request.body)
        return 200, {}, b"[]"

    mock.add_callback("POST", BASE + "/j", callback=record)
    with RestClient(BASE, venue="v", clock=clock) as rest:
        assert rest.post("/j", json={"px": Decimal("1E-8"), "n": 1}).data == []
        with pytest.raises(ConfigError):
            rest.post("/j", json={"when": object()})
    assert bodies == [b'{"px":"0.00000001","n":1}']


def test_endpoint_stats_percentiles_over_recent_samples() -> None:
    stats = EndpointStats()
    assert stats.percentile(50) is None
    for value in range(1, 101):
        stats.record(value, ok=value % 10 != 0)
    assert (stats.percentile(50), stats.percentile(99), stats.percentile(100)) == (50, 99, 100)
    assert stats.summary()["errors"] == 10
    for _ in range(EndpointStats.WINDOW):
        stats.record(7, ok=True)
    assert stats.percentile(99) == 7 and stats.count == 100 + EndpointStats.WINDOW


# -- loopback: a real HTTP server on 127.0.0.1 -----------------------------------------------


class LoopbackVenue:
    """A WSGI venue that checks signatures and holds requests until ``hold`` are in flight."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.active = 0
        self.max_active = 0
        self.ports: set[str] = set()
        self.received: list[tuple[str, bytes]] = []
        self.saturated = gevent.event.Event()
        self.release = gevent.event.Event()
        self.release.set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        query, body = environ["QUERY_STRING"], environ["wsgi.input"].read()
        self.received.append((query, body))
        self.ports.add(environ["REMOTE_PORT"])
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        if self.active >= self.hold:
            self.saturated.set()
        self.saturated.wait(timeout=5)
        self.release.wait(timeout=5)
        self.active -= 1
        ok = "signature=" not in query or server_checks_signature(query, body)
        status = "200 OK" if ok else "401 Unauthorized"
        used = str(len(self.received))
        start_response(status, [("Content-Type", "application/json"), ("X-Used", used)])
        return [orjson.dumps({"ok": ok})]


@pytest.fixture
def venue() -> Iterator[tuple[LoopbackVenue, str]]:
    app = LoopbackVenue(hold=8)
    server = gevent.pywsgi.WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        app.release.set()
        server.stop(timeout=2)


def test_many_greenlets_share_one_bounded_pool_and_signed_bytes_arrive_intact(
    venue: tuple[LoopbackVenue, str],
) -> None:
    app, base = venue
    limiter = RateLimiter(SystemClock(), [Bucket("weight", 6000, 60)])
    signer = CapturingSigner()
    rest = RestClient(
        base,
        venue="loop",
        clock=SystemClock(),
        limiter=limiter,
        signer=signer,
        usage_headers={"X-Used": "weight"},
        pool_maxsize=8,
        timeout=(2.0, 5.0),
    )

    def place(i: int) -> Any:
        return rest.post(
            "/api/v3/order",
            params=[("symbol", "BTCUSDT"), ("newClientOrderId", f"é-{i}")],
            form=[("price", Decimal("0.10")), ("quantity", str(i))],
            signed=True,
            costs={"weight": 1},
        ).data

    try:
        greenlets = [gevent.spawn(place, i) for i in range(40)]
        gevent.joinall(greenlets, timeout=10, raise_error=True)
        assert [g.value for g in greenlets] == [{"ok": True}] * 40
    finally:
        rest.close()
    assert app.max_active == 8  # saturated the pool, never more sockets than its size
    assert len(app.ports) <= 8
    arrived = sorted(
        query.rpartition("&signature=")[0].encode() + body for query, body in app.received
    )
    assert arrived == sorted(signer.signed)
    assert rest.stats["POST /api/v3/order"].count == 40
    assert limiter.usage("weight") >= 40


def test_unreachable_port_is_connect_failed_even_for_an_order(venue: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with RestClient(f"http://127.0.0.1:{port}", venue="loop", clock=SystemClock()) as rest:
        with pytest.raises(ConnectFailed):
            rest.post("/api/v3/order", form={"symbol": "BTCUSDT"})


def test_tls_to_a_plain_http_server_is_connect_failed(venue: tuple[LoopbackVenue, str]) -> None:
    _, base = venue
    with RestClient(base.replace("http:", "https:"), venue="loop", clock=SystemClock()) as rest:
        with pytest.raises(ConnectFailed, match="TLS"):
            rest.post("/api/v3/order")


def test_read_timeout_on_an_order_leaves_it_in_doubt(venue: tuple[LoopbackVenue, str]) -> None:
    app, base = venue
    app.hold = 1
    app.release.clear()  # the venue accepts the order but answers too late
    with RestClient(base, venue="loop", clock=SystemClock(), timeout=(2.0, 0.2)) as rest:
        with pytest.raises(OrderOutcomeUnknown, match="read timeout"):
            rest.post("/api/v3/order", form={"symbol": "BTCUSDT"})
        assert len(app.received) == 1
        app.release.set()


def test_exhausted_pool_times_out_without_sending(venue: tuple[LoopbackVenue, str]) -> None:
    app, base = venue
    app.hold = 1
    app.release.clear()
    rest = RestClient(base, venue="loop", clock=SystemClock(), pool_maxsize=1, pool_timeout=0.1)
    try:
        first = gevent.spawn(rest.get, "/slow")
        assert app.saturated.wait(timeout=5)  # the only pooled connection is in use
        with pytest.raises(ConnectFailed, match="nothing was sent"):
            rest.post("/api/v3/order", form={"symbol": "BTCUSDT"})
        app.release.set()
        assert first.get(timeout=5).data == {"ok": True}
        assert len(app.received) == 1
    finally:
        rest.close()


def test_connection_dropped_after_the_request_left_leaves_an_order_in_doubt() -> None:
    received: list[bytes] = []

    def read_then_hang_up(sock: socket.socket, address: Any) -> None:
        received.append(sock.recv(65536))
        sock.close()

    server = gevent.server.StreamServer(("127.0.0.1", 0), read_then_hang_up)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with RestClient(base, venue="loop", clock=SystemClock()) as rest:
            with pytest.raises(OrderOutcomeUnknown, match="connection dropped"):
                rest.post("/api/v3/order", form={"symbol": "BTCUSDT"})
            with pytest.raises(ConnectionLost):
                rest.get("/api/v3/time")
    finally:
        server.stop(timeout=2)
    assert received[0].startswith(b"POST /api/v3/order ")


class KeepAliveVenue:
    """Answers each request with the status its path names, keeping the connection alive.

    ``open`` counts the client connections whose socket the client has not closed yet.
    """

    BODY = b'{"code":-1121,"msg":"Invalid symbol."}'

    def __init__(self) -> None:
        self.open = 0

    def __call__(self, sock: socket.socket, address: Any) -> None:
        self.open += 1
        buf = b""
        try:
            while chunk := sock.recv(65536):  # b"" once the client closed its socket
                buf += chunk
                while b"\r\n\r\n" in buf:
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    status = int(head.split(b" ")[1].strip(b"/"))
                    sock.sendall(
                        b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (status, len(self.BODY), self.BODY)
                    )
        finally:
            self.open -= 1
            sock.close()


@pytest.mark.parametrize("status", [200, 400, 404, 418, 429, 500, 503])
def test_close_shuts_the_socket_even_while_the_error_of_a_non_2xx_reply_is_held(
    status: int,
) -> None:
    app = KeepAliveVenue()
    # A pool, so that stop() kills a handler still waiting when the test fails.
    server = gevent.server.StreamServer(("127.0.0.1", 0), app, spawn=gevent.pool.Pool(4))
    server.start()
    held: list[ConnectivityError] = []  # with its traceback, as a caller logging it later would
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        rest = RestClient(base, venue="loop", clock=SystemClock())
        try:
            rest.get(f"/{status}")
        except ConnectivityError as exc:
            held.append(exc)
        assert app.open == 1 and len(held) == (status != 200)
        rest.close()
        with gevent.Timeout(5, AssertionError("the socket stayed open after close()")):
            while app.open:
                gevent.sleep(0.005)
    finally:
        server.stop(timeout=2)
