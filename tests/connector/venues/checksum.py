"""The checksum venue: a CRC32 over the top 10 levels of a book kept at depth 25, no acks.

Modelled on Kraken's v2 ``book`` channel: a subscription (at a depth) is answered by a
``snapshot``, then ``update`` messages with absolute quantities and no sequence number; each
carries a CRC32 of the venue's book after it (top 10 asks best first, then top 10 bids best
first, each price and quantity printed with its decimals, the point and leading zeros
removed). The venue keeps only the top 25 levels and never deletes a level that falls below
them: the client truncates its book to 25 the same way. Subscriptions are not acknowledged.
Facts, parsers and the dialect in one module.

Wire (venue -> client)::

    {"channel": "book", "type": "snapshot" | "update", "data": [{"symbol": "BTC/USD",
        "bids": [{"price": "..", "qty": ".."}], "asks": [...], "checksum": n, "ts": ms}]}
    {"channel": "ticker", "type": "update", "data": [{"symbol": .., "bid": .., "bid_qty": ..,
        "ask": .., "ask_qty": .., "ts": ms}]}
    {"channel": "trade", "type": "update", "data": [{"symbol": .., "side": "buy" | "sell",
        "price": .., "qty": .., "trade_id": n, "ts": ms}]}
    {"channel": "status", "type": "update", "data": [{"system": "maintenance", "ts": ms}]}

Client -> venue: ``{"method": "subscribe" | "unsubscribe", "params": [{"channel": "book",
"symbol": ["BTC/USD"], "depth": 25}, {"channel": "ticker", "symbol": [..]}, ..]}``.
"""

from __future__ import annotations

import zlib
from collections.abc import Container
from typing import Any, cast

import orjson

from connectivity.connector.dialect import (
    AckMode,
    Channel,
    Inbound,
    Shutdown,
    StreamSnapshots,
)
from connectivity.connector.market_data import (
    MarketDataConfig,
    MarketDataConnector,
    websocket_connections,
)
from connectivity.connector.recording import Recorder
from connectivity.core.book import BookDelta, BookSnapshot, ChecksumFn, Level
from connectivity.core.book_sync import BookSync, IntegrityMode, SequenceRule, TopLevelsChecksum
from connectivity.core.clock import SystemClock
from connectivity.core.decimal import format_fixed, parse_fixed
from connectivity.core.events import EventSink, PublicTrade, TopOfBook
from connectivity.core.models import Side
from connectivity.errors import ParseError, UnknownEnumValue
from connectivity.transport.wsclient import WebSocketSettings

__all__ = [
    "BOOK_DEPTH",
    "CHANNELS",
    "CHECKSUM_DEPTH",
    "CHECKSUM_WS_SETTINGS",
    "VENUE",
    "WS_PATH",
    "ChecksumDialect",
    "book_checksum",
    "checksum_market_data",
    "parse_message",
]

VENUE = "crcvenue"
WS_PATH = "/v2"
SCALE = 8
BOOK_DEPTH = 25  # levels a side the venue keeps (the subscribed depth)
CHECKSUM_DEPTH = 10  # levels a side the checksum covers
MAX_OUTBOUND_PER_S = 10
MAX_STREAMS_PER_CONNECTION = 60
# The venue's channel names per neutral channel; a stream is "<channel>:<symbol>".
CHANNELS = {Channel.BOOK: "book", Channel.TOP_OF_BOOK: "ticker", Channel.TRADES: "trade"}
CHECKSUM_WS_SETTINGS = WebSocketSettings(send_limit=MAX_OUTBOUND_PER_S, send_window_s=1.0)

_MS = 1_000_000
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def _digits(value: int) -> str:
    return format_fixed(value, SCALE, min_decimals=SCALE).replace(".", "").lstrip("0")


def book_checksum(bids: list[Level], asks: list[Level]) -> int:
    """Return the venue's CRC32 of the given top levels (asks, then bids, best first)."""
    text = "".join(_digits(price) + _digits(qty) for price, qty in (*asks, *bids))
    return zlib.crc32(text.encode())


def _fixed(text: Any) -> int:
    return parse_fixed(text, SCALE)


def _levels(rows: Any) -> list[Level]:
    return [(_fixed(row["price"]), _fixed(row["qty"])) for row in rows]


def _book(kind: str, data: Any, ts_recv: int) -> BookDelta | BookSnapshot:
    symbol, ts_event = data["symbol"], data["ts"] * _MS
    bids, asks = _levels(data["bids"]), _levels(data["asks"])
    if kind == "snapshot":
        return BookSnapshot(symbol, 0, bids, asks, ts_event, ts_recv, BOOK_DEPTH)
    if kind == "update":
        checksum = data["checksum"]
        if type(checksum) is not int:
            raise ParseError(f"bad {VENUE} checksum {checksum!r}", venue=VENUE)
        return BookDelta(symbol, 0, 0, bids, asks, ts_event, ts_recv, checksum)
    raise UnknownEnumValue(f"unknown {VENUE} book message {kind!r}", venue=VENUE)


