"""The sequence venue: per-connection sequence numbers, in-stream snapshots, acks by stream.

Modelled on Coinbase Advanced Trade's market data: every message on a connection carries the
next ``sequence_num`` whatever product it is about, so a lost message cannot be pinned on one
book and every book of that connection resyncs; a ``level2`` subscription is answered by a
``snapshot`` event, then ``update`` events with absolute quantities and no per-product id;
a subscription is acknowledged by naming its channels and products. Facts, parsers and the
dialect in one module (a real venue splits them into ``constants``, ``parsers``, ``dialect``).

Wire (venue -> client), every message with ``"sequence_num"``::

    {"channel": "l2_data", "ts": ms, "events": [{"type": "snapshot" | "update",
        "product_id": "BTC-USD", "updates": [{"side": "bid" | "offer",
        "price_level": "..", "new_quantity": ".."}]}]}
    {"channel": "ticker", "ts": ms, "events": [{"product_id": .., "best_bid": ..,
        "best_bid_quantity": .., "best_ask": .., "best_ask_quantity": ..}]}
    {"channel": "market_trades", "events": [{"trades": [{"trade_id": "7", "product_id": ..,
        "price": .., "size": .., "side": "BUY" | "SELL", "ts": ms}]}]}
    {"channel": "subscriptions", "events": [{"type": "subscribed" | "unsubscribed",
        "subscriptions": {"level2": ["BTC-USD"], ...}}]}

and, unnumbered, ``{"channel": "status", "type": "maintenance", "ts": ms}`` before the venue
closes a connection, ``{"type": "error", "message": ..}`` for a bad request. Client -> venue:
``{"type": "subscribe" | "unsubscribe", "channels": {"level2": ["BTC-USD"], ...}}``.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, cast

import orjson

from connectivity.connector.dialect import (
    Ack,
    AckMode,
    Channel,
    Inbound,
    Message,
    Refused,
    Sequenced,
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
from connectivity.core.book_sync import BookSync, IntegrityMode, SequenceRule
from connectivity.core.clock import SystemClock
from connectivity.core.decimal import parse_fixed
from connectivity.core.events import EventSink, PublicTrade, TopOfBook
from connectivity.core.models import Side
from connectivity.errors import ParseError, UnknownEnumValue
from connectivity.transport.wsclient import WebSocketSettings

__all__ = [
    "CHANNELS",
    "MAX_OUTBOUND_PER_S",
    "SEQUENCE_WS_SETTINGS",
    "VENUE",
    "WS_PATH",
    "SequenceDialect",
    "parse_message",
    "sequence_market_data",
]

VENUE = "seqvenue"
WS_PATH = "/ws"
SCALE = 8
MAX_OUTBOUND_PER_S = 8
MAX_STREAMS_PER_CONNECTION = 60
# The venue's channel names per neutral channel; a stream is "<channel>:<product>".
CHANNELS = {Channel.BOOK: "level2", Channel.TOP_OF_BOOK: "ticker", Channel.TRADES: "market_trades"}
SEQUENCE_WS_SETTINGS = WebSocketSettings(send_limit=MAX_OUTBOUND_PER_S, send_window_s=1.0)

_MS = 1_000_000
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def _fixed(text: Any) -> int:
    return parse_fixed(text, SCALE)


def _book(event: Any, ts_event: int, ts_recv: int) -> BookDelta | BookSnapshot:
    bids: list[Level] = []
    asks: list[Level] = []
    for update in event["updates"]:
        side = {"bid": bids, "offer": asks}[update["side"]]
        side.append((_fixed(update["price_level"]), _fixed(update["new_quantity"])))
    symbol = event["product_id"]
    if event["type"] == "snapshot":
        return BookSnapshot(symbol, 0, bids, asks, ts_event, ts_recv)
    if event["type"] == "update":
        return BookDelta(symbol, 0, 0, bids, asks, ts_event, ts_recv)
    raise UnknownEnumValue(f"unknown {VENUE} l2 event {event['type']!r}", venue=VENUE)


def _streams(subscriptions: Any) -> tuple[str, ...]:
    return tuple(
        f"{channel}:{product}" for channel, ids in subscriptions.items() for product in ids
    )


def _numbered(msg: Any, ts_recv: int) -> Message:
    channel = msg["channel"]
    (event,) = msg["events"]
    if channel == "l2_data":
        return _book(event, msg["ts"] * _MS, ts_recv)
    if channel == "ticker":
        return TopOfBook(
            VENUE,
            event["product_id"],
            _fixed(event["best_bid"]),
            _fixed(event["best_bid_quantity"]),
            _fixed(event["best_ask"]),
            _fixed(event["best_ask_quantity"]),
            SCALE,
            SCALE,
            None,  # the venue says no book id
            msg["ts"] * _MS,
            ts_recv,
        )
    if channel == "market_trades":
        (trade,) = event["trades"]
        return PublicTrade(
            VENUE,
            trade["product_id"],
            int(trade["trade_id"]),
            _fixed(trade["price"]),
            _fixed(trade["size"]),
            SCALE,
            SCALE,
            _SIDES[trade["side"]],
            trade["ts"] * _MS,
            ts_recv,
        )
    if channel == "subscriptions":
        return Ack(
            streams=_streams(event["subscriptions"]), subscribed=event["type"] == "subscribed"
        )
    raise UnknownEnumValue(f"unknown {VENUE} channel {channel!r}", venue=VENUE)


def parse_message(raw: bytes | str, ts_recv: int) -> Inbound:
    """Parse one frame: numbered messages become :class:`Sequenced`."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"malformed {VENUE} JSON: {exc}", venue=VENUE) from exc
    try:
        if "sequence_num" in msg:
            sequence = msg["sequence_num"]
            if type(sequence) is not int:
                raise ParseError(f"bad {VENUE} sequence_num {sequence!r}", venue=VENUE)
            return Sequenced(sequence, _numbered(msg, ts_recv))
        if msg.get("channel") == "status" and msg.get("type") == "maintenance":
            return Shutdown(msg["ts"] * _MS)
        if msg.get("type") == "error":
            return Refused(None, 400, msg["message"])
    except ParseError:
        raise
    except _ERRORS as exc:
        raise ParseError(f"malformed {VENUE} message: {exc!r}", venue=VENUE) from exc
    raise UnknownEnumValue(f"unknown {VENUE} message", venue=VENUE, payload=msg)


