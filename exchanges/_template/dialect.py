"""The template venue as a market-data dialect (REQUIRED): facts from ``constants``, pure hooks.

:class:`TemplateDialect` is what :class:`~connectivity.connector.market_data.
MarketDataConnector` asks a venue. Required: every attribute and method of
:class:`~connectivity.connector.dialect.MarketDataDialect`:

- facts: ``venue``, ``channels``, ``ack_mode``, ``snapshot_source``, ``integrity``, ``rule``,
  ``checksum``, ``max_book_depth``, ``price_scale``, ``qty_scale``,
  ``max_streams_per_connection``, ``ws_settings``, ``snapshot_tiers``, ``weight_bucket``;
- hooks: ``venue_symbol``, ``stream_url``, ``stream_name``, ``encode``, ``route``,
  ``interpret``, ``fetch_snapshot`` and ``parse_snapshot`` (REST snapshot venues; in-stream
  ones raise).

Optional: a one-pass ``route`` that feeds depth rows straight into ``sync`` and returns
``BookFed`` (Binance's ``feed_frame``) once a benchmark shows the parse is the bottleneck.
"""

from __future__ import annotations

import math
from collections.abc import Container, Sequence
from typing import cast

import orjson

from connectivity.connector.dialect import (
    AckMode,
    Channel,
    FetchedSnapshot,
    Inbound,
    SnapshotSource,
)
from connectivity.connector.endpoint import Endpoint
from connectivity.connector.snapshots import tier_weight
from connectivity.core.book import BookSnapshot, ChecksumFn
from connectivity.core.book_sync import BookSync, SequenceRule
from connectivity.transport.http import RestClient
from connectivity.transport.wsclient import WebSocketSettings
from exchanges._template.constants import (
    BOOK_INTEGRITY,
    BOOK_SEQUENCE_RULE,
    BOOK_STREAM,
    MAX_OUTBOUND_PER_S,
    MAX_STREAMS_PER_CONNECTION,
    PRICE_SCALE,
    QTY_SCALE,
    SNAPSHOT_PATH,
    SNAPSHOT_TIERS,
    TOP_OF_BOOK_STREAM,
    TRADES_STREAM,
    VENUE,
    WEIGHT_BUCKET,
    WS_PATH,
)
from exchanges._template.parsers import parse_message, parse_snapshot

__all__ = ["SNAPSHOT", "TEMPLATE_WS_SETTINGS", "TemplateDialect"]

TEMPLATE_WS_SETTINGS = WebSocketSettings(send_limit=MAX_OUTBOUND_PER_S, send_window_s=1.0)
SNAPSHOT = Endpoint(
    "snapshot",
    "GET",
    SNAPSHOT_PATH,
    weight=lambda params: tier_weight(params["limit"], SNAPSHOT_TIERS),
    bucket=WEIGHT_BUCKET,
)
_TEMPLATES = {
    Channel.BOOK: BOOK_STREAM,
    Channel.TOP_OF_BOOK: TOP_OF_BOOK_STREAM,
    Channel.TRADES: TRADES_STREAM,
}


class TemplateDialect:
    """The template venue's market streams for the generic connector."""

    venue = VENUE
    channels: tuple[Channel, ...] = (Channel.BOOK, Channel.TOP_OF_BOOK, Channel.TRADES)
    ack_mode = AckMode.REQUEST_ID
    snapshot_source = SnapshotSource.REST
    integrity = BOOK_INTEGRITY
    rule: SequenceRule | None = BOOK_SEQUENCE_RULE
    checksum: ChecksumFn | None = None
    max_book_depth: int | None = None
    price_scale = PRICE_SCALE
    qty_scale = QTY_SCALE
    max_streams_per_connection = MAX_STREAMS_PER_CONNECTION
    ws_settings = TEMPLATE_WS_SETTINGS
    snapshot_tiers: Sequence[tuple[int, int]] = SNAPSHOT_TIERS
    weight_bucket = WEIGHT_BUCKET

    def venue_symbol(self, symbol: str) -> str:
        """Return the venue's spelling (here: upper case, as given)."""
        return symbol.upper()

    def stream_url(self, ws_url: str) -> str:
        """Return the URL a market-data connection opens."""
        return ws_url.rstrip("/") + WS_PATH

    def stream_name(self, symbol: str, channel: Channel) -> str:
        """Return e.g. ``"book.BTCUSD"``."""
        return _TEMPLATES[channel].format(symbol=symbol)

    def encode(self, method: str, streams: list[str], request_id: int) -> str:
        """Encode ``{"op": "subscribe"|"unsubscribe", "args": [...], "id": n}``."""
        return orjson.dumps({"op": method.lower(), "args": streams, "id": request_id}).decode()

    def route(
        self, payload: bytes, ts_recv: int, sync: BookSync, symbols: Container[str]
    ) -> object:
        """Parse the frame; the generic router feeds its book deltas to ``sync``."""
        return parse_message(payload, ts_recv)

    def interpret(self, parsed: object) -> Inbound:
        """Return the parsed value as it is: the parsers already produce neutral values."""
        return cast(Inbound, parsed)

    def fetch_snapshot(self, rest: RestClient, symbol: str, limit: int) -> FetchedSnapshot:
        """``GET SNAPSHOT_PATH?symbol=&limit=`` through the REST client and its limiter."""
        response = SNAPSHOT.call(rest, {"symbol": symbol, "limit": limit}, max_wait=math.inf)
        snapshot = parse_snapshot(response.data, symbol, response.received_ns)._replace(depth=limit)
        return FetchedSnapshot(snapshot, orjson.dumps(response.data), rest.base_url)

    def parse_snapshot(self, body: bytes | str, symbol: str, ts_recv: int) -> BookSnapshot:
        """Parse a recorded snapshot body (replay)."""
        return parse_snapshot(body, symbol, ts_recv)
