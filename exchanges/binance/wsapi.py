"""Binance WebSocket API: the wire codec of the generic WS-API client, logon and user data.

Shapes (``specs/binance.md`` 4.2 and 5): requests ``{"id", "method", "params"}``; answers
``{"id", "status", "result" | "error", "rateLimits"}``; user-data events
``{"subscriptionId", "event"}``. Signed requests carry ``apiKey``, ``timestamp`` (+
``recvWindow``) and ``signature`` inside ``params`` (the signer's WS-API rule); after an Ed25519
``session.logon`` only ``timestamp`` is sent. A 429/418 error's ``data.retryAfter`` is an
epoch-ms time. ``rateLimits`` entries correct the limiter buckets named in
:data:`~exchanges.binance.constants.WS_API_RATE_LIMIT_BUCKETS`.

:func:`binance_on_connect` is the hook run on every (re)connection: ``session.logon`` with an
Ed25519 key, then the user-data subscription (``userDataStream.subscribe`` after a logon,
``userDataStream.subscribe.signature`` with any other key type).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Any

import orjson

from connectivity.connector.user_stream import UserStream
from connectivity.core.clock import NS_PER_MS, Clock
from connectivity.core.ratelimit import RateLimiter
from connectivity.errors import ConfigError, ConnectivityError, ParseError
from connectivity.transport.wsapi import (
    Event,
    RateLimitUsage,
    Response,
    WsApiClient,
    WsApiSettings,
    WsRequest,
)
from connectivity.transport.wsclient import Factory, WebSocketSettings
from exchanges.binance.auth import BinanceSigner, KeyType
from exchanges.binance.constants import (
    ROLLOVER_AFTER_S,
    SERVER_SHUTDOWN_EVENT,
    VENUE,
    WS_API_RATE_LIMIT_BUCKETS,
)
from exchanges.binance.endpoints import (
    WS_SESSION_LOGON,
    WS_USER_DATA_SUBSCRIBE,
    WS_USER_DATA_SUBSCRIBE_SIGNED,
)
from exchanges.binance.errors import error_for_code

__all__ = [
    "BINANCE_WS_API_SETTINGS",
    "BinanceWsApiCodec",
    "binance_on_connect",
    "binance_subscribe_user_data",
    "binance_ws_api_client",
]

BINANCE_WS_API_SETTINGS = WebSocketSettings(rollover_after_s=ROLLOVER_AFTER_S)
"""Binance WS-API connection limits: 24 h lifetime. Not paced per frame like market streams:
the WS-API meters requests by weight (the limiter), and pacing would cap orders at 5/s."""


class BinanceWsApiCodec:
    """Encode Binance WS-API requests (signed as the venue asks), decode answers and events."""

    def __init__(
        self,
        signer: BinanceSigner | None,
        *,
        clock: Clock,
        timestamp_ms: Callable[[], int] | None = None,
        recv_window_ms: int | None = None,
    ) -> None:
        self.signer = signer
        self._timestamp_ms = timestamp_ms or (lambda: clock.time_ns() // NS_PER_MS)
        self.recv_window_ms = recv_window_ms
        self.session_authenticated = False  # set after a successful session.logon

    def new_connection(self) -> None:
        """A new connection is not logged on yet."""
        self.session_authenticated = False

    def encode(self, seq: int, request: WsRequest) -> tuple[Hashable, bytes]:
        """Return ``(seq, frame)``; signed requests get timestamp, key and signature now."""
        params = {name: _wire_value(name, value) for name, value in request.params.items()}
        if request.signed:
            self._sign(params)
        message: dict[str, Any] = {"id": seq, "method": request.method}
        if params:
            message["params"] = params
        return seq, orjson.dumps(message)

    def _sign(self, params: dict[str, Any]) -> None:
        params["timestamp"] = self._timestamp_ms()
        if self.recv_window_ms is not None:
            params["recvWindow"] = self.recv_window_ms
        if self.session_authenticated:
            return  # the logged-on session vouches for the key; only the timestamp is needed
        if self.signer is None:
            raise ConfigError("a signed Binance WS-API request needs a signer")
        params["apiKey"] = self.signer.api_key
        params["signature"] = self.signer.ws_api_signature(params)

    def decode(self, frame: bytes) -> Response | Event:
        """Decode one text frame into an answer or a user-data event."""
        try:
            data = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            raise ParseError("malformed JSON", venue=VENUE, payload=frame) from exc
        if not isinstance(data, dict):
            raise ParseError("frame is not a JSON object", venue=VENUE, payload=frame)
        if "status" in data:
            return _response(data, frame)
        if "event" in data:
            subscription = data.get("subscriptionId")
            if not isinstance(data["event"], dict) or not _is_id(subscription):
                raise ParseError("malformed event envelope", venue=VENUE, payload=frame)
            return Event(data["event"], subscription)
        raise ParseError("neither an answer nor an event", venue=VENUE, payload=frame)

    def error(self, response: Response, request: WsRequest) -> ConnectivityError | None:
        """Map the answer's ``{"code", "msg"}`` through the Binance error table."""
        error = response.error
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            return None
        msg = error.get("msg")
        return error_for_code(
            error["code"],
            msg if isinstance(msg, str) else "",
            status=response.status,
            operation=request.method,
            payload=response.raw,
        )

    def __repr__(self) -> str:
        return f"BinanceWsApiCodec({self.signer!r}, authenticated={self.session_authenticated})"


