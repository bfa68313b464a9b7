"""End to end: the real Binance connector against the simulated venue.

The market-data contract of ``connectivity.testing`` (one test per fault, each comparing the
local books with the venue's TRUE books at the same update id), plus Binance-only behaviour:
snapshot timing, sharding under the stream cap, SUBSCRIBE pacing, snapshot backoff,
book staleness. Real loopback sockets; no timed assertions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from connectivity.core.book_sync import BookInvalid, InvalidReason
from connectivity.core.events import EventSink
from connectivity.errors import ConfigError
from connectivity.testing.market_data_contract import MarketDataContract, wait_for
from connectivity.transport.wsclient import WebSocketSettings
from exchanges.binance.connector import (
    BINANCE_WS_SETTINGS,
    BinanceMarketData,
    BinanceMarketDataConfig,
)
from exchanges.binance.sim import BINANCE_SIM_SETTINGS, BinanceSimVenue

SYMBOLS = ("BTCUSDT", "ETHUSDT")

Start = Callable[..., BinanceMarketData]


class TestBinanceMarketDataContract(MarketDataContract):
    """Binance passes the shared market-data contract, and its own extras below."""

    SYMBOLS = SYMBOLS
    EXTRA_SYMBOL = "BNBBTC"

    def make_venue(self) -> BinanceSimVenue:
        """A simulated Binance with fast ticks and a short shutdown grace."""
        return BinanceSimVenue(
            seed=11,
            settings=attrs.evolve(BINANCE_SIM_SETTINGS, tick_s=0.005, shutdown_grace_s=0.3),
        )

    def make_connector(
        self, venue: BinanceSimVenue, sink: EventSink, **config: Any
    ) -> BinanceMarketData:
        """The real connector pointed at the simulator."""
        settings = BinanceMarketDataConfig(rest_url=venue.rest_url, ws_url=venue.ws_url, **config)
        return BinanceMarketData.from_config(settings, sink=sink)

    def base_ws_settings(self) -> WebSocketSettings:
        """Binance's limits: 5 outbound frames per 1.25 s, rollover before 24 h."""
        return BINANCE_WS_SETTINGS

    def test_delayed_snapshot_is_applied_over_the_buffered_diffs(
        self, venue: BinanceSimVenue, start: Start
    ) -> None:
        venue.faults.snapshot_delay_s = 0.2
        md = start()
        for symbol in SYMBOLS:
            stats = md.stats(symbol)
            assert stats.snapshots_applied == 1 and stats.updates_applied > 0
        venue.faults.snapshot_delay_s = 0.0
        self.assert_books_equal_truth(venue, md, SYMBOLS)

    def test_snapshot_older_than_the_buffer_is_fetched_again(
        self, venue: BinanceSimVenue, start: Start
    ) -> None:
        venue.faults.symbol = "BTCUSDT"
        venue.faults.stale_snapshots = 1
        ticks = venue.ticks
        wait_for(lambda: venue.ticks >= ticks + 2)  # the venue pinned an old state to serve
        md = start()
        assert venue.faults.stale_served == 1
        assert md.stats("BTCUSDT").snapshot_refetches == 1
        assert md.stats("ETHUSDT").snapshot_refetches == 0
        self.assert_books_equal_truth(venue, md, SYMBOLS)

    def test_flood_of_diffs_is_applied_in_order_to_the_exact_book(
        self, venue: BinanceSimVenue, start: Start
    ) -> None:
        md = start()
        before = md.stats("BTCUSDT").updates_applied
        venue.faults.symbol = "BTCUSDT"
        venue.faults.flood_diffs = 3000
        wait_for(lambda: md.stats("BTCUSDT").updates_applied >= before + 3000)
        self.assert_books_equal_truth(venue, md, SYMBOLS)
        assert md.stats("BTCUSDT").resyncs == 0 and md.stats("BTCUSDT").gaps == 0

    def test_symbols_are_sharded_across_connections_within_the_stream_and_message_limits(
        self, venue: BinanceSimVenue, start: Start
    ) -> None:
        symbols = ("BTCUSDT", "ETHUSDT", "BNBBTC")
        # 3 streams per symbol, 6 per connection: 2 connections; 2 streams per SUBSCRIBE frame.
        md = start(symbols=symbols, max_streams_per_connection=6, subscribe_batch=2)
        assert len(md.connections) == 2
        assert sorted(len(s.desired) for s in (sh.subscriptions for sh in md.shards)) == [3, 6]
        assert all(sh.subscriptions.all_acked for sh in md.shards)
        assert venue.connections_accepted == 2 and venue.closed_for_rate == 0
        self.assert_books_equal_truth(venue, md, symbols)

    def test_more_subscribe_frames_than_the_limit_are_paced_and_never_get_us_disconnected(
        self, venue: BinanceSimVenue, start: Start
    ) -> None:
        symbols = ("BTCUSDT", "ETHUSDT", "BNBBTC")
        md = start(symbols=symbols, subscribe_batch=1)  # 9 SUBSCRIBE frames on one connection
        (shard,) = md.shards
        assert shard.subscriptions.frames_sent == 9 and shard.subscriptions.all_acked
        assert venue.connections_accepted == 1 and venue.closed_for_rate == 0
        self.assert_books_equal_truth(venue, md, symbols)

    def test_failed_snapshots_are_retried_with_backoff_until_the_book_is_exact(
        self, venue: BinanceSimVenue, start: Start
    ) -> None:
        venue.faults.symbol = "ETHUSDT"
        venue.faults.snapshot_errors = 2  # HTTP 503 twice
        md = start()
        assert venue.faults.errors_served == 2
        assert md.snapshot_failures == 2 and md.errors["ServerError"] == 2
        assert md.stats("ETHUSDT").snapshots_applied == 1
        self.assert_books_equal_truth(venue, md, SYMBOLS)

    def test_a_quiet_book_is_flagged_stale_then_valid_again_on_the_next_update(
        self, venue: BinanceSimVenue, start: Start, events: list[Any]
    ) -> None:
        md = start(book_stale_after_s=0.1, stream_stale_after_s=5.0)
        venue.freeze()
        wait_for(
            lambda: any(
                isinstance(e, BookInvalid) and e.reason is InvalidReason.STALE for e in events
            )
        )
        assert not md.is_valid("BTCUSDT")
        venue.unfreeze()
        wait_for(lambda: md.is_valid("BTCUSDT") and md.is_valid("ETHUSDT"))
        assert md.stats("BTCUSDT").resyncs == 0  # stale is not broken: no resync needed
        self.assert_books_equal_truth(venue, md, SYMBOLS)

    def test_a_snapshot_above_the_level_cap_is_refused_then_fetched_again_until_exact(
        self, venue: BinanceSimVenue, start: Start
    ) -> None:
        venue.faults.symbol = "ETHUSDT"
        venue.faults.oversize_snapshots = 2  # the whole (deeper) book, whatever the limit
        md = start(snapshot_limit=5, snapshot_max_levels=5)
        assert venue.faults.oversize_served == 2
        assert md.snapshot_failures == 2 and md.errors["ParseError"] == 2
        assert md.stats("ETHUSDT").snapshots_applied == 1
        # Exact inside the 5 levels covered (the contract's check compares whole books).
        venue.freeze()
        target = venue.true_book("ETHUSDT").update_id
        wait_for(lambda: md.is_valid("ETHUSDT") and md.book("ETHUSDT").update_id >= target)
        truth, view = venue.true_book("ETHUSDT"), md.view("ETHUSDT", 100)
        assert view.valid and view.update_id == truth.update_id
        ours = [(lv.price, lv.quantity) for lv in view.bid_levels()]
        assert ours and ours == [lv for lv in truth.bids if lv[0] >= ours[-1][0]]


def test_a_snapshot_cap_below_the_levels_asked_for_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        BinanceMarketDataConfig(symbols=("BTCUSDT",), snapshot_limit=1000, snapshot_max_levels=999)
    with pytest.raises(ConfigError):
        BinanceMarketDataConfig(symbols=("BTCUSDT",), snapshot_max_levels=4999)  # tiers to 5000
