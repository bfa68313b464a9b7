"""Binance Spot as a market-data dialect: its facts and hooks for the generic connector.

:class:`BinanceDialect` tells :class:`~connectivity.connector.market_data.MarketDataConnector`
what is true of Binance (every value read from :mod:`exchanges.binance.constants`): combined
stream connections of at most 1024 streams, live ``SUBSCRIBE`` frames paced to 5 per 1.25 s
and acknowledged by request id, a 24 h connection lifetime (rolled over at 23.5 h), depth
snapshots over REST (``GET /api/v3/depth``, weight by limit tier) checked with the U/u
update-id rule, 8-decimal prices and quantities. Its hot path is
:func:`~exchanges.binance.parsers.feed_frame` itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from connectivity.connector.dialect import (
    Ack,
    AckMode,
    Channel,
    FetchedSnapshot,
    Inbound,
    Refused,
    Shutdown,
    SnapshotSource,
)
from connectivity.core.book import BookSnapshot, ChecksumFn
from connectivity.core.book_sync import SequenceRule
from connectivity.core.events import PublicTrade as Trade
from connectivity.core.events import TopOfBook
from connectivity.errors import ConfigError, ParseError
from connectivity.transport.http import RestClient
from connectivity.transport.wsclient import WebSocketSettings
from exchanges.binance.constants import (
    BOOK_INTEGRITY,
    BOOK_SEQUENCE_RULE,
    BOOK_TICKER_STREAM,
    DEPTH_STREAMS,
    DEPTH_WEIGHTS,
    MAX_INCOMING_MESSAGES_PER_S,
    MAX_STREAMS_PER_CONNECTION,
    OUTBOUND_WINDOW_S,
    PRICE_SCALE,
    QTY_SCALE,
    ROLLOVER_AFTER_S,
    SNAPSHOT_LIMIT_MAX,
    SNAPSHOT_MAX_LEVELS,
    TRADE_STREAMS,
    VENUE,
    WS_LIVE_PATH,
)
from exchanges.binance.endpoints import DEPTH, WEIGHT_BUCKET
from exchanges.binance.parsers import (
    BookTicker,
    PublicTrade,
    ServerShutdown,
    WsError,
    WsResponse,
    feed_frame,
    parse_depth_snapshot,
)
from exchanges.binance.symbols import to_venue_symbol

__all__ = ["BINANCE_WS_SETTINGS", "BinanceDialect", "encode_request", "venue_symbol"]

BINANCE_WS_SETTINGS = WebSocketSettings(
    send_limit=MAX_INCOMING_MESSAGES_PER_S,
    send_window_s=OUTBOUND_WINDOW_S,
    rollover_after_s=ROLLOVER_AFTER_S,
)
"""Binance's connection limits as transport settings."""


def venue_symbol(symbol: str) -> str:
    """Accept ``"BTC-USDT"`` or ``"BTCUSDT"``/``"btcusdt"``; return ``"BTCUSDT"``."""
    return to_venue_symbol(symbol) if "-" in symbol else symbol.upper()


def encode_request(method: str, streams: list[str], request_id: int) -> str:
    """Encode a Binance stream control frame (``SUBSCRIBE`` / ``UNSUBSCRIBE``)."""
    return orjson.dumps({"method": method, "params": streams, "id": request_id}).decode()


