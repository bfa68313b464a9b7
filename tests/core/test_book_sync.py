import random
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.core.book import BookDelta, BookSnapshot, Level, LevelDecoder, OrderBook
from connectivity.core.book_sync import (
    BookEvent,
    BookInvalid,
    BookStatus,
    BookSync,
    BookValid,
    IntegrityMode,
    InvalidReason,
    UpdateIdRangeRule,
    Verdict,
)
from connectivity.errors import ConfigError, ParseError

SYM = "BTCUSDT"


def delta(
    first: int,
    last: int,
    bids: Iterable[Level] = (),
    asks: Iterable[Level] = (),
    ts: int = 0,
    checksum: int | None = None,
) -> BookDelta:
    return BookDelta(SYM, first, last, list(bids), list(asks), ts * 10, ts, checksum)


def snap(
    last_id: int,
    bids: Iterable[Level] = ((100, 1),),
    asks: Iterable[Level] = ((110, 1),),
    ts: int = 0,
) -> BookSnapshot:
    return BookSnapshot(SYM, last_id, list(bids), list(asks), 0, ts)


class Harness:
    def __init__(self, **kwargs: Any) -> None:
        self.events: list[BookEvent] = []
        self.requests: list[str] = []
        kwargs.setdefault("rule", UpdateIdRangeRule())
        mode = kwargs.pop("mode", IntegrityMode.SEQUENCE)
        self.sync = BookSync(
            mode, request_snapshot=self.requests.append, on_event=self.events.append, **kwargs
        )


def last_invalid(h: Harness) -> BookInvalid:
    event = h.events[-1]
    assert isinstance(event, BookInvalid)
    return event


def synced(**kwargs: Any) -> Harness:
    h = Harness(**kwargs)
    h.sync.on_delta(SYM, delta(10, 12, [(100, 2)], ts=1))
    h.sync.on_snapshot(SYM, snap(11, ts=2))
    return h


def test_first_delta_requests_a_snapshot_once_and_buffers() -> None:
    h = Harness()
    assert h.sync.on_delta(SYM, delta(10, 12)) is True
    assert h.sync.on_delta(SYM, delta(13, 14)) is False
    assert h.requests == [SYM]
    assert h.sync.needs_snapshot(SYM) and h.sync.buffered(SYM) == 2
    assert h.sync.status(SYM) is BookStatus.SYNCING and not h.sync.is_valid(SYM)


def test_snapshot_older_than_first_buffered_delta_is_fetched_again() -> None:
    h = Harness()
    h.sync.on_delta(SYM, delta(10, 12))
    assert h.sync.on_snapshot(SYM, snap(9)) is True
    assert h.requests == [SYM, SYM]
    assert h.sync.stats(SYM).snapshot_refetches == 1
    assert not h.sync.is_valid(SYM)
    assert h.sync.on_snapshot(SYM, snap(10)) is False
    assert h.sync.is_valid(SYM)


def test_buffered_deltas_covered_by_the_snapshot_are_dropped_and_the_rest_applied() -> None:
    h = Harness()
    h.sync.on_delta(SYM, delta(5, 7, [(100, 50)]))
    h.sync.on_delta(SYM, delta(8, 9, [(100, 60)]))
    h.sync.on_delta(SYM, delta(10, 12, [(101, 3)]))
    h.sync.on_snapshot(SYM, snap(9, bids=[(100, 1)]))
    book = h.sync.book(SYM)
    assert book.bids() == [(101, 3), (100, 1)]
    assert book.update_id == 12
    stats = h.sync.stats(SYM)
    assert (stats.dropped_covered, stats.updates_applied, stats.last_update_id) == (2, 1, 12)
    assert h.events == [BookValid(SYM, 12, 0)]


def test_first_remaining_delta_after_a_gap_restarts_with_a_new_snapshot() -> None:
    h = Harness()
    h.sync.on_delta(SYM, delta(5, 7))
    h.sync.on_delta(SYM, delta(12, 13))  # 8..11 never arrived
    assert h.sync.on_snapshot(SYM, snap(9)) is True
    assert h.sync.stats(SYM).gaps == 1
    assert h.sync.buffered(SYM) == 1 and h.sync.status(SYM) is BookStatus.SYNCING
    h.sync.on_snapshot(SYM, snap(12))
    assert h.sync.is_valid(SYM) and h.sync.book(SYM).update_id == 13