def _message(msg: Any, ts_recv: int) -> Inbound:
    channel = msg["channel"]
    if channel == "heartbeat":
        return None
    (data,) = msg["data"]
    if channel == "book":
        return _book(msg["type"], data, ts_recv)
    if channel == "ticker":
        return TopOfBook(
            VENUE,
            data["symbol"],
            _fixed(data["bid"]),
            _fixed(data["bid_qty"]),
            _fixed(data["ask"]),
            _fixed(data["ask_qty"]),
            SCALE,
            SCALE,
            None,  # the venue says no book id
            data["ts"] * _MS,
            ts_recv,
        )
    if channel == "trade":
        return PublicTrade(
            VENUE,
            data["symbol"],
            data["trade_id"],
            _fixed(data["price"]),
            _fixed(data["qty"]),
            SCALE,
            SCALE,
            _SIDES[data["side"]],
            data["ts"] * _MS,
            ts_recv,
        )
    if channel == "status" and data["system"] == "maintenance":
        return Shutdown(data["ts"] * _MS)
    raise UnknownEnumValue(f"unknown {VENUE} channel {channel!r}", venue=VENUE)


def parse_message(raw: bytes | str, ts_recv: int) -> Inbound:
    """Parse one frame into a neutral value."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"malformed {VENUE} JSON: {exc}", venue=VENUE) from exc
    try:
        return _message(msg, ts_recv)
    except ParseError:
        raise
    except _ERRORS as exc:
        raise ParseError(f"malformed {VENUE} message: {exc!r}", venue=VENUE) from exc


def encode_request(method: str, streams: list[str]) -> str:
    """Encode a (un)subscribe request: one params entry per channel, books at their depth."""
    params: dict[str, dict[str, Any]] = {}
    for stream in streams:
        channel, _, symbol = stream.partition(":")
        entry = params.setdefault(channel, {"channel": channel, "symbol": []})
        entry["symbol"].append(symbol)
        if channel == CHANNELS[Channel.BOOK]:
            entry["depth"] = BOOK_DEPTH
    return orjson.dumps({"method": method.lower(), "params": list(params.values())}).decode()


class ChecksumDialect(StreamSnapshots):
    """The checksum venue for the generic connector."""

    venue = VENUE
    channels: tuple[Channel, ...] = tuple(CHANNELS)
    ack_mode = AckMode.NONE
    integrity = IntegrityMode.CHECKSUM
    rule: SequenceRule | None = None
    checksum: ChecksumFn | None = TopLevelsChecksum(CHECKSUM_DEPTH, book_checksum)
    max_book_depth: int | None = BOOK_DEPTH
    price_scale = SCALE
    qty_scale = SCALE
    max_streams_per_connection = MAX_STREAMS_PER_CONNECTION
    ws_settings = CHECKSUM_WS_SETTINGS

    def venue_symbol(self, symbol: str) -> str:
        """Return the venue's pair name (``"BTC/USD"``)."""
        return symbol.upper().replace("-", "/")

    def stream_url(self, ws_url: str) -> str:
        """Return the market-data URL."""
        return ws_url.rstrip("/") + WS_PATH

    def stream_name(self, symbol: str, channel: Channel) -> str:
        """Return e.g. ``"book:BTC/USD"``."""
        return f"{CHANNELS[channel]}:{symbol}"

    def encode(self, method: str, streams: list[str], request_id: int) -> str:
        """Encode a request (nothing is acknowledged: the id is not sent)."""
        return encode_request(method, streams)

    def route(
        self, payload: bytes, ts_recv: int, sync: BookSync, symbols: Container[str]
    ) -> object:
        """Parse the frame (the router feeds books; the sync checks each checksum)."""
        return parse_message(payload, ts_recv)

    def interpret(self, parsed: object) -> Inbound:
        """Return the parsed value: the parser already speaks neutral terms."""
        return cast(Inbound, parsed)


def checksum_market_data(
    config: MarketDataConfig, sink: EventSink, recorder: Recorder | None = None
) -> MarketDataConnector:
    """Build the venue's connector with real websocket connections (no REST client)."""
    clock = SystemClock()
    settings = config.ws_settings or CHECKSUM_WS_SETTINGS
    connections = websocket_connections(clock, settings)
    return MarketDataConnector(
        config,
        ChecksumDialect(),
        clock=clock,
        rest=None,
        connection_factory=connections,
        sink=sink,
        recorder=recorder,
    )