class BinanceDialect:
    """Binance Spot market streams for the generic connector (facts from ``constants``)."""

    venue = VENUE
    ack_mode = AckMode.REQUEST_ID
    snapshot_source = SnapshotSource.REST
    integrity = BOOK_INTEGRITY
    rule: SequenceRule | None = BOOK_SEQUENCE_RULE
    checksum: ChecksumFn | None = None
    max_book_depth: int | None = None
    price_scale = PRICE_SCALE
    qty_scale = QTY_SCALE
    max_streams_per_connection = MAX_STREAMS_PER_CONNECTION
    ws_settings = BINANCE_WS_SETTINGS
    snapshot_tiers: Sequence[tuple[int, int]] = DEPTH_WEIGHTS
    weight_bucket = WEIGHT_BUCKET

    # The hot path: a depth diff is decoded straight into its book (no wrapper call).
    route = staticmethod(feed_frame)

    def __init__(
        self,
        depth_stream: str = "depth@100ms",
        trade_stream: str | None = "trade",
        book_ticker: bool = True,
        snapshot_max_levels: int = SNAPSHOT_MAX_LEVELS,
    ) -> None:
        if depth_stream not in DEPTH_STREAMS:
            raise ConfigError(f"depth_stream must be one of {tuple(DEPTH_STREAMS)}")
        if trade_stream is not None and trade_stream not in TRADE_STREAMS:
            raise ConfigError(f"trade_stream must be one of {(*TRADE_STREAMS, None)}")
        self._templates = {Channel.BOOK: DEPTH_STREAMS[depth_stream]}
        if book_ticker:
            self._templates[Channel.TOP_OF_BOOK] = BOOK_TICKER_STREAM
        if trade_stream is not None:
            self._templates[Channel.TRADES] = TRADE_STREAMS[trade_stream]
        self.channels = tuple(self._templates)
        self.snapshot_max_levels = snapshot_max_levels  # levels a side; more: ParseError

    def venue_symbol(self, symbol: str) -> str:
        """Return Binance's spelling (``"BTCUSDT"``)."""
        return venue_symbol(symbol)

    def stream_url(self, ws_url: str) -> str:
        """Return the combined-stream URL whose streams are subscribed live."""
        return ws_url.rstrip("/") + WS_LIVE_PATH

    def stream_name(self, symbol: str, channel: Channel) -> str:
        """Return e.g. ``"btcusdt@depth@100ms"`` (stream symbols are lowercase)."""
        try:
            template = self._templates[channel]
        except KeyError:
            raise ConfigError(f"binance: channel {channel.value} is not streamed") from None
        return template.format(symbol=symbol.lower())

    @staticmethod
    def encode(method: str, streams: list[str], request_id: int) -> str:
        """Encode ``SUBSCRIBE`` / ``UNSUBSCRIBE`` (see :func:`encode_request`)."""
        return encode_request(method, streams, request_id)

    @staticmethod
    def interpret(parsed: object) -> Inbound:
        """Translate a parsed Binance message into neutral terms."""
        if isinstance(parsed, BookTicker):
            return TopOfBook(
                VENUE,
                parsed.symbol,
                parsed.bid_price,
                parsed.bid_qty,
                parsed.ask_price,
                parsed.ask_qty,
                PRICE_SCALE,
                QTY_SCALE,
                parsed.update_id,
                0,  # bookTicker carries no event time
                parsed.ts_recv,
            )
        if isinstance(parsed, PublicTrade):
            return Trade(
                VENUE,
                parsed.symbol,
                parsed.trade_id,
                parsed.price,
                parsed.qty,
                PRICE_SCALE,
                QTY_SCALE,
                parsed.aggressor,
                parsed.ts_trade,
                parsed.ts_recv,
                parsed.first_trade_id,
                parsed.last_trade_id,
            )
        if isinstance(parsed, WsResponse):
            return Ack(parsed.id)
        if isinstance(parsed, WsError):
            return Refused(parsed.id, parsed.code, parsed.msg)
        if isinstance(parsed, ServerShutdown):
            return Shutdown(parsed.ts_event)
        if isinstance(parsed, BookSnapshot):
            raise ParseError("partial-depth event on a diff-depth connection", venue=VENUE)
        raise ParseError(f"unhandled message {type(parsed).__name__}", venue=VENUE)

    def fetch_snapshot(self, rest: RestClient, symbol: str, limit: int) -> FetchedSnapshot:
        """``GET /api/v3/depth`` through the REST client (and its weight limiter)."""
        # Waiting for the weight budget is the plan (the connector's planner bounds how many
        # wait at once).
        response = DEPTH.call(rest, {"symbol": symbol, "limit": limit}, max_wait=math.inf)
        snapshot = self.parse_snapshot(response.data, symbol, response.received_ns)
        snapshot = snapshot._replace(depth=min(limit, SNAPSHOT_LIMIT_MAX))
        return FetchedSnapshot(snapshot, orjson.dumps(response.data), rest.base_url)

    def parse_snapshot(
        self, body: bytes | str | dict[str, Any], symbol: str, ts_recv: int
    ) -> BookSnapshot:
        """Parse a ``GET /api/v3/depth`` body (fetched or recorded), within the level cap."""
        return parse_depth_snapshot(body, symbol, ts_recv, max_levels=self.snapshot_max_levels)