def test_live_delta_older_than_the_book_is_ignored_and_counted() -> None:
    h = synced()
    assert h.sync.on_delta(SYM, delta(3, 11, [(100, 99)])) is False
    assert h.sync.book(SYM).bid_quantity(100) == 2
    assert h.sync.stats(SYM).stale_ignored == 1
    assert h.sync.is_valid(SYM)


def test_duplicate_of_the_last_delta_is_reapplied_harmlessly() -> None:
    h = synced()
    h.sync.on_delta(SYM, delta(13, 14, [(100, 5)]))
    h.sync.on_delta(SYM, delta(13, 14, [(100, 5)]))
    assert h.sync.book(SYM).bid_quantity(100) == 5 and h.sync.is_valid(SYM)


def test_live_gap_invalidates_only_that_symbol_and_keeps_serving_the_old_book() -> None:
    h = synced()
    h.sync.on_delta("ETHUSDT", BookDelta("ETHUSDT", 1, 1, [(5, 1)], [], 0, 0))
    h.sync.on_snapshot("ETHUSDT", BookSnapshot("ETHUSDT", 1, [(4, 1)], [(6, 1)], 0, 0))
    old_bids = h.sync.book(SYM).bids()
    assert h.sync.on_delta(SYM, delta(14, 15, [(100, 7)], ts=5)) is True
    assert h.sync.status(SYM) is BookStatus.RESYNCING and not h.sync.is_valid(SYM)
    assert h.sync.book(SYM).bids() == old_bids  # frozen, not cleared
    assert h.sync.view(SYM).valid is False
    assert h.sync.is_valid("ETHUSDT")
    invalid = h.events[-1]
    assert isinstance(invalid, BookInvalid)
    assert (invalid.reason, invalid.expected, invalid.received) == (InvalidReason.GAP, 13, 14)
    stats = h.sync.stats(SYM)
    assert (stats.gaps, stats.resyncs) == (1, 1)


def test_resync_swaps_the_caught_up_book_into_the_same_object_without_stale_levels() -> None:
    h = synced()
    book = h.sync.book(SYM)
    book_ref = h.sync.book(SYM)
    h.sync.on_delta(SYM, delta(1, 1))  # stale, ignored
    h.sync.on_delta(SYM, delta(20, 21, [(90, 1)]))  # gap: buffered as the new first delta
    h.sync.on_delta(SYM, delta(22, 22, [(91, 1)]))
    assert h.sync.on_snapshot(SYM, snap(20, bids=[(95, 4)], asks=[(120, 1)])) is False
    assert h.sync.book(SYM) is book_ref is book
    assert book.bids() == [(95, 4), (91, 1), (90, 1)]  # level 100 from the old book is gone
    assert book.update_id == 22 and h.sync.is_valid(SYM)
    assert h.events[-1] == BookValid(SYM, 22, 0)


def test_crossed_book_after_a_delta_invalidates_and_resyncs() -> None:
    h = synced()
    assert h.sync.on_delta(SYM, delta(13, 13, [(115, 1)], ts=3)) is False
    assert h.sync.status(SYM) is BookStatus.RESYNCING
    assert last_invalid(h).reason is InvalidReason.CROSSED
    assert h.sync.stats(SYM).crossed == 1
    assert h.sync.on_delta(SYM, delta(14, 14)) is True  # the next delta starts the rebuild
    h.sync.on_snapshot(SYM, snap(14))
    assert h.sync.is_valid(SYM)


def test_a_crossed_rebuild_is_never_served() -> None:
    h = Harness()
    h.sync.on_delta(SYM, delta(10, 10))
    h.sync.on_snapshot(SYM, snap(10, bids=[(120, 1)], asks=[(110, 1)]))
    assert not h.sync.is_valid(SYM)
    assert h.sync.book(SYM).depth() == (0, 0)
    assert h.sync.stats(SYM).crossed == 1


def test_crossed_check_can_be_disabled() -> None:
    h = synced(check_crossed=False)
    h.sync.on_delta(SYM, delta(13, 13, [(115, 1)]))
    assert h.sync.is_valid(SYM) and h.sync.book(SYM).is_crossed()


