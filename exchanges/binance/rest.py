"""Binance's authenticated REST: the signer on the venue clock, and one safe retry after -1021.

:class:`BinanceRest` sends an :class:`~connectivity.connector.endpoint.Endpoint` of
:mod:`exchanges.binance.endpoints` through the :class:`RestClient` whose signer hook is a
:class:`~exchanges.binance.auth.BinanceSigner`; API-key-only endpoints get the
``X-MBX-APIKEY`` header without a signature. The signer's ``timestamp`` is the local clock plus
the offset :class:`~connectivity.connector.clock_sync.ClockSync` keeps estimating from
``GET /api/v3/time``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from connectivity.config import Credentials
from connectivity.connector.clock_sync import ClockSync
from connectivity.connector.endpoint import Endpoint
from connectivity.core.clock import NS_PER_MS, Clock
from connectivity.core.ratelimit import RateLimiter
from connectivity.core.timesync import ClockOffsetEstimator
from connectivity.errors import AuthError, ConnectivityError, ParseError
from connectivity.transport.http import RestClient, RestResponse
from exchanges.binance.auth import DEFAULT_RECV_WINDOW_MS, BinanceSigner
from exchanges.binance.constants import VENUE
from exchanges.binance.endpoints import TIME, USED_WEIGHT_HEADER, WEIGHT_BUCKET
from exchanges.binance.errors import binance_error_mapper

__all__ = ["INVALID_TIMESTAMP", "BinanceRest", "parse_server_time", "server_time"]

INVALID_TIMESTAMP = -1021


def parse_server_time(data: Any) -> int:
    """Return the ``serverTime`` (ms) of a ``GET /api/v3/time`` reply, in ns."""
    value = data.get("serverTime") if isinstance(data, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ParseError("time reply without an integer serverTime", venue=VENUE, payload=data)
    return value * NS_PER_MS


def server_time(rest: RestClient) -> int:
    """Ask Binance for its clock (one ``GET /api/v3/time``, weight 1); return it in ns."""
    return parse_server_time(TIME.call(rest).data)


class BinanceRest:
    """Send Binance endpoints: signed ones timestamped on the venue clock, -1021 retried once.

    :meth:`create` wires the real pieces; :meth:`start` runs the clock sync in a greenlet of
    the owner (a connector or a supervisor), which kills it on close.
    """

    def __init__(self, rest: RestClient, signer: BinanceSigner, clock_sync: ClockSync) -> None:
        self.rest = rest
        self.signer = signer
        self.clock_sync = clock_sync
        self.timestamp_retries = 0

    @classmethod
    def create(
        cls,
        base_url: str,
        credentials: Credentials,
        *,
        clock: Clock,
        limiter: RateLimiter,
        recv_window_ms: int | Decimal = DEFAULT_RECV_WINDOW_MS,
        sync_interval_s: float = 60.0,
        on_sync_error: Callable[[BaseException], None] | None = None,
        **rest_options: Any,
    ) -> BinanceRest:
        """Build estimator -> signer -> REST client (Binance errors, weight header) -> sync."""
        estimator = ClockOffsetEstimator()
        signer = BinanceSigner(
            credentials, clock=clock, offset=estimator, recv_window_ms=recv_window_ms
        )
        rest = RestClient(
            base_url,
            venue=VENUE,
            clock=clock,
            limiter=limiter,
            signer=signer,
            error_mapper=binance_error_mapper,
            usage_headers={USED_WEIGHT_HEADER: WEIGHT_BUCKET},
            **rest_options,
        )
        sync = ClockSync(
            estimator,
            lambda: server_time(rest),
            clock,
            interval_s=sync_interval_s,
            on_error=on_sync_error,
        )
        return cls(rest, signer, sync)

    def start(self, spawn: Callable[..., Any]) -> Any:
        """Start sampling ``GET /api/v3/time`` in a greenlet from the owner's ``spawn``."""
        return self.clock_sync.start(spawn, name="binance-clock-sync")

    def call(
        self, endpoint: Endpoint, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> RestResponse:
        """Send ``endpoint`` with ``params``; a -1021 resyncs the clock and resends once."""
        if endpoint.api_key and not endpoint.signed:  # signed ones get the header from the signer
            kwargs["headers"] = {**kwargs.get("headers", {}), **self.signer.api_key_headers()}
        try:
            return endpoint.call(self.rest, params, **kwargs)
        except AuthError as exc:
            if exc.code != INVALID_TIMESTAMP or not endpoint.signed:
                raise
            # Resending is safe, orders included: Binance checks timestamp and recvWindow when
            # the request arrives and again just before it forwards it to the matching engine,
            # and a failed check answers -1021 instead of forwarding (specs/binance.md 1.2). A
            # -1021 therefore proves nothing was executed. The resend carries a new timestamp
            # from the resynced offset; only one, since a second -1021 means the estimate is
            # not the problem (recvWindow too small for the path, or a broken local clock).
            try:
                self.clock_sync.resync()
            except ConnectivityError as sync_error:  # the definite -1021 is the answer to give
                raise exc from sync_error
            self.timestamp_retries += 1
            return endpoint.call(self.rest, params, **kwargs)

    def __repr__(self) -> str:
        return f"BinanceRest({self.rest!r}, {self.signer!r})"
