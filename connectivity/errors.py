"""The exception tree of the framework, grouped by what the caller should do.

::

    ConnectivityError                       every error this library raises
    |-- ConfigError (ValueError)            fix the configuration; never retried
    |-- ClosedError (RuntimeError)          the component was closed; make a new one
    |-- InvalidOrder (ValueError)           DON'T SEND: a local pre-trade check refused it
    |   |-- FilterViolation                     breaks an instrument filter (tick, lot, notional)
    |   `-- InsufficientFunds                   needs more than the balance has free
    |-- TransportError                      RETRY: the request never got a definite answer
    |   |-- ConnectFailed (ConnectionError)     could not connect (DNS, refused, TLS handshake)
    |   |-- ConnectionLost (ConnectionError)    an established connection dropped
    |   |-- RequestTimeout (TimeoutError)       no answer in time
    |   `-- ServerError                         venue 5xx on an idempotent request
    |-- RateLimited                         BACK OFF until ``retry_after`` (seconds) has passed
    |   `-- Banned                              IP or key banned (HTTP 418) until ``retry_after``
    |-- AuthError (PermissionError)         STOP: bad key, signature, permissions or clock
    |-- Rejected                            DON'T RETRY: the venue definitely refused (``code``)
    |   `-- OrderRejected                       an order, cancel or replace was refused
    |-- ResyncRequired                      RESYNC the affected stream / book / session
    |   |-- SequenceGap                         update ids or MsgSeqNum jumped
    |   |-- ChecksumMismatch                    a venue-published checksum did not match
    |   |-- BookCrossed                         best bid >= best ask after an update
    |   `-- ParseError (ValueError)             malformed payload (JSON, FIX, decimal, enum)
    |       `-- UnknownEnumValue                    a venue enum value we do not know
    `-- OrderOutcomeUnknown                 IN DOUBT: the order may or may not exist; settle it
                                            from venue evidence, never by assuming rejection

Every leaf carries context for the log line an operator reads: ``venue``, ``operation``,
``status`` (HTTP or venue-level), ``code`` (venue error code) and ``payload`` (the raw venue
bytes, truncated). Secrets never enter an exception: callers pass payloads that the venue sent
back, never what we signed, and :func:`truncate` caps their size.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "Banned",
    "BookCrossed",
    "ChecksumMismatch",
    "ClosedError",
    "ConfigError",
    "ConnectFailed",
    "ConnectionLost",
    "ConnectivityError",
    "FilterViolation",
    "InsufficientFunds",
    "InvalidOrder",
    "OrderOutcomeUnknown",
    "OrderRejected",
    "ParseError",
    "RateLimited",
    "Rejected",
    "RequestTimeout",
    "ResyncRequired",
    "SequenceGap",
    "ServerError",
    "TransportError",
    "UnknownEnumValue",
    "truncate",
]

PAYLOAD_LIMIT = 512


def truncate(payload: Any, limit: int = PAYLOAD_LIMIT) -> str | None:
    """Render a raw payload for an error message, cut to ``limit`` characters."""
    if payload is None:
        return None
    if isinstance(payload, (bytes, bytearray, memoryview)):
        text = bytes(payload).decode("utf-8", "replace")
    else:
        text = str(payload)
    if len(text) > limit:
        return text[:limit] + f"...(+{len(text) - limit} chars)"
    return text


class ConnectivityError(Exception):
    """Root of every error raised by this library."""

    def __init__(
        self,
        message: str,
        *,
        venue: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        code: int | str | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.venue = venue
        self.operation = operation
        self.status = status
        self.code = code
        self.payload = truncate(payload)

    def __str__(self) -> str:
        parts = [self.message]
        context = [
            f"{name}={value}"
            for name, value in (
                ("venue", self.venue),
                ("operation", self.operation),
                ("status", self.status),
                ("code", self.code),
            )
            if value is not None
        ]
        if context:
            parts.append(f"[{' '.join(context)}]")
        if self.payload is not None:
            parts.append(f"payload={self.payload!r}")
        return " ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep keyword context across pickling (multiprocessing, gevent thread pools).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[ConnectivityError], message: str, state: dict[str, Any]) -> Any:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ConfigError(ConnectivityError, ValueError):
    """The configuration is invalid; fix it, retrying cannot help."""


class ClosedError(ConnectivityError, RuntimeError):
    """The component was closed and cannot be used again."""


class InvalidOrder(ConnectivityError, ValueError):
    """An order failed a check we make before sending; nothing was sent, fix the order."""


class FilterViolation(InvalidOrder):
    """An order breaks one of the instrument's filters (the venue would answer -1013).

    ``filter_name`` is the venue's filter (``PRICE_FILTER``, ``LOT_SIZE``, ...), ``field`` the
    order value checked (``price``, ``quantity``, ``notional``, ``open_orders``), ``value`` that
    value and ``limit`` the bound or increment it broke.
    """

    def __init__(
        self,
        message: str,
        *,
        filter_name: str,
        field: str,
        value: object,
        limit: object,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.filter_name = filter_name
        self.field = field
        self.value = value
        self.limit = limit


class TransportError(ConnectivityError):
    """No definite answer came back; the operation may be retried (if idempotent)."""


class ConnectFailed(TransportError, ConnectionError):
    """Could not establish a connection (DNS, refused, TLS handshake)."""


class ConnectionLost(TransportError, ConnectionError):
    """An established connection dropped."""


class RequestTimeout(TransportError, TimeoutError):
    """No answer arrived within the timeout."""


class ServerError(TransportError):
    """The venue answered with a server error (5xx) to an idempotent request."""


class RateLimited(ConnectivityError):
    """The venue throttled us; wait ``retry_after`` seconds before the next request."""

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class Banned(RateLimited):
    """The venue banned us (HTTP 418) until ``retry_after`` seconds from now."""


class AuthError(ConnectivityError, PermissionError):
    """Authentication or permission failed; stop and fix keys, permissions or clock."""


class Rejected(ConnectivityError):
    """The venue definitely refused the request; retrying unchanged will not help."""


class OrderRejected(Rejected):
    """An order, cancel or replace was definitely refused by the venue."""


class InsufficientFunds(InvalidOrder):
    """Our local pre-trade check refused an order: it needs more than is available."""


class ResyncRequired(ConnectivityError):
    """The stream's state can no longer be trusted; resynchronise it."""


class SequenceGap(ResyncRequired):
    """A sequence number or update id jumped: something was missed."""

    def __init__(
        self,
        message: str,
        *,
        expected: int | None = None,
        received: int | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.expected = expected
        self.received = received


class ChecksumMismatch(ResyncRequired):
    """A venue-published checksum did not match our local state."""


class BookCrossed(ResyncRequired):
    """The order book's best bid reached or passed its best ask."""


class ParseError(ResyncRequired, ValueError):
    """A payload was malformed (JSON, FIX, decimal string, enum value)."""


class UnknownEnumValue(ParseError):
    """The venue sent an enum value this library does not know; never silently defaulted."""


class OrderOutcomeUnknown(ConnectivityError):
    """The order may or may not exist at the venue; it stays in doubt until evidence arrives."""

    def __init__(self, message: str, *, client_order_id: str | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.client_order_id = client_order_id
