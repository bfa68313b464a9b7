"""Binance market data at startup: buffer bound, snapshot depth per symbol, startup progress."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs
import pytest

from connectivity.core.book_sync import BookInvalid
from connectivity.core.decimal import fixed_to_decimal
from connectivity.errors import ConfigError
from connectivity.sim.market import SymbolSpec
from connectivity.testing.market_data_contract import (
    TIMEOUT,
    assert_books_equal_truth,
    wait_for,
)
from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig
from exchanges.binance.constants import PRICE_SCALE
from exchanges.binance.sim import BINANCE_SIM_SETTINGS, BinanceSimVenue


def config(**overrides: Any) -> BinanceMarketDataConfig:
    overrides.setdefault("symbols", ("BTCUSDT", "ETHUSDT"))
    return BinanceMarketDataConfig(**overrides)


def test_buffered_deltas_per_waiting_symbol_are_bounded_by_the_config() -> None:
    md = BinanceMarketData.from_config(config(max_buffered_deltas=7))
    try:
        assert md.sync.max_buffer == 7
    finally:
        md.close()


@pytest.mark.parametrize("bound", [0, -1, True, 2.5])
def test_a_buffer_bound_below_one_delta_is_refused(bound: Any) -> None:
    with pytest.raises(ConfigError, match="max_buffered_deltas"):
        config(max_buffered_deltas=bound)


def test_each_symbol_snapshots_at_the_cheapest_tier_covering_its_depth() -> None:
    md = BinanceMarketData.from_config(
        config(book_depth=20, book_depths={"ETH-USDT": 300}, symbols=("BTCUSDT", "ETHUSDT"))
    )
    forced = BinanceMarketData.from_config(config(snapshot_limit=5000))
    try:
        assert md.snapshots.planner.limit("BTCUSDT") == 100  # weight 5
        assert md.snapshots.planner.limit("ETHUSDT") == 500  # weight 25
        assert forced.snapshots.planner.limit("BTCUSDT") == 5000
    finally:
        md.close()
        forced.close()


@pytest.mark.parametrize(
    "overrides",
    [
        {"book_depth": 0},
        {"book_depths": {"BTCUSDT": -1}},
        {"deep_book_depth": 0},
        {"snapshot_limit": 0},
        {"snapshot_concurrency": 0},
        {"deepen_budget_share": 0},
        {"deepen_budget_share": 1.5},
    ],
)
def test_bad_depths_and_concurrency_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        BinanceMarketData.from_config(config(**overrides))


SPECS = tuple(SymbolSpec(f"S{i:02d}USDT", f"S{i:02d}", "USDT", mid=str(100 + i)) for i in range(12))


@pytest.fixture
def venue() -> Iterator[BinanceSimVenue]:
    fast = attrs.evolve(BINANCE_SIM_SETTINGS, tick_s=0.005)
    with BinanceSimVenue(SPECS, seed=2, settings=fast) as sim:
        yield sim


def start(venue: BinanceSimVenue, **overrides: Any) -> BinanceMarketData:
    md = BinanceMarketData.from_config(
        config(
            symbols=[spec.symbol for spec in SPECS],
            rest_url=venue.rest_url,
            ws_url=venue.ws_url,
            book_ticker=False,
            trade_stream=None,
            **overrides,
        )
    )
    md.start()
    return md


def test_many_symbols_become_valid_through_the_planner_without_a_single_429(
    venue: BinanceSimVenue,
) -> None:
    md = start(venue, snapshot_concurrency=2)
    try:
        assert md.books_valid()[1] == len(SPECS)
        assert md.wait_valid(timeout=TIMEOUT)
        assert md.books_valid() == (len(SPECS), len(SPECS))
        assert md.snapshot_failures == 0
        assert md.snapshots.planner.in_flight == 0
        symbols = tuple(spec.symbol for spec in SPECS)
        for symbol in symbols:
            assert md.stats(symbol).snapshot_depth == 100  # the sim's books are shallower:
            assert md.stats(symbol).complete_depth == (None, None)  # whole sides, exact
        assert_books_equal_truth(venue, md, symbols)
    finally:
        md.close()


def test_a_shallow_snapshot_serves_exactly_the_covered_levels_and_never_more(
    venue: BinanceSimVenue,
) -> None:
    md = start(venue, snapshot_limit=10)
    try:
        assert md.wait_valid(timeout=TIMEOUT)
        wait_for(lambda: md.stats("S00USDT").updates_applied > 50)  # deltas churned the book
        venue.freeze()
        target = venue.true_book("S00USDT").update_id
        wait_for(lambda: md.book("S00USDT").update_id >= target)
        book, truth = md.book("S00USDT"), venue.true_book("S00USDT")
        floor, ceiling = book.covered_prices()
        assert floor is not None and ceiling is not None
        assert md.stats("S00USDT").snapshot_depth == 10
        exact_bids = [level for level in truth.bids if level[0] >= to_decimal(floor)]
        exact_asks = [level for level in truth.asks if level[0] <= to_decimal(ceiling)]
        view = md.view("S00USDT", 1000)
        assert [(lv.price, lv.quantity) for lv in view.bid_levels()] == exact_bids
        assert [(lv.price, lv.quantity) for lv in view.ask_levels()] == exact_asks
        assert md.stats("S00USDT").complete_depth == (len(exact_bids), len(exact_asks))
        assert len(truth.bids) > len(exact_bids)  # the venue has more: not served as complete
    finally:
        md.close()


def to_decimal(price: int) -> Decimal:
    return fixed_to_decimal(price, PRICE_SCALE)


def test_a_valid_book_is_deepened_later_without_ever_going_invalid(
    venue: BinanceSimVenue,
) -> None:
    events: list[Any] = []
    md = BinanceMarketData.from_config(
        config(
            symbols=[spec.symbol for spec in SPECS[:2]],
            rest_url=venue.rest_url,
            ws_url=venue.ws_url,
            book_ticker=False,
            trade_stream=None,
            snapshot_limit=10,
            deep_book_depth=800,  # -> limit 1000, the cheapest tier covering 800
        ),
        sink=events.append,
    )
    md.start()
    try:
        symbols = tuple(md.symbols)
        assert md.wait_valid(timeout=TIMEOUT)
        wait_for(lambda: all(md.stats(s).snapshot_depth == 1000 for s in symbols))
        for symbol in symbols:
            assert md.stats(symbol).complete_depth == (None, None)  # the whole (sim) book
        assert not [e for e in events if isinstance(e, BookInvalid)]
        assert_books_equal_truth(venue, md, symbols)
    finally:
        md.close()
