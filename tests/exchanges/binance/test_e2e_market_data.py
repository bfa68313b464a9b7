"""End to end: the real Binance connector against the simulated venue, one test per fault.

Each test injects one fault, waits (with timeouts) for the connector to recover, freezes the
simulated market and asserts that the local book equals the venue's TRUE book exactly, at the
same update id. Real loopback sockets; no timed assertions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import gevent
import pytest

from connectivity.core.book_sync import BookInvalid, InvalidReason
from connectivity.core.events import PublicTrade
from connectivity.core.events import TopOfBook as BookTicker
from exchanges.binance.connector import (
    BINANCE_WS_SETTINGS,
    BinanceMarketData,
    BinanceMarketDataConfig,
)
from exchanges.binance.sim import BinanceSimVenue

SYMBOLS = ("BTCUSDT", "ETHUSDT")
TIMEOUT = 10.0

Start = Callable[..., BinanceMarketData]


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    with gevent.Timeout(timeout, AssertionError(f"condition not met in {timeout}s")):
        while not condition():
            gevent.sleep(0.005)


@pytest.fixture
def venue() -> Iterator[BinanceSimVenue]:
    with BinanceSimVenue(seed=11, tick_s=0.005, shutdown_grace_s=0.3) as sim:
        yield sim


@pytest.fixture
def events() -> list[Any]:
    return []


@pytest.fixture
def start(venue: BinanceSimVenue, events: list[Any]) -> Iterator[Start]:
    started: list[BinanceMarketData] = []

    def make(**overrides: Any) -> BinanceMarketData:
        config = BinanceMarketDataConfig(
            symbols=overrides.pop("symbols", SYMBOLS),
            rest_url=venue.rest_url,
            ws_url=venue.ws_url,
            stream_stale_after_s=overrides.pop("stream_stale_after_s", 0.5),
            snapshot_retry_s=0.05,
            ack_timeout_s=2.0,
            ws_settings=attrs.evolve(
                BINANCE_WS_SETTINGS,  # Binance's outbound limit: 5 frames per 1.25 s
                ping_interval_s=0.3,  # pings flow during a stall (within the 5 frames/s limit)
                backoff_initial_s=0.02,
                backoff_max_s=0.1,
                tick_s=0.05,
                connect_timeout_s=2.0,
            ),
            **overrides,
        )
        md = BinanceMarketData.from_config(config, sink=events.append)
        started.append(md)
        md.start()
        assert md.wait_valid(timeout=TIMEOUT)
        return md

    yield make
    for md in started:
        md.close()


def assert_books_equal_truth(
    venue: BinanceSimVenue, md: BinanceMarketData, symbols: tuple[str, ...] = SYMBOLS
) -> None:
    """Freeze the market, let the connector catch up, compare every level exactly."""
    venue.freeze()
    for symbol in symbols:
        target = venue.true_book(symbol).update_id
        wait_for(lambda s=symbol, t=target: md.is_valid(s) and md.book(s).update_id >= t)  # type: ignore[misc]
        truth = venue.true_book(symbol)
        view = md.view(symbol, 100_000)
        assert view.valid and view.update_id == truth.update_id
        assert [(lv.price, lv.quantity) for lv in view.bid_levels()] == list(truth.bids)
        assert [(lv.price, lv.quantity) for lv in view.ask_levels()] == list(truth.asks)


def test_gap_resyncs_only_the_gapped_symbol_and_matches_the_true_book(
    venue: BinanceSimVenue, start: Start
) -> None:
    md = start()
    venue.faults.symbol = "BTCUSDT"
    venue.faults.drop_diffs = 1
    wait_for(lambda: md.stats("BTCUSDT").gaps >= 1 and md.is_valid("BTCUSDT"))
    assert venue.faults.dropped == 1
    assert md.stats("BTCUSDT").resyncs == 1
    assert md.stats("ETHUSDT").resyncs == 0
    assert_books_equal_truth(venue, md)


def test_duplicated_diffs_leave_the_book_exact_without_a_resync(
    venue: BinanceSimVenue, start: Start
) -> None:
    md = start()
    venue.faults.duplicate_diffs = 5
    wait_for(lambda: venue.faults.duplicated == 5)
    assert_books_equal_truth(venue, md)
    assert md.stats("BTCUSDT").resyncs == 0 and md.stats("ETHUSDT").resyncs == 0


def test_stall_with_pings_still_answered_is_detected_reconnected_and_resynced(
    venue: BinanceSimVenue, start: Start, events: list[Any]
) -> None:
    md = start()
    (connection,) = md.connections
    pongs = connection.stats.pongs_received
    assert venue.stall() == 1
    wait_for(lambda: connection.stats.errors["StaleSubscription"] >= 1)
    assert connection.stats.pongs_received > pongs  # the stalled feed kept answering pings
    assert connection.stats.errors["PongTimeout"] == 0
    wait_for(lambda: connection.stats.reconnects >= 1 and md.wait_valid(timeout=0.01))
    assert any(isinstance(e, BookInvalid) and e.reason is InvalidReason.RESET for e in events)
    assert_books_equal_truth(venue, md)


def test_disconnect_invalidates_the_books_then_reconnects_and_resyncs(
    venue: BinanceSimVenue, start: Start, events: list[Any]
) -> None:
    md = start()
    (connection,) = md.connections
    assert venue.disconnect() == 1
    wait_for(lambda: connection.stats.reconnects >= 1)
    invalid = [e for e in events if isinstance(e, BookInvalid)]
    assert {e.symbol for e in invalid} == set(SYMBOLS)
    wait_for(lambda: md.wait_valid(timeout=0.01))
    assert md.stats("BTCUSDT").resyncs == 1
    assert_books_equal_truth(venue, md)


def test_server_shutdown_rolls_over_seamlessly_and_the_book_stays_exact(
    venue: BinanceSimVenue, start: Start, events: list[Any]
) -> None:
    md = start()
    (connection,) = md.connections
    accepted = venue.connections_accepted
    assert venue.server_shutdown() == 1
    wait_for(lambda: connection.stats.rollovers == 1)
    assert venue.connections_accepted == accepted + 1
    wait_for(lambda: len(venue.sessions) == 1)  # the old connection is gone
    assert_books_equal_truth(venue, md)
    assert connection.stats.reconnects == 0


def test_delayed_snapshot_is_applied_over_the_buffered_diffs(
    venue: BinanceSimVenue, start: Start
) -> None:
    venue.faults.snapshot_delay_s = 0.2
    md = start()
    for symbol in SYMBOLS:
        stats = md.stats(symbol)
        assert stats.snapshots_applied == 1 and stats.updates_applied > 0
    venue.faults.snapshot_delay_s = 0.0
    assert_books_equal_truth(venue, md)


def test_snapshot_older_than_the_buffer_is_fetched_again(
    venue: BinanceSimVenue, start: Start
) -> None:
    venue.faults.symbol = "BTCUSDT"
    venue.faults.stale_snapshots = 1
    ticks = venue.ticks
    wait_for(lambda: venue.ticks >= ticks + 2)  # the venue pinned an old state to serve
    md = start()
    assert venue.faults.stale_served == 1
    assert md.stats("BTCUSDT").snapshot_refetches == 1
    assert md.stats("ETHUSDT").snapshot_refetches == 0
    assert_books_equal_truth(venue, md)


def test_flood_of_diffs_is_applied_in_order_to_the_exact_book(
    venue: BinanceSimVenue, start: Start
) -> None:
    md = start()
    before = md.stats("BTCUSDT").updates_applied
    venue.faults.symbol = "BTCUSDT"
    venue.faults.flood_diffs = 3000
    wait_for(lambda: md.stats("BTCUSDT").updates_applied >= before + 3000)
    assert_books_equal_truth(venue, md)
    assert md.stats("BTCUSDT").resyncs == 0 and md.stats("BTCUSDT").gaps == 0


def test_symbols_are_sharded_across_connections_within_the_stream_and_message_limits(
    venue: BinanceSimVenue, start: Start
) -> None:
    symbols = ("BTCUSDT", "ETHUSDT", "BNBBTC")
    # 3 streams per symbol, 6 per connection: 2 connections; 2 streams per SUBSCRIBE frame.
    md = start(symbols=symbols, max_streams_per_connection=6, subscribe_batch=2)
    assert len(md.connections) == 2
    assert sorted(len(s.desired) for s in (sh.subscriptions for sh in md.shards)) == [3, 6]
    assert all(sh.subscriptions.all_acked for sh in md.shards)
    assert venue.connections_accepted == 2 and venue.closed_for_rate == 0
    assert_books_equal_truth(venue, md, symbols)


def test_more_subscribe_frames_than_the_limit_are_paced_and_never_get_us_disconnected(
    venue: BinanceSimVenue, start: Start
) -> None:
    symbols = ("BTCUSDT", "ETHUSDT", "BNBBTC")
    md = start(symbols=symbols, subscribe_batch=1)  # 9 SUBSCRIBE frames on one connection
    (shard,) = md.shards
    assert shard.subscriptions.frames_sent == 9 and shard.subscriptions.all_acked
    assert venue.connections_accepted == 1 and venue.closed_for_rate == 0
    assert_books_equal_truth(venue, md, symbols)


def test_failed_snapshots_are_retried_with_backoff_until_the_book_is_exact(
    venue: BinanceSimVenue, start: Start
) -> None:
    venue.faults.symbol = "ETHUSDT"
    venue.faults.snapshot_errors = 2  # HTTP 503 twice
    md = start()
    assert venue.faults.errors_served == 2
    assert md.snapshot_failures == 2 and md.errors["ServerError"] == 2
    assert md.stats("ETHUSDT").snapshots_applied == 1
    assert_books_equal_truth(venue, md)


def test_tickers_and_trades_reach_the_sink_and_the_last_ticker_is_the_true_top(
    venue: BinanceSimVenue, start: Start, events: list[Any]
) -> None:
    md = start()
    wait_for(
        lambda: (
            {e.symbol for e in events if isinstance(e, PublicTrade)} == set(SYMBOLS)
            and {e.symbol for e in events if isinstance(e, BookTicker)} == set(SYMBOLS)
        )
    )
    assert_books_equal_truth(venue, md)  # freezes the market: no ticker after this
    for symbol in SYMBOLS:
        last = [e for e in events if isinstance(e, BookTicker) and e.symbol == symbol][-1]
        top = md.view(symbol, 1)
        assert (last.bid_price, last.bid_qty) == top.best_bid
        assert (last.ask_price, last.ask_qty) == top.best_ask
        assert last.update_id <= top.update_id


def test_a_quiet_book_is_flagged_stale_then_valid_again_on_the_next_update(
    venue: BinanceSimVenue, start: Start, events: list[Any]
) -> None:
    md = start(book_stale_after_s=0.1, stream_stale_after_s=5.0)
    venue.freeze()
    wait_for(
        lambda: any(isinstance(e, BookInvalid) and e.reason is InvalidReason.STALE for e in events)
    )
    assert not md.is_valid("BTCUSDT")
    venue.unfreeze()
    wait_for(lambda: md.is_valid("BTCUSDT") and md.is_valid("ETHUSDT"))
    assert md.stats("BTCUSDT").resyncs == 0  # stale is not broken: no resync needed
    assert_books_equal_truth(venue, md)
