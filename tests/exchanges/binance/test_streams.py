"""The Binance stream router: depth to BookSync, acks to subscriptions, bad input counted."""

from __future__ import annotations

import collections
from typing import Any

import orjson

from connectivity.connector.streams import Subscriptions
from connectivity.core.book import BookDelta, BookSnapshot
from connectivity.core.book_sync import BookSync
from connectivity.core.events import PublicTrade, TopOfBook
from exchanges.binance.connector import encode_request
from exchanges.binance.constants import BOOK_INTEGRITY, BOOK_SEQUENCE_RULE
from exchanges.binance.streams import LATENCY_EVERY, BinanceStreamRouter


class _Control:
    def __init__(self) -> None:
        self.touched: list[str] = []
        self.rollovers = 0

    def touch(self, key: str) -> None:
        self.touched.append(key)

    def rollover(self) -> None:
        self.rollovers += 1


def _router() -> tuple[BinanceStreamRouter, BookSync, list[Any], _Control, list[str]]:
    requested: list[str] = []
    sync = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE, request_snapshot=requested.append)
    events: list[Any] = []
    router = BinanceStreamRouter(
        sync,
        Subscriptions(encode_request),
        ["BTCUSDT"],
        time_ns=lambda: 2_000_000_000_000,
        emit=events.append,
    )
    control = _Control()
    router.bind(control)
    return router, sync, events, control, requested


def _depth(first: int, last: int, bids: list[list[str]]) -> bytes:
    data = {"e": "depthUpdate", "E": 1_000, "s": "BTCUSDT", "U": first, "u": last, "b": bids}
    data["a"] = [["101.00", "1"]]
    return orjson.dumps({"stream": "btcusdt@depth@100ms", "data": data})


def test_depth_updates_build_the_book_touch_the_watchdog_and_sample_latency() -> None:
    router, sync, _, control, requested = _router()
    router.on_message(_depth(10, 12, [["100.00", "2"]]), 5)
    assert requested == ["BTCUSDT"]
    sync.on_snapshot("BTCUSDT", BookSnapshot("BTCUSDT", 11, [], [], 0, 6))
    router.on_message(_depth(13, 13, [["100.50", "1"]]), 200_000_000)  # > 100 ms later
    assert sync.is_valid("BTCUSDT")
    assert sync.book("BTCUSDT").best_bid() == (10_050_000_000, 100_000_000)
    router.on_message(_depth(14, 14, [["100.50", "2"]]), 200_000_001)  # too soon to touch
    assert control.touched == ["btcusdt@depth@100ms", "btcusdt@depth@100ms"]
    for update_id in range(15, 15 + 2 * LATENCY_EVERY):
        router.on_message(_depth(update_id, update_id, [["100.50", "3"]]), 200_000_002)
    # one sample per LATENCY_EVERY updates that went live (the first update was buffered)
    assert list(router.latency["BTCUSDT"].samples) == [2_000_000_000_000 - 1_000_000_000] * 2


def test_tickers_and_trades_go_to_the_sink_and_server_shutdown_rolls_over() -> None:
    router, _, events, control, _ = _router()
    ticker = {"u": 1, "s": "BTCUSDT", "b": "1.0", "B": "2", "a": "1.1", "A": "3"}
    trade = {"e": "trade", "E": 5, "s": "BTCUSDT", "t": 9, "p": "1.05", "q": "0.5", "T": 5}
    trade.update({"m": True, "M": True})
    router.on_message(orjson.dumps({"stream": "btcusdt@bookTicker", "data": ticker}), 1)
    router.on_message(orjson.dumps(trade), 2)
    shutdown = {"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 3}}
    router.on_message(orjson.dumps(shutdown), 3)
    assert [type(e) for e in events] == [TopOfBook, PublicTrade]
    assert control.rollovers == 1 and router.shutdowns == 1


def test_malformed_unknown_and_foreign_messages_are_counted_and_the_feed_goes_on() -> None:
    router, sync, _, _, _ = _router()
    router.on_message(b"{not json", 1)
    router.on_message(orjson.dumps({"e": "somethingNew", "E": 1}), 1)
    router.on_message(_depth(5, 4, []), 1)  # U > u
    router.on_message(orjson.dumps({"result": None, "id": 77}), 1)  # nobody asked
    foreign = orjson.loads(_depth(1, 2, []))
    foreign["data"]["s"] = "ETHUSDT"
    router.on_message(orjson.dumps(foreign), 1)
    assert router.errors == {"ParseError": 3, "UnknownEnumValue": 2}
    router.on_message(_depth(10, 12, [["100.00", "2"]]), 5)
    assert sync.buffered("BTCUSDT") == 1


def test_latency_is_sampled_for_every_symbol_when_their_updates_interleave() -> None:
    sync = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE)
    symbols = ["BTCUSDT", "ETHUSDT"]
    router = BinanceStreamRouter(
        sync, Subscriptions(encode_request), symbols, time_ns=lambda: 5_000_000, emit=print
    )
    for update_id in range(1, 2 + 2 * LATENCY_EVERY):
        for symbol in symbols:
            data = {"e": "depthUpdate", "E": 1, "s": symbol, "U": update_id, "u": update_id}
            data.update({"b": [["1.00", "1"]], "a": [["2.00", "1"]]})
            if update_id == 1:
                sync.on_delta(symbol, BookDelta(symbol, 1, 1, [], [], 0, 0))
                sync.on_snapshot(symbol, BookSnapshot(symbol, 1, [], [], 0, 0))
                continue
            router.on_message(orjson.dumps(data), 10)
    for symbol in symbols:
        assert router.latency[symbol].samples == collections.deque([5_000_000 - 1_000_000] * 2)