def test_checksum_mismatch_triggers_a_resync_in_checksum_mode() -> None:
    def top_bid_qty(book: OrderBook) -> int:
        best = book.best_bid()
        return best[1] if best else 0

    h = Harness(mode=IntegrityMode.CHECKSUM, rule=None, checksum=top_bid_qty)
    h.sync.on_delta(SYM, delta(0, 0, [(100, 9)]))
    h.sync.on_snapshot(SYM, snap(0, bids=[(100, 1)]))
    assert h.sync.stats(SYM).dropped_covered == 1  # no ids: the snapshot is taken as newer
    h.sync.on_delta(SYM, delta(0, 0, [(100, 3)], checksum=3))
    assert h.sync.is_valid(SYM)
    h.sync.on_delta(SYM, delta(0, 0, [(100, 4)], checksum=5))
    assert not h.sync.is_valid(SYM)
    assert last_invalid(h).reason is InvalidReason.CHECKSUM_MISMATCH
    assert h.sync.stats(SYM).checksum_failures == 1


def test_no_integrity_mode_applies_every_delta() -> None:
    h = Harness(mode=IntegrityMode.NONE, rule=None)
    h.sync.on_delta(SYM, delta(0, 0))
    h.sync.on_snapshot(SYM, snap(0))
    h.sync.on_delta(SYM, delta(0, 0, [(105, 1)]))
    assert h.sync.book(SYM).best_bid() == (105, 1)


def test_stale_symbol_is_flagged_and_recovers_on_the_next_update() -> None:
    h = synced(stale_after_ns=1_000)
    assert h.sync.check_stale(500) == []
    assert h.sync.check_stale(5_000) == [SYM]
    assert h.sync.status(SYM) is BookStatus.STALE and not h.sync.is_valid(SYM)
    assert last_invalid(h).reason is InvalidReason.STALE
    assert h.sync.check_stale(9_000) == []  # flagged once
    h.sync.on_delta(SYM, delta(13, 13, ts=9_100))
    assert h.sync.is_valid(SYM) and h.events[-1] == BookValid(SYM, 13, 9_100)


def test_staleness_is_off_without_a_limit() -> None:
    assert synced().sync.check_stale(10**18) == []


def test_snapshot_before_any_delta_waits_for_the_first_delta() -> None:
    h = Harness()
    assert h.sync.on_snapshot(SYM, snap(10)) is False
    assert not h.sync.needs_snapshot(SYM)
    h.sync.on_delta(SYM, delta(10, 12, [(100, 8)]))
    assert h.sync.is_valid(SYM) and h.sync.book(SYM).bid_quantity(100) == 8


def test_snapshot_just_before_the_first_buffered_delta_is_refetched_as_the_spec_says() -> None:
    # Step 3 is literal: lastUpdateId < first buffered U -> fetch again, even when it is U - 1.
    h = Harness()
    h.sync.on_delta(SYM, delta(11, 12))
    assert h.sync.on_snapshot(SYM, snap(10)) is True
    assert h.sync.stats(SYM).snapshot_refetches == 1


def test_early_snapshot_older_than_the_first_delta_is_refetched() -> None:
    h = Harness()
    h.sync.on_snapshot(SYM, snap(5))
    assert h.sync.on_delta(SYM, delta(11, 12)) is True
    assert not h.sync.is_valid(SYM)


def test_failed_snapshot_lets_the_next_delta_request_again() -> None:
    h = Harness()
    h.sync.on_delta(SYM, delta(1, 1))
    assert h.sync.on_delta(SYM, delta(2, 2)) is False
    h.sync.snapshot_failed(SYM)
    assert h.sync.on_delta(SYM, delta(3, 3)) is True
    assert h.requests == [SYM, SYM]


def test_late_snapshot_for_a_live_book_is_ignored() -> None:
    h = synced()
    assert h.sync.on_snapshot(SYM, snap(1, bids=[(1, 1)])) is False
    assert h.sync.book(SYM).best_bid() == (100, 2)


def test_reset_resyncs_every_symbol_and_starts_buffering_again() -> None:
    h = synced()
    h.sync.reset(detail="reconnect")
    assert h.sync.status(SYM) is BookStatus.RESYNCING
    assert last_invalid(h).reason is InvalidReason.RESET and last_invalid(h).detail == "reconnect"
    assert h.sync.on_delta(SYM, delta(30, 31)) is True
    h.sync.on_snapshot(SYM, snap(30))
    assert h.sync.is_valid(SYM) and h.sync.stats(SYM).resyncs == 1


