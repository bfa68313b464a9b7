"""The WS-API codec seam: request, answer and event values, the codec protocol, method data.

A venue's WS-API module implements :class:`WsApiCodec` (its JSON or binary shapes, its error
codes) and declares its methods as :class:`WsApiMethod` data; the generic
:class:`~connectivity.transport.wsapi.WsApiClient` does the rest. Nothing here performs I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

import attrs

import connectivity.errors as errors

__all__ = ["Event", "RateLimitUsage", "Response", "WsApiCodec", "WsApiMethod", "WsRequest"]


@attrs.frozen
class WsRequest:
    """One call: method name, parameters, whether it is signed, and whether a resend is safe."""

    method: str
    params: Mapping[str, Any] = attrs.field(factory=dict, repr=False)  # may carry a key
    signed: bool = False
    idempotent: bool = False  # only what the caller vouches for may be blindly retried


@attrs.frozen
class RateLimitUsage:
    """The venue's count for one limiter bucket, as reported with an answer."""

    bucket: str
    used: int


@attrs.frozen
class Response:
    """One decoded answer; ``status`` is HTTP-like, ``error`` the venue's error object."""

    id: Hashable
    status: int
    result: Any = attrs.field(default=None, repr=False)
    error: Any = None
    rate_limits: tuple[RateLimitUsage, ...] = ()
    retry_at_ns: int | None = None  # wall time the venue says to hold off until (429/418)
    raw: bytes = attrs.field(default=b"", repr=False)

    @property
    def ok(self) -> bool:
        """Return True for a 2xx answer."""
        return 200 <= self.status < 300


@attrs.frozen
class Event:
    """An unsolicited frame: a subscription's event (user data, server notices)."""

    payload: Any = attrs.field(repr=False)
    subscription: Hashable | None = None


class WsApiCodec(Protocol):
    """A venue's WS-API wire format: encode requests, decode frames, map venue errors."""

    def new_connection(self) -> None:
        """Forget per-connection state (a session logon) before a new connection's hook runs."""

    def encode(self, seq: int, request: WsRequest) -> tuple[Hashable, str | bytes]:
        """Return ``(wire id, frame)`` for request number ``seq`` (signing it if asked)."""

    def decode(self, frame: bytes) -> Response | Event:
        """Decode one text frame; raise :class:`~connectivity.errors.ParseError` if malformed."""

    def error(self, response: Response, request: WsRequest) -> errors.ConnectivityError | None:
        """Return the typed error for a non-2xx answer (None: the status decides)."""


@attrs.frozen
class WsApiMethod:
    """One documented WS-API method: name, signing, limiter costs and idempotence, as data."""

    name: str
    signed: bool = False
    weight: int | Callable[[Mapping[str, Any]], int] = 1
    bucket: str = "weight"
    extra_costs: Mapping[str, int] = attrs.field(factory=dict)  # e.g. unfilled-order counts
    idempotent: bool = False

    def costs(self, params: Mapping[str, Any]) -> dict[str, int]:
        """Return the limiter costs of one call with ``params``."""
        weight = self.weight(params) if callable(self.weight) else self.weight
        return {self.bucket: weight, **self.extra_costs}

    def request(self, params: Mapping[str, Any] | None = None) -> WsRequest:
        """Build the :class:`WsRequest` for one call of this method."""
        return WsRequest(self.name, dict(params or {}), self.signed, self.idempotent)
