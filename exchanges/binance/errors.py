"""Binance error codes (specs/binance.md 2.6) mapped onto the connectivity error tree.

The table is data: code -> (error class, name). :func:`binance_error_mapper` plugs into
:class:`connectivity.transport.http.RestClient` as its ``error_mapper``; the WS-API and FIX
layers reuse :func:`error_for_code` with the same table.

Execution-status-unknown codes (-1006, -1007) become :class:`OrderOutcomeUnknown` whatever the
HTTP status: Binance says the request may have been executed, so it must never read as a
rejection. Codes we do not know still come from a definite 4xx answer, so they become
:class:`Rejected` carrying the code; they are never silently treated as success.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from connectivity.errors import (
    AuthError,
    ConnectivityError,
    OrderOutcomeUnknown,
    OrderRejected,
    RateLimited,
    Rejected,
    ServerError,
)

__all__ = ["BINANCE_ERRORS", "binance_error_mapper", "error_for_code"]

VENUE = "binance"

BINANCE_ERRORS: dict[int, tuple[type[ConnectivityError], str]] = {
    -1000: (Rejected, "UNKNOWN"),
    -1003: (RateLimited, "TOO_MANY_REQUESTS"),
    -1006: (OrderOutcomeUnknown, "UNEXPECTED_RESP"),
    -1007: (OrderOutcomeUnknown, "TIMEOUT"),
    # The venue says it is overloaded. Whether an order was processed is UNVERIFIED in the
    # docs, so this is a TransportError (retry only what is idempotent); the order layer
    # treats any TransportError on a submission as in doubt.
    -1008: (ServerError, "SERVER_BUSY"),
    -1013: (Rejected, "INVALID_MESSAGE"),
    -1015: (RateLimited, "TOO_MANY_ORDERS"),
    -1021: (AuthError, "INVALID_TIMESTAMP"),
    -1022: (AuthError, "INVALID_SIGNATURE"),
    -1100: (Rejected, "ILLEGAL_CHARS"),
    -1102: (Rejected, "MANDATORY_PARAM_EMPTY_OR_MALFORMED"),
    -1104: (Rejected, "NOT_ALL_SENT_PARAMS_READ"),
    -1106: (Rejected, "PARAM_NOT_REQUIRED"),
    -1111: (Rejected, "BAD_PRECISION"),
    -1121: (Rejected, "BAD_SYMBOL"),
    -1125: (Rejected, "INVALID_LISTEN_KEY"),
    -2010: (OrderRejected, "NEW_ORDER_REJECTED"),
    -2011: (OrderRejected, "CANCEL_REJECTED"),
    -2013: (Rejected, "NO_SUCH_ORDER"),
    -2014: (AuthError, "BAD_API_KEY_FMT"),
    -2015: (AuthError, "REJECTED_MBX_KEY"),
    -2021: (OrderRejected, "ORDER_CANCEL_REPLACE_PARTIALLY_FAILED"),
    -2022: (OrderRejected, "ORDER_CANCEL_REPLACE_FAILED"),
    -2026: (Rejected, "ORDER_ARCHIVED"),
    -2035: (Rejected, "USER_DATA_STREAM_SUBSCRIPTION_ALREADY_ACTIVE"),
    -2036: (Rejected, "USER_DATA_STREAM_SUBSCRIPTION_NOT_ACTIVE"),
    -1033: (AuthError, "COMP_ID_IN_USE"),
    -1034: (RateLimited, "TOO_MANY_CONNECTIONS"),
    -1035: (Rejected, "LOGGED_OUT"),
    -1175: (Rejected, "RESET_SEQ_NUM_SUPPORT"),
    -1176: (Rejected, "ALREADY_LOGGED_IN"),
    -1177: (Rejected, "GARBLED_MESSAGE"),
    -1178: (AuthError, "BAD_SENDER_COMPID"),
    -1179: (Rejected, "BAD_SEQ_NUM"),
    -1180: (Rejected, "EXPECTED_LOGON"),
    -1181: (RateLimited, "TOO_MANY_MESSAGES"),
    -1191: (Rejected, "TOO_MANY_SUBSCRIPTIONS"),
}


def error_for_code(
    code: int,
    msg: str,
    *,
    status: int | None = None,
    operation: str | None = None,
    payload: object = None,
) -> ConnectivityError:
    """Build the typed error for a Binance ``{"code", "msg"}`` answer."""
    cls, name = BINANCE_ERRORS.get(code, (Rejected, "UNLISTED"))
    message = f"{name}: {msg}" if msg else name
    context: dict[str, object] = {
        "venue": VENUE,
        "operation": operation,
        "status": status,
        "code": code,
        "payload": payload,
    }
    return cls(message, **context)  # type: ignore[arg-type]


def binance_error_mapper(
    status: int, body: bytes, headers: Mapping[str, str]
) -> ConnectivityError | None:
    """Map a non-2xx Binance REST answer; None lets the transport's defaults decide."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # not a venue error body (a proxy or WAF page): status decides
    if not isinstance(data, dict) or not isinstance(data.get("code"), int):
        return None
    msg = data.get("msg")
    return error_for_code(
        data["code"], msg if isinstance(msg, str) else "", status=status, payload=body
    )