def test_snapshot_only_mode_replaces_the_book_and_refuses_deltas() -> None:
    h = Harness(mode=IntegrityMode.SNAPSHOT_ONLY, rule=None)
    h.sync.on_snapshot(SYM, snap(1, bids=[(100, 1)]))
    h.sync.on_snapshot(SYM, snap(2, bids=[(99, 1)]))
    assert h.sync.book(SYM).bids() == [(99, 1)] and h.sync.is_valid(SYM)
    assert not h.sync.needs_snapshot(SYM)
    with pytest.raises(ConfigError):
        h.sync.on_delta(SYM, delta(3, 3))


def test_buffer_overflow_keeps_the_newest_deltas() -> None:
    h = Harness(max_buffer=4)
    for i in range(1, 6):
        h.sync.on_delta(SYM, delta(i, i))
    assert h.sync.buffered(SYM) == 3
    assert h.sync.stats(SYM).buffer_overflows == 1
    assert h.sync.on_snapshot(SYM, snap(2)) is True  # older than the first kept delta (3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": IntegrityMode.SEQUENCE},
        {"mode": IntegrityMode.CHECKSUM},
        {"mode": IntegrityMode.NONE, "max_buffer": 0},
    ],
)
def test_inconsistent_configuration_is_refused(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        BookSync(**kwargs)


def test_add_symbol_sets_scales_and_stats_are_readable() -> None:
    sync = BookSync(IntegrityMode.SEQUENCE, UpdateIdRangeRule())
    book = sync.add_symbol("X", price_scale=2, qty_scale=4)
    assert (book.price_scale, book.qty_scale) == (2, 4)
    assert sync.symbols() == ["X"]
    assert sync.stats("X").as_dict()["updates_applied"] == 0
    assert "updates_applied" in repr(sync.stats("X"))
    assert not sync.is_valid("unknown") and not sync.needs_snapshot("unknown")


@pytest.mark.parametrize(
    ("book_id", "first", "last", "verdict"),
    [
        (10, 11, 12, Verdict.APPLY),
        (10, 5, 10, Verdict.APPLY),
        (10, 5, 9, Verdict.STALE),
        (10, 12, 13, Verdict.GAP),
    ],
)
def test_update_id_range_rule_matches_the_spec(
    book_id: int, first: int, last: int, verdict: Verdict
) -> None:
    assert UpdateIdRangeRule().check(book_id, first, last) is verdict


# -- property: whatever is dropped or duplicated, a valid book equals the true book ----------


def _true_stream(seed: int, n: int) -> tuple[list[BookDelta], list[dict[bool, dict[int, int]]]]:
    rng = random.Random(seed)
    truth: dict[bool, dict[int, int]] = {
        True: {p: 1 for p in range(90, 100)},
        False: {p: 1 for p in range(101, 111)},
    }
    states = [{k: dict(v) for k, v in truth.items()}]  # state after update id i
    deltas = []
    next_id = 1
    for _ in range(n):
        rows: dict[bool, list[tuple[int, int]]] = {True: [], False: []}
        for _ in range(rng.randint(1, 3)):
            side = rng.random() < 0.5
            price = rng.randint(80, 100) if side else rng.randint(101, 120)
            qty = 0 if rng.random() < 0.3 else rng.randint(1, 9)
            rows[side].append((price, qty))
            if qty:
                truth[side][price] = qty
            else:
                truth[side].pop(price, None)
        span = rng.randint(1, 3)  # one event may cover several update ids
        deltas.append(BookDelta(SYM, next_id, next_id + span - 1, rows[True], rows[False], 0, 0))
        for _ in range(span):
            states.append({k: dict(v) for k, v in truth.items()})
        next_id += span
    return deltas, states


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.floats(0, 0.15), st.floats(0, 0.15), st.integers(0, 6))
def test_valid_book_always_equals_the_true_book(
    seed: int, drop: float, dup: float, snapshot_delay: int
) -> None:
    deltas, states = _true_stream(seed, 120)
    rng = random.Random(seed + 1)
    requested: list[str] = []
    sync = BookSync(IntegrityMode.SEQUENCE, UpdateIdRangeRule(), request_snapshot=requested.append)
    due: int | None = None
    for index, d in enumerate(deltas):
        if rng.random() < drop:
            continue
        sync.on_delta(SYM, d)
        if rng.random() < dup:
            sync.on_delta(SYM, d)
        if requested and due is None:
            requested.clear()
            due = index + snapshot_delay
        if due is not None and index >= due:
            state = states[d.last_id]
            sync.on_snapshot(
                SYM,
                BookSnapshot(
                    SYM, d.last_id, list(state[True].items()), list(state[False].items()), 0, 0
                ),
            )
            due = None
            if requested:
                requested.clear()
                due = index + snapshot_delay
        if sync.is_valid(SYM):
            book = sync.book(SYM)
            truth = states[book.update_id]
            assert book.bids() == sorted(truth[True].items(), reverse=True)
            assert book.asks() == sorted(truth[False].items())
            assert not book.is_crossed()