def _wire_value(name: str, value: Any) -> Any:
    """Return ``value`` as sent and signed: Decimals as plain strings, never floats."""
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")  # never an exponent: the venue rejects "1E-8"
    if isinstance(value, (str, int)):  # bool is an int: JSON true, signed as "true"
        return value
    raise ConfigError(f"parameter {name!r}: use str, int or Decimal, not {value!r}")


def _is_id(value: object) -> bool:
    return value is None or (isinstance(value, (int, str)) and not isinstance(value, bool))


def _response(data: dict[str, Any], frame: bytes) -> Response:
    status, request_id, error = data["status"], data.get("id"), data.get("error")
    if isinstance(status, bool) or not isinstance(status, int) or not _is_id(request_id):
        raise ParseError("malformed answer id or status", venue=VENUE, payload=frame)
    if error is not None and not isinstance(error, dict):
        raise ParseError("malformed error object", venue=VENUE, payload=frame)
    retry_at_ns = None
    if status in (429, 418) and error is not None:
        extra = error.get("data")
        retry = extra.get("retryAfter") if isinstance(extra, dict) else None
        if isinstance(retry, int) and not isinstance(retry, bool):
            retry_at_ns = retry * NS_PER_MS  # an epoch-ms time, not a duration
    return Response(
        request_id,
        status,
        data.get("result"),
        error,
        _rate_limits(data.get("rateLimits"), frame),
        retry_at_ns,
        frame,
    )


def _rate_limits(entries: object, frame: bytes) -> tuple[RateLimitUsage, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ParseError("rateLimits is not a list", venue=VENUE, payload=frame)
    usages: list[RateLimitUsage] = []
    for entry in entries:
        try:
            key = (entry["rateLimitType"], entry["interval"], entry["intervalNum"])
            count = entry["count"]
        except (TypeError, KeyError) as exc:
            raise ParseError("malformed rateLimits entry", venue=VENUE, payload=frame) from exc
        if isinstance(count, bool) or not isinstance(count, int):
            raise ParseError("rateLimits count is not an int", venue=VENUE, payload=frame)
        bucket = WS_API_RATE_LIMIT_BUCKETS.get(key)
        if bucket is not None:
            usages.append(RateLimitUsage(bucket, count))
    return tuple(usages)


def binance_subscribe_user_data(client: WsApiClient, codec: BinanceWsApiCodec) -> Any:
    """Subscribe this connection to the account's user data; return the venue's result."""
    if codec.session_authenticated:
        return client.call(WS_USER_DATA_SUBSCRIBE)
    return client.call(WS_USER_DATA_SUBSCRIBE_SIGNED)


def binance_on_connect(
    codec: BinanceWsApiCodec,
    *,
    user_data: bool = True,
    user_stream: UserStream | None = None,
) -> Callable[[WsApiClient], None]:
    """Return the per-connection hook: logon (Ed25519 keys), then subscribe to user data.

    ``user_stream`` learns of each subscription, with how to renew it on that connection.
    """

    def on_connect(client: WsApiClient) -> None:
        signer = codec.signer
        if signer is not None and signer.key_type is KeyType.ED25519:
            client.call(WS_SESSION_LOGON)
            codec.session_authenticated = True
        if not user_data:
            return
        binance_subscribe_user_data(client, codec)
        if user_stream is not None:
            user_stream.subscribed(lambda: binance_subscribe_user_data(client, codec))

    return on_connect


def binance_ws_api_client(
    url: str,
    signer: BinanceSigner | None,
    *,
    clock: Clock,
    limiter: RateLimiter | None = None,
    on_event: Callable[[Event, int], None] | None = None,
    user_data: bool = True,
    user_stream: UserStream | None = None,
    timestamp_ms: Callable[[], int] | None = None,
    recv_window_ms: int | None = None,
    settings: WsApiSettings | None = None,
    ws_settings: WebSocketSettings | None = None,
    factory: Factory | None = None,
) -> WsApiClient:
    """Build a Binance WS-API client that logs on and resubscribes after every connect.

    A ``serverShutdown`` event rolls the connection over (a new one, logged on and subscribed,
    before the old one closes); every event also goes to ``on_event``, and its payload to
    ``user_stream`` (told of each subscription and of every lost connection too).
    """
    codec = BinanceWsApiCodec(
        signer, clock=clock, timestamp_ms=timestamp_ms, recv_window_ms=recv_window_ms
    )
    built: list[WsApiClient] = []  # the handler needs the client it is handed to

    def dispatch(event: Event, ts_recv_ns: int) -> None:
        payload = event.payload
        if built and isinstance(payload, dict) and payload.get("e") == SERVER_SHUTDOWN_EVENT:
            built[0].connection.rollover()
        if user_stream is not None:
            user_stream.on_event(payload, ts_recv_ns)
        if on_event is not None:
            on_event(event, ts_recv_ns)

    client = WsApiClient(
        url,
        codec,
        venue=VENUE,
        clock=clock,
        settings=settings,
        ws_settings=ws_settings or BINANCE_WS_API_SETTINGS,
        on_connect=(
            binance_on_connect(codec, user_data=user_data, user_stream=user_stream)
            if signer
            else None
        ),
        on_event=dispatch,
        on_disconnect=user_stream.disconnected if user_stream is not None else None,
        limiter=limiter,
        factory=factory,
        name="binance-wsapi",
    )
    built.append(client)
    return client