def encode_request(method: str, streams: list[str]) -> str:
    """Encode a (un)subscribe request, streams grouped by channel."""
    channels: dict[str, list[str]] = {}
    for stream in streams:
        channel, _, product = stream.partition(":")
        channels.setdefault(channel, []).append(product)
    return orjson.dumps({"type": method.lower(), "channels": channels}).decode()


class SequenceDialect(StreamSnapshots):
    """The sequence venue for the generic connector."""

    venue = VENUE
    channels: tuple[Channel, ...] = tuple(CHANNELS)
    ack_mode = AckMode.STREAMS
    integrity = IntegrityMode.CONNECTION_SEQUENCE
    rule: SequenceRule | None = None
    checksum: ChecksumFn | None = None
    max_book_depth: int | None = None
    price_scale = SCALE
    qty_scale = SCALE
    max_streams_per_connection = MAX_STREAMS_PER_CONNECTION
    ws_settings = SEQUENCE_WS_SETTINGS

    def venue_symbol(self, symbol: str) -> str:
        """Return the product id (``"BTC-USD"``)."""
        return symbol.upper()

    def stream_url(self, ws_url: str) -> str:
        """Return the market-data URL."""
        return ws_url.rstrip("/") + WS_PATH

    def stream_name(self, symbol: str, channel: Channel) -> str:
        """Return e.g. ``"level2:BTC-USD"``."""
        return f"{CHANNELS[channel]}:{symbol}"

    def encode(self, method: str, streams: list[str], request_id: int) -> str:
        """Encode a request (the venue acknowledges by stream: no request id on the wire)."""
        return encode_request(method, streams)

    def route(
        self, payload: bytes, ts_recv: int, sync: BookSync, symbols: Container[str]
    ) -> object:
        """Parse the frame (the router checks sequences and feeds books)."""
        return parse_message(payload, ts_recv)

    def interpret(self, parsed: object) -> Inbound:
        """Return the parsed value: the parser already speaks neutral terms."""
        return cast(Inbound, parsed)


def sequence_market_data(
    config: MarketDataConfig, sink: EventSink, recorder: Recorder | None = None
) -> MarketDataConnector:
    """Build the venue's connector with real websocket connections (no REST client)."""
    clock = SystemClock()
    settings = config.ws_settings or SEQUENCE_WS_SETTINGS
    connections = websocket_connections(clock, settings)
    return MarketDataConnector(
        config,
        SequenceDialect(),
        clock=clock,
        rest=None,
        connection_factory=connections,
        sink=sink,
        recorder=recorder,
    )
