"""A book built from a depth-limited snapshot is exact within its covered range, and only there."""

from __future__ import annotations

import random

import pytest

from connectivity.core.book import BookSnapshot, Level, LevelDecoder, OrderBook
from connectivity.core.book_sync import BookSync, IntegrityMode, UpdateIdRangeRule
from tests.core.test_book_sync import SYM, delta, rows

BIDS = [(100 - i, 1 + i) for i in range(5)]  # 100..96, best first
ASKS = [(101 + i, 1 + i) for i in range(5)]  # 101..105


def loaded(depth: int | None) -> OrderBook:
    book = OrderBook(SYM)
    book.load(BIDS, ASKS, 7, depth=depth)
    return book


def test_a_full_snapshot_side_is_exact_only_down_to_its_last_level() -> None:
    book = loaded(5)
    assert book.covered_prices() == (96, 105)
    assert book.complete_depth() == (5, 5) and book.snapshot_depth == 5
    # Inside the range: applied. Beyond it: the venue's neighbours there are unknown, ignored.
    book.apply([(97, 9), (95, 9), (90, 0)], [(104, 9), (106, 9)])
    assert book.bids() == [(100, 1), (99, 2), (98, 3), (97, 9), (96, 5)]
    assert book.asks() == [(101, 1), (102, 2), (103, 3), (104, 9), (105, 5)]


def test_top_n_never_reaches_past_the_covered_range() -> None:
    book = loaded(5)
    book.apply([(100, 0), (99, 0)], [(101, 0)])  # the touch is consumed
    view = book.view(5)
    assert [p for p, _ in view.bids] == [98, 97, 96]  # three exact levels, not five guessed
    assert [p for p, _ in view.asks] == [102, 103, 104, 105]
    assert book.complete_depth() == (3, 4)
    book.apply([(99, 4)], [])  # refilled inside the range: known again
    assert book.complete_depth() == (4, 4)


def test_a_side_shorter_than_the_depth_asked_for_is_the_whole_side() -> None:
    book = loaded(10)
    assert book.covered_prices() == (None, None)
    assert book.complete_depth() == (None, None)
    book.apply([(50, 1)], [(500, 1)])
    assert book.depth() == (6, 6)


def test_a_snapshot_without_a_depth_is_taken_as_the_whole_book() -> None:
    book = loaded(None)
    book.apply([(50, 1)], [(500, 1)])
    assert book.complete_depth() == (None, None) and book.depth() == (6, 6)


def test_only_one_side_can_be_bounded() -> None:
    book = OrderBook(SYM)
    book.load(BIDS, ASKS[:2], 7, depth=5)
    assert book.covered_prices() == (96, None)
    book.apply([(95, 1)], [(200, 1)])
    assert book.depth() == (5, 3)


def test_text_deltas_respect_the_covered_range_like_parsed_ones() -> None:
    a, b = loaded(5), loaded(5)
    bids, asks = [(97, 9), (95, 9)], [(104, 9), (106, 9)]
    a.apply(bids, asks)
    b.apply_text(rows(bids), rows(asks), LevelDecoder())
    assert a.bids() == b.bids() and a.asks() == b.asks()


def test_replace_with_carries_the_covered_range_and_clear_forgets_it() -> None:
    book, other = OrderBook(SYM), loaded(5)
    book.replace_with(other)
    assert book.covered_prices() == (96, 105) and book.snapshot_depth == 5
    book.clear()
    assert book.covered_prices() == (None, None) and book.snapshot_depth is None


def test_book_sync_exposes_the_covered_depth_and_a_full_resync_lifts_it() -> None:
    sync = BookSync(IntegrityMode.SEQUENCE, UpdateIdRangeRule(), price_scale=0, qty_scale=0)
    sync.on_delta(SYM, delta(10, 10, [(95, 1)]))
    sync.on_snapshot(SYM, BookSnapshot(SYM, 10, BIDS, ASKS, 0, 0, depth=5))
    stats = sync.stats(SYM)
    assert sync.is_valid(SYM)
    assert (stats.snapshot_depth, stats.complete_depth) == (5, (5, 5))
    sync.reset([SYM])
    sync.on_delta(SYM, delta(11, 11))
    sync.on_snapshot(SYM, BookSnapshot(SYM, 11, BIDS, ASKS, 0, 0, depth=100))
    assert (stats.snapshot_depth, stats.complete_depth) == (100, (None, None))


@pytest.mark.parametrize("seed", range(10))
def test_every_level_served_equals_the_true_book_inside_the_covered_range(seed: int) -> None:
    rng = random.Random(seed)
    truth: dict[bool, dict[int, int]] = {
        True: {p: rng.randint(1, 9) for p in range(1, 200)},
        False: {p: rng.randint(1, 9) for p in range(201, 400)},
    }
    depth = 20

    def top(side: bool) -> list[Level]:
        return sorted(truth[side].items(), reverse=side)[:depth]

    book = OrderBook(SYM, 0, 0)
    book.load(top(True), top(False), 1, depth=depth)
    floor, ceiling = book.covered_prices()
    assert floor is not None and ceiling is not None
    for _ in range(2000):  # churn near the touch and far away, both sides
        side = rng.random() < 0.5
        price = rng.randint(150, 199) if side else rng.randint(201, 250)
        qty = 0 if rng.random() < 0.4 else rng.randint(1, 9)
        if qty:
            truth[side][price] = qty
        else:
            truth[side].pop(price, None)
        book.apply([(price, qty)] if side else [], [] if side else [(price, qty)])
        exact_bids = sorted(((p, q) for p, q in truth[True].items() if p >= floor), reverse=True)
        exact_asks = sorted((p, q) for p, q in truth[False].items() if p <= ceiling)
        assert book.bids() == exact_bids
        assert book.asks() == exact_asks