# -- on_delta_text: the one-pass path gives the same books and events -------------------------


def rows(levels: Iterable[Level]) -> list[list[str]]:
    return [[f"{p // 10**8}.{p % 10**8:08d}", f"{q // 10**8}.{q % 10**8:08d}"] for p, q in levels]


def test_text_delta_on_a_live_book_applies_like_a_parsed_delta() -> None:
    h = synced()
    decoder = LevelDecoder()
    h.sync.on_delta_text(SYM, 13, 14, rows([(100, 7)]), rows([(112, 3)]), 50, 5, decoder)
    book = h.sync.book(SYM)
    assert book.bid_quantity(100) == 7 and book.ask_quantity(112) == 3
    assert (book.update_id, book.ts_event, h.sync.stats(SYM).last_ts_recv) == (14, 50, 5)


def test_text_delta_buffers_ignores_and_detects_gaps_like_on_delta() -> None:
    h = Harness()
    decoder = LevelDecoder()
    assert h.sync.on_delta_text(SYM, 10, 12, rows([(100, 2)]), [], 0, 1, decoder) is True
    assert h.sync.buffered(SYM) == 1
    h.sync.on_snapshot(SYM, snap(11))
    assert h.sync.book(SYM).bid_quantity(100) == 2
    assert h.sync.on_delta_text(SYM, 3, 11, rows([(100, 9)]), [], 0, 2, decoder) is False
    assert h.sync.stats(SYM).stale_ignored == 1
    assert h.sync.on_delta_text(SYM, 20, 21, [], [], 0, 3, decoder) is True
    assert last_invalid(h).reason is InvalidReason.GAP and h.sync.buffered(SYM) == 1


def test_text_delta_consults_a_rule_that_is_not_exactly_the_binance_range_rule() -> None:
    class RefusesId13(UpdateIdRangeRule):
        def check(self, book_id: int, first_id: int, last_id: int) -> Verdict:
            return Verdict.STALE if first_id == 13 else super().check(book_id, first_id, last_id)

    h = synced(rule=RefusesId13())
    h.sync.on_delta_text(SYM, 13, 13, rows([(100, 9)]), [], 0, 0, LevelDecoder())
    assert h.sync.stats(SYM).stale_ignored == 1 and h.sync.book(SYM).bid_quantity(100) == 2


def test_text_delta_that_crosses_the_book_resyncs() -> None:
    h = synced()
    h.sync.on_delta_text(SYM, 13, 13, rows([(115, 1)]), [], 0, 0, LevelDecoder())
    assert last_invalid(h).reason is InvalidReason.CROSSED and not h.sync.is_valid(SYM)


def test_malformed_text_row_invalidates_the_symbol_and_raises() -> None:
    h = synced()
    with pytest.raises(ParseError):
        h.sync.on_delta_text(SYM, 13, 13, [["1.00000000", "bad"]], [], 0, 0, LevelDecoder())
    assert last_invalid(h).reason is InvalidReason.MALFORMED
    assert h.sync.status(SYM) is BookStatus.RESYNCING
    assert h.sync.on_delta(SYM, delta(14, 14)) is True  # the next delta starts the rebuild


