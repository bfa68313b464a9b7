"""Signed Binance REST against a loopback venue that verifies signatures over the bytes received.

The server below does what Binance does (specs/binance.md 1.2): it takes the query string and
the body exactly as they arrived, cuts the trailing ``signature``, verifies it over
``query + body`` with the account's HMAC secret or Ed25519 public key, checks ``X-MBX-APIKEY``
and applies the ``timestamp`` / ``recvWindow`` rule against its own clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote

import attrs
import gevent.pywsgi
import orjson
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from connectivity.config import Credentials
from connectivity.connector.endpoint import Endpoint
from connectivity.core.clock import NS_PER_MS, NS_PER_SECOND, ManualClock
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import AuthError
from connectivity.runtime import Supervisor
from exchanges.binance.endpoints import ACCOUNT, NEW_ORDER
from exchanges.binance.rest import BinanceRest, parse_server_time

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ED_PEM = (
    b"-----BEGIN PRIVATE KEY-----\n"
    b"MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
    b"-----END PRIVATE KEY-----\n"
)
KEY_ONLY = Endpoint("key_only", "GET", "/api/v3/keyOnly", api_key=True)

Verifier = Callable[[bytes, str], bool]


def hmac_verifier(payload: bytes, signature: str) -> bool:
    expected = hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.lower())  # Binance: case-insensitive


def ed25519_verifier(payload: bytes, signature: str) -> bool:
    private = serialization.load_pem_private_key(ED_PEM, None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    try:
        private.public_key().verify(base64.b64decode(unquote(signature)), payload)
    except (InvalidSignature, ValueError):
        return False
    return True


@attrs.define
class Venue:
    """A loopback venue: its clock runs ``skew_ms`` ahead of the test's clock."""

    clock: ManualClock
    verify: Verifier
    skew_ms: int = 0
    always_1021: bool = False
    seen: list[tuple[str, str, bytes, dict[str, str]]] = attrs.field(factory=list)

    def now_ms(self) -> int:
        return self.clock.time_ns() // NS_PER_MS + self.skew_ms

    def app(self, environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
        path, query = environ["PATH_INFO"], environ["QUERY_STRING"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k[:5] == "HTTP_"
        }
        self.seen.append((path, query, body, headers))
        status, reply = self.handle(path, query, body, headers)
        start(f"{status} X", [("Content-Type", "application/json")])
        return [orjson.dumps(reply)]

    def handle(
        self, path: str, query: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        if path == "/api/v3/time":
            return 200, {"serverTime": self.now_ms()}
        if headers.get("x-mbx-apikey") != API_KEY:
            return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        if path == KEY_ONLY.path:
            return 200, {}
        if body:
            unsigned, _, signature = body.decode("ascii").rpartition("&signature=")
            payload = query.encode("ascii") + unsigned.encode("ascii")
        else:
            unsigned, _, signature = query.rpartition("&signature=")
            payload = unsigned.encode("ascii")  # a non-ASCII byte here would fail the test
        if not signature or not self.verify(payload, signature):
            return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
        params = dict(parse_qsl(payload.decode("ascii").replace("GTCquantity", "GTC&quantity")))
        stamp, window = int(params["timestamp"]), Decimal(params.get("recvWindow", "5000"))
        now = self.now_ms()
        if self.always_1021 or not (stamp < now + 1000 and now - stamp <= window):
            return 400, {"code": -1021, "msg": "Timestamp outside of the recvWindow."}
        return 200, {"symbol": params.get("symbol"), "ok": True}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ns=1_700_000_000 * NS_PER_SECOND)


def serve(venue: Venue) -> Iterator[str]:
    server = gevent.pywsgi.WSGIServer(("127.0.0.1", 0), venue.app, log=None)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.stop(timeout=1)


def connect(url: str, clock: ManualClock, creds: Credentials) -> BinanceRest:
    buckets = [Bucket("weight", 6000, 60), Bucket("orders_10s", 50, 10)]
    limiter = RateLimiter(clock, [*buckets, Bucket("orders_1d", 160_000, 86_400)])
    return BinanceRest.create(url, creds, clock=clock, limiter=limiter)


KEYS = {
    "hmac": (Credentials(api_key=API_KEY, secret=SECRET), hmac_verifier),
    "ed25519": (Credentials(api_key=API_KEY, private_key_pem=ED_PEM), ed25519_verifier),
}


@pytest.fixture(params=sorted(KEYS))
def key(request: pytest.FixtureRequest) -> tuple[Credentials, Verifier]:
    return KEYS[request.param]


@pytest.fixture
def venue(clock: ManualClock, key: tuple[Credentials, Verifier]) -> Venue:
    return Venue(clock, key[1])


@pytest.fixture
def binance(
    venue: Venue, clock: ManualClock, key: tuple[Credentials, Verifier]
) -> Iterator[BinanceRest]:
    for url in serve(venue):
        client = connect(url, clock, key[0])
        try:
            yield client
        finally:
            client.rest.close()


FULLWIDTH_123456 = "".join(chr(0xFF11 + i) for i in range(6))  # the docs' non-ASCII symbol
ORDER = {
    "symbol": FULLWIDTH_123456,  # non-ASCII: percent-encoded before signing, as sent
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": Decimal("1.50"),
    "price": Decimal("0.1"),
    "newClientOrderId": "a/b+c=d",
}


def test_signed_order_verifies_at_the_venue_over_the_exact_bytes_received(
    binance: BinanceRest, venue: Venue
) -> None:
    reply = binance.call(NEW_ORDER, ORDER)
    assert reply.data == {"symbol": FULLWIDTH_123456, "ok": True}
    _, query, body, headers = venue.seen[-1]
    assert headers["x-mbx-apikey"] == API_KEY and body == b""
    assert query.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&")
    assert "&newClientOrderId=a%2Fb%2Bc%3Dd&recvWindow=5000&timestamp=" in query


def test_signed_form_body_verifies_at_the_venue(binance: BinanceRest, venue: Venue) -> None:
    form = {"symbol": "LTCBTC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    query = {"quantity": "1", "price": "0.1"}
    binance.rest.request("POST", "/api/v3/order", params=query, form=form, signed=True)
    _, sent_query, body, _ = venue.seen[-1]
    assert sent_query == "quantity=1&price=0.1" and b"&signature=" in body


def test_api_key_only_endpoint_sends_the_key_header_and_no_signature(
    binance: BinanceRest, venue: Venue
) -> None:
    binance.call(KEY_ONLY)
    _, query, _, headers = venue.seen[-1]
    assert headers["x-mbx-apikey"] == API_KEY and "signature" not in query


def test_local_clock_behind_gets_1021_then_resyncs_and_the_one_retry_succeeds(
    binance: BinanceRest, venue: Venue
) -> None:
    venue.skew_ms = 10_000  # the venue is 10 s ahead; nothing synced yet
    binance.call(ACCOUNT)
    paths = [seen[0] for seen in venue.seen]
    assert paths == ["/api/v3/account", *["/api/v3/time"] * 3, "/api/v3/account"]
    assert binance.timestamp_retries == 1
    assert binance.clock_sync.estimator.offset_ns(venue.clock.time_ns()) == 10 * NS_PER_SECOND


def test_started_clock_sync_keeps_signed_requests_inside_the_window(
    binance: BinanceRest, venue: Venue, clock: ManualClock
) -> None:
    venue.skew_ms = -7_000  # the venue is 7 s behind: unsynced, every timestamp is "ahead"
    supervisor = Supervisor("binance")
    try:
        binance.start(supervisor.spawn)
        assert binance.clock_sync.wait_samples(3, timeout=10)  # the start burst
        binance.call(ACCOUNT)
        assert binance.timestamp_retries == 0
        venue.skew_ms = -7_400  # drifted; the next periodic sample follows it
        clock.advance(60)
        assert binance.clock_sync.wait_samples(4, timeout=10)
        binance.call(ACCOUNT)
        assert binance.timestamp_retries == 0
        paths = [seen[0] for seen in venue.seen]
        assert paths.count("/api/v3/time") == 4 and paths.count("/api/v3/account") == 2
    finally:
        supervisor.close()


def test_a_second_1021_is_raised_not_retried_again(binance: BinanceRest, venue: Venue) -> None:
    venue.always_1021 = True
    with pytest.raises(AuthError) as info:
        binance.call(NEW_ORDER, ORDER)
    assert info.value.code == -1021
    assert [seen[0] for seen in venue.seen].count("/api/v3/order") == 2


def test_bad_signature_is_not_retried_and_no_secret_reaches_errors_or_logs(
    venue: Venue, clock: ManualClock, key: tuple[Credentials, Verifier], caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = attrs.evolve(key[0], secret="x" * 64) if key[0].secret else key[0]
    venue.verify = lambda payload, signature: False  # the venue holds another key
    for url in serve(venue):
        client = connect(url, clock, wrong)
        try:
            with pytest.raises(AuthError) as info:
                client.call(NEW_ORDER, ORDER)
        finally:
            client.rest.close()
    err = info.value
    assert err.code == -1022 and len(venue.seen) == 1
    shown = f"{err} {err!r} {err.args} {caplog.text} {client!r} {client.signer!r}"
    for secret in (SECRET, "x" * 64, "MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9", API_KEY):
        assert secret not in shown
    assert "signature=" not in str(err)


def test_server_time_reply_is_parsed_in_ns_and_garbage_is_a_parse_error() -> None:
    assert parse_server_time({"serverTime": 1499827319559}) == 1499827319559 * NS_PER_MS
    for bad in ({}, {"serverTime": "1"}, {"serverTime": True}, [], {"serverTime": -5}):
        with pytest.raises(ValueError, match="serverTime"):
            parse_server_time(bad)
