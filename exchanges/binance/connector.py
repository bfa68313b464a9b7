"""Binance Spot market data: the generic connector speaking the Binance dialect.

:class:`BinanceMarketData` is :class:`~connectivity.connector.market_data.MarketDataConnector`
with :class:`~exchanges.binance.dialect.BinanceDialect` (see both for what happens): one
local order book per symbol kept in sync following ``specs/binance.md`` 3.1, tickers,
trades and book-valid / book-invalid events as the venue-neutral values of
:mod:`connectivity.core.events`. :meth:`BinanceMarketData.from_config` is the one place that
builds the real collaborators (REST client with Binance's weight limiter and error codes,
websocket connections with Binance's limits).
"""

from __future__ import annotations

from typing import Any

import attrs

from connectivity.connector.market_data import (
    ConnectionFactory,
    MarketDataConfig,
    MarketDataConnector,
    websocket_connections,
)
from connectivity.connector.recording import Recorder
from connectivity.core.clock import Clock, SystemClock
from connectivity.core.events import EventSink
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import ConfigError
from connectivity.transport.http import RestClient
from connectivity.transport.wsclient import WebSocketSettings
from exchanges.binance.constants import (
    DEPTH_STREAMS,
    MAX_STREAMS_PER_CONNECTION,
    REST_BASE_URLS,
    SNAPSHOT_LIMIT_MAX,
    SNAPSHOT_MAX_LEVELS,
    TRADE_STREAMS,
    VENUE,
    WEIGHT_LIMIT_1M,
    WS_BASE_URLS,
)
from exchanges.binance.dialect import (
    BINANCE_WS_SETTINGS,
    BinanceDialect,
    encode_request,
    venue_symbol,
)
from exchanges.binance.endpoints import USED_WEIGHT_HEADER, WEIGHT_BUCKET
from exchanges.binance.errors import binance_error_mapper

__all__ = [
    "BINANCE_WS_SETTINGS",
    "BinanceMarketData",
    "BinanceMarketDataConfig",
    "Recorder",
    "encode_request",
    "venue_symbol",
]


def _snapshot_cap(config: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    # The most a full answer holds: the forced limit, or else any tier up to the venue's max.
    served = min(config.snapshot_limit or SNAPSHOT_LIMIT_MAX, SNAPSHOT_LIMIT_MAX)
    if isinstance(value, bool) or not isinstance(value, int) or value < served:
        raise ConfigError(f"{attribute.name} must be an int >= {served} (the levels asked for)")


def _trade_stream(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in TRADE_STREAMS:
        choices = (*TRADE_STREAMS, None)
        raise ConfigError(f"{attribute.name} must be one of {choices}, got {value!r}")


@attrs.frozen(kw_only=True)
class BinanceMarketDataConfig(MarketDataConfig):
    """What to stream and from where; defaults are Binance production's public endpoints."""

    rest_url: str = REST_BASE_URLS["market_data"]
    ws_url: str = WS_BASE_URLS["prod"]
    max_streams_per_connection: int | None = MAX_STREAMS_PER_CONNECTION
    ws_settings: WebSocketSettings | None = BINANCE_WS_SETTINGS
    depth_stream: str = attrs.field(
        default="depth@100ms", validator=attrs.validators.in_(tuple(DEPTH_STREAMS))
    )
    trade_stream: str | None = attrs.field(default="trade", validator=_trade_stream)
    book_ticker: bool = True
    # Levels a side accepted in one snapshot answer; a bigger one is a ParseError (refetched).
    snapshot_max_levels: int = attrs.field(default=SNAPSHOT_MAX_LEVELS, validator=_snapshot_cap)
    weight_limit_1m: int = WEIGHT_LIMIT_1M
    # Weight drawn this close to a minute's end also counts in the next minute: Binance counts
    # a request when it arrives, possibly after the boundary (no 429 from a straddling burst).
    weight_edge_s: float = 1.0

    def dialect(self) -> BinanceDialect:
        """Return the Binance dialect streaming this config's channels."""
        return BinanceDialect(
            self.depth_stream, self.trade_stream, self.book_ticker, self.snapshot_max_levels
        )


class BinanceMarketData(MarketDataConnector):
    """Binance Spot books, tickers and trades for many symbols over sharded connections."""

    def __init__(
        self,
        config: BinanceMarketDataConfig,
        *,
        clock: Clock,
        rest: RestClient,
        connection_factory: ConnectionFactory,
        sink: EventSink | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(
            config,
            config.dialect(),
            clock=clock,
            rest=rest,
            connection_factory=connection_factory,
            sink=sink,
            recorder=recorder,
        )

    @classmethod
    def from_config(
        cls,
        config: BinanceMarketDataConfig,
        *,
        clock: Clock | None = None,
        sink: EventSink | None = None,
        recorder: Recorder | None = None,
    ) -> BinanceMarketData:
        """Build the connector with real collaborators (REST client, limiter, websockets)."""
        clock = clock or SystemClock()
        limiter = RateLimiter(
            clock,
            [Bucket(WEIGHT_BUCKET, config.weight_limit_1m, 60.0, edge_s=config.weight_edge_s)],
            name="binance-ip",
        )
        rest = RestClient(
            config.rest_url,
            venue=VENUE,
            clock=clock,
            limiter=limiter,
            usage_headers={USED_WEIGHT_HEADER: WEIGHT_BUCKET},
            error_mapper=binance_error_mapper,
        )
        settings = config.ws_settings or BinanceDialect.ws_settings
        return cls(
            config,
            clock=clock,
            rest=rest,
            connection_factory=websocket_connections(clock, settings),
            sink=sink,
            recorder=recorder,
        )