def test_text_delta_after_stale_flag_makes_the_book_valid_again() -> None:
    h = synced(stale_after_ns=10)
    h.sync.check_stale(1_000)
    h.sync.on_delta_text(SYM, 13, 13, [], [], 0, 2_000, LevelDecoder())
    assert h.sync.is_valid(SYM) and h.events[-1] == BookValid(SYM, 13, 2_000)


# -- a dropped (unreadable) delta always resyncs its book --------------------------------------


def test_dropped_delta_of_a_live_symbol_invalidates_and_resyncs_it() -> None:
    h = synced()
    h.sync.drop_delta(SYM, "bad row", 7)
    assert last_invalid(h).reason is InvalidReason.MALFORMED
    assert h.sync.status(SYM) is BookStatus.RESYNCING and h.sync.stats(SYM).malformed == 1
    assert h.sync.on_delta(SYM, delta(14, 14)) is True  # the next delta starts the rebuild


def test_dropped_delta_while_buffering_empties_the_buffer_it_left_a_hole_in() -> None:
    h = Harness()
    h.sync.on_delta(SYM, delta(10, 12))
    h.sync.drop_delta(SYM, "bad row", 1)
    assert h.sync.buffered(SYM) == 0 and h.sync.status(SYM) is BookStatus.SYNCING


def test_dropped_delta_of_an_unknown_symbol_adds_it_unsynced_like_a_delta_would() -> None:
    h = synced()
    h.sync.drop_delta("ETHUSDT", "bad row", 1)
    assert h.sync.status("ETHUSDT") is BookStatus.SYNCING and h.sync.is_valid(SYM)


def test_malformed_text_row_while_buffering_empties_the_buffer() -> None:
    h = Harness()
    h.sync.on_delta(SYM, delta(10, 12))
    with pytest.raises(ParseError):
        h.sync.on_delta_text(SYM, 13, 13, [["1.00000000", "bad"]], [], 0, 0, LevelDecoder())
    assert h.sync.buffered(SYM) == 0 and h.sync.stats(SYM).malformed == 1


# -- a run of stale deltas means our update id is wrong -----------------------------------------

ABSURD = 2**63 - 1


def feed(h: Harness, first: int, last: int, text: bool) -> bool:
    if text:
        return h.sync.on_delta_text(SYM, first, last, rows([(100, 3)]), [], 0, 5, LevelDecoder())
    return h.sync.on_delta(SYM, delta(first, last, [(100, 3)], ts=5))


@pytest.mark.parametrize("text", [False, True])
def test_a_run_of_stale_deltas_after_an_absurd_last_id_resyncs_the_book(text: bool) -> None:
    h = synced(max_stale_run=3)
    feed(h, 13, ABSURD, text)  # a plausible U, an absurd u: applied, the book id is now wrong
    assert h.sync.is_valid(SYM) and h.sync.book(SYM).update_id == ABSURD
    feed(h, 14, 14, text)
    feed(h, 15, 15, text)
    assert h.sync.is_valid(SYM) and h.sync.stats(SYM).stale_ignored == 2
    feed(h, 16, 16, text)  # the third in a row
    assert not h.sync.is_valid(SYM) and last_invalid(h).reason is InvalidReason.STALE_RUN
    assert h.sync.stats(SYM).resyncs == 1
    assert feed(h, 17, 17, text) is True  # the next delta starts the rebuild
    h.sync.on_snapshot(SYM, snap(17))
    assert h.sync.is_valid(SYM) and h.sync.book(SYM).update_id == 17


@pytest.mark.parametrize("text", [False, True])
def test_stale_deltas_between_applied_ones_never_make_a_run(text: bool) -> None:
    h = synced(max_stale_run=2)
    for n in range(13, 23):
        feed(h, n, n, text)
        feed(h, 3, 11, text)  # a late duplicate after every applied delta
    assert h.sync.is_valid(SYM) and h.sync.stats(SYM).stale_ignored == 10
    assert h.sync.stats(SYM).resyncs == 0


def test_the_stale_run_check_can_be_disabled_and_is_validated() -> None:
    h = synced(max_stale_run=None)
    feed(h, 13, ABSURD, False)
    for n in range(14, 100):
        feed(h, n, n, False)
    assert h.sync.is_valid(SYM)
    with pytest.raises(ConfigError):
        BookSync(IntegrityMode.SEQUENCE, UpdateIdRangeRule(), max_stale_run=0)
