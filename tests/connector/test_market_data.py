"""The generic market-data connector with a non-Binance dialect: in-stream snapshots, no acks."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Any, cast

import gevent
import orjson

from connectivity.connector.dialect import (
    AckMode,
    Channel,
    FetchedSnapshot,
    Inbound,
    SnapshotSource,
)
from connectivity.connector.market_data import MarketDataConfig, MarketDataConnector
from connectivity.core.book import BookDelta, BookSnapshot, ChecksumFn
from connectivity.core.book_sync import BookSync, IntegrityMode, SequenceRule, UpdateIdRangeRule
from connectivity.core.clock import ManualClock
from connectivity.core.events import Event
from connectivity.transport.http import RestClient
from connectivity.transport.wsclient import WebSocketSettings


class InStreamDialect:
    """A venue that sends a book snapshot on subscription and never acknowledges."""

    venue = "instream"
    channels: tuple[Channel, ...] = (Channel.BOOK,)
    ack_mode = AckMode.NONE
    snapshot_source = SnapshotSource.IN_STREAM
    integrity = IntegrityMode.SEQUENCE
    rule: SequenceRule | None = UpdateIdRangeRule()
    checksum: ChecksumFn | None = None
    max_book_depth: int | None = None
    price_scale = 0
    qty_scale = 0
    max_streams_per_connection = 2
    ws_settings = WebSocketSettings()
    snapshot_tiers: Sequence[tuple[int, int]] = ()  # no REST snapshots
    weight_bucket = ""

    def venue_symbol(self, symbol: str) -> str:
        return symbol.upper()

    def stream_url(self, ws_url: str) -> str:
        return ws_url + "/feed"

    def stream_name(self, symbol: str, channel: Channel) -> str:
        return f"l2.{symbol}"

    def encode(self, method: str, streams: list[str], request_id: int) -> str:
        return f"{method} {' '.join(streams)}"

    def route(
        self, payload: bytes, ts_recv: int, sync: BookSync, symbols: Container[str]
    ) -> object:
        msg = orjson.loads(payload)
        levels = [tuple(level) for level in msg["bids"]]
        if msg["type"] == "snapshot":
            return BookSnapshot(msg["symbol"], msg["id"], levels, [], 0, ts_recv)
        # Each update spans (previous id, id]: a snapshot at N is followed by (N, N+1].
        return BookDelta(msg["symbol"], msg["id"] - 1, msg["id"], levels, [], 0, ts_recv)

    def interpret(self, parsed: object) -> Inbound:
        return cast(Inbound, parsed)

    def fetch_snapshot(self, rest: RestClient, symbol: str, limit: int) -> FetchedSnapshot:
        raise AssertionError("in-stream venues never fetch snapshots")

    def parse_snapshot(self, body: bytes | str, symbol: str, ts_recv: int) -> BookSnapshot:
        raise AssertionError("in-stream venues record no REST snapshots")


class FakeConnection:
    """Records what the connector sends; the test plays the venue."""

    def __init__(self, url: str, on_message: Callable[[bytes, int], None], name: str, **cb: Any):
        self.url = url
        self.on_message = on_message
        self.on_connect = cb["on_connect"]
        self.sent: list[str] = []
        self.watched: list[str] = []

    def start(self) -> None:
        self.on_connect(self)

    def close(self) -> None:
        pass

    def send(self, message: str) -> None:
        self.sent.append(message)

    def watch(self, key: str, stale_after_s: float) -> None:
        self.watched.append(key)

    def unwatch(self, key: str) -> None:
        pass

    def touch(self, key: str) -> None:
        pass

    def rollover(self) -> None:
        pass


def frame(kind: str, symbol: str, update_id: int, bid: int = 10) -> bytes:
    body = {"type": kind, "symbol": symbol, "id": update_id, "bids": [[bid, 1]]}
    return orjson.dumps(body)


def test_in_stream_snapshots_build_books_and_a_gap_resubscribes_that_symbol_once() -> None:
    events: list[Event] = []
    md = MarketDataConnector(
        MarketDataConfig(symbols=("a", "b", "c"), ws_url="ws://x", stream_stale_after_s=5.0),
        InStreamDialect(),
        clock=ManualClock(),
        rest=None,
        connection_factory=FakeConnection,
        sink=events.append,
    )
    md.start()
    try:
        first, second = (cast(FakeConnection, c) for c in md.connections)
        assert [s.symbols for s in md.shards] == [["A", "B"], ["C"]]  # 2 streams per connection
        assert first.url == "ws://x/feed" and first.sent == ["SUBSCRIBE l2.A l2.B"]
        assert first.watched == ["l2.A", "l2.B"] and second.sent == ["SUBSCRIBE l2.C"]
        first.on_message(frame("snapshot", "A", 10), 1)
        first.on_message(frame("update", "A", 11), 2)
        assert md.is_valid("A") and md.book("A").update_id == 11
        first.on_message(frame("update", "A", 15), 3)  # 12..14 missed
        assert not md.is_valid("A") and md.stats("A").gaps == 1
        gevent.sleep(0)  # the resubscription is sent by an owned greenlet, not the reader
        assert first.sent[1:] == ["UNSUBSCRIBE l2.A", "SUBSCRIBE l2.A"]
        first.on_message(frame("update", "A", 16), 4)  # still waiting: no second resubscribe
        gevent.sleep(0)
        assert len(first.sent) == 3
        first.on_message(frame("snapshot", "A", 16, bid=12), 5)
        assert md.is_valid("A") and md.book("A").best_bid() == (12, 1)
        assert not md.is_valid("B")  # untouched: never had a snapshot
    finally:
        md.close()
