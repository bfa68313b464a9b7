"""Binance Spot REST endpoints and WS-API methods as data (``specs/binance.md`` 2.1, 5).

Weights are the documented request weights drawn from the ``"weight"`` bucket (the
``REQUEST_WEIGHT`` limit, corrected from ``X-MBX-USED-WEIGHT-1M``); order endpoints also
count against the unfilled-order buckets. Generic code reads :data:`ENDPOINTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectivity.connector.endpoint import Endpoint
from connectivity.transport.wsapi_codec import WsApiMethod
from exchanges.binance.constants import (
    DEPTH_PATH,
    EXCHANGE_INFO_PATH,
    PING_PATH,
    TIME_PATH,
    depth_weight,
)

__all__ = [
    "ACCOUNT",
    "CANCEL_ORDER",
    "DEPTH",
    "ENDPOINTS",
    "EXCHANGE_INFO",
    "MY_TRADES",
    "NEW_ORDER",
    "OPEN_ORDERS",
    "ORDERS_BUCKETS",
    "PING",
    "QUERY_ORDER",
    "TIME",
    "USED_WEIGHT_HEADER",
    "WEIGHT_BUCKET",
    "WS_ACCOUNT_STATUS",
    "WS_CANCEL_ALL",
    "WS_CANCEL_REPLACE",
    "WS_METHODS",
    "WS_ORDER_CANCEL",
    "WS_ORDER_PLACE",
    "WS_ORDER_STATUS",
    "WS_OPEN_ORDERS",
    "WS_PING",
    "WS_SESSION_LOGON",
    "WS_SESSION_STATUS",
    "WS_TIME",
    "WS_USER_DATA_SUBSCRIBE",
    "WS_USER_DATA_SUBSCRIBE_SIGNED",
    "WS_USER_DATA_UNSUBSCRIBE",
]

WEIGHT_BUCKET = "weight"
USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
ORDERS_BUCKETS = {"orders_10s": 1, "orders_1d": 1}


def _depth_weight(params: Mapping[str, Any]) -> int:
    return depth_weight(int(params.get("limit", 100)))


def _open_orders_weight(params: Mapping[str, Any]) -> int:
    return 6 if params.get("symbol") else 80


def _my_trades_weight(params: Mapping[str, Any]) -> int:
    return 5 if params.get("orderId") is not None else 20


PING = Endpoint("ping", "GET", PING_PATH, weight=1)
TIME = Endpoint("time", "GET", TIME_PATH, weight=1)
EXCHANGE_INFO = Endpoint("exchange_info", "GET", EXCHANGE_INFO_PATH, weight=20)
DEPTH = Endpoint("depth", "GET", DEPTH_PATH, weight=_depth_weight)
NEW_ORDER = Endpoint(
    "new_order", "POST", "/api/v3/order", signed=True, weight=1, extra_costs=ORDERS_BUCKETS
)
CANCEL_ORDER = Endpoint("cancel_order", "DELETE", "/api/v3/order", signed=True, weight=1)
QUERY_ORDER = Endpoint("query_order", "GET", "/api/v3/order", signed=True, weight=4)
OPEN_ORDERS = Endpoint(
    "open_orders", "GET", "/api/v3/openOrders", signed=True, weight=_open_orders_weight
)
ACCOUNT = Endpoint("account", "GET", "/api/v3/account", signed=True, weight=20)
MY_TRADES = Endpoint("my_trades", "GET", "/api/v3/myTrades", signed=True, weight=_my_trades_weight)

ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        PING,
        TIME,
        EXCHANGE_INFO,
        DEPTH,
        NEW_ORDER,
        CANCEL_ORDER,
        QUERY_ORDER,
        OPEN_ORDERS,
        ACCOUNT,
        MY_TRADES,
    )
}

# WebSocket API methods (spec section 5). Weights are those of the REST twin (the WS-API docs
# give the same figures); ``session.*`` and ``userDataStream.*`` weights are 2 per the docs'
# method tables (UNVERIFIED in our spec snapshot). Placements and cancels are not idempotent:
# a lost answer leaves them in doubt. Queries are.
WS_PING = WsApiMethod("ping", weight=1, idempotent=True)
WS_TIME = WsApiMethod("time", weight=1, idempotent=True)
WS_SESSION_LOGON = WsApiMethod("session.logon", signed=True, weight=2, idempotent=True)
WS_SESSION_STATUS = WsApiMethod("session.status", weight=2, idempotent=True)
WS_USER_DATA_SUBSCRIBE = WsApiMethod("userDataStream.subscribe", weight=2, idempotent=True)
WS_USER_DATA_SUBSCRIBE_SIGNED = WsApiMethod(
    "userDataStream.subscribe.signature", signed=True, weight=2, idempotent=True
)
WS_USER_DATA_UNSUBSCRIBE = WsApiMethod("userDataStream.unsubscribe", weight=2, idempotent=True)
WS_ORDER_PLACE = WsApiMethod("order.place", signed=True, weight=1, extra_costs=ORDERS_BUCKETS)
WS_ORDER_CANCEL = WsApiMethod("order.cancel", signed=True, weight=1)
WS_CANCEL_REPLACE = WsApiMethod(
    "order.cancelReplace", signed=True, weight=1, extra_costs=ORDERS_BUCKETS
)
WS_CANCEL_ALL = WsApiMethod("openOrders.cancelAll", signed=True, weight=1)
WS_ORDER_STATUS = WsApiMethod("order.status", signed=True, weight=4, idempotent=True)
WS_OPEN_ORDERS = WsApiMethod(
    "openOrders.status", signed=True, weight=_open_orders_weight, idempotent=True
)
WS_ACCOUNT_STATUS = WsApiMethod("account.status", signed=True, weight=20, idempotent=True)

WS_METHODS: dict[str, WsApiMethod] = {
    m.name: m
    for m in (
        WS_PING,
        WS_TIME,
        WS_SESSION_LOGON,
        WS_SESSION_STATUS,
        WS_USER_DATA_SUBSCRIBE,
        WS_USER_DATA_SUBSCRIBE_SIGNED,
        WS_USER_DATA_UNSUBSCRIBE,
        WS_ORDER_PLACE,
        WS_ORDER_CANCEL,
        WS_CANCEL_REPLACE,
        WS_CANCEL_ALL,
        WS_ORDER_STATUS,
        WS_OPEN_ORDERS,
        WS_ACCOUNT_STATUS,
    )
}
