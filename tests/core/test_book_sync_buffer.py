"""Deltas buffered for a symbol waiting for its snapshot stay within a bound, books stay exact."""

from __future__ import annotations

import pytest

from connectivity.core.book import BookDelta, BookSnapshot
from connectivity.core.book_sync import BookSync, IntegrityMode, UpdateIdRangeRule
from tests.core.test_book_sync import SYM, _true_stream


def snapshot_at(states: list[dict[bool, dict[int, int]]], last_id: int) -> BookSnapshot:
    state = states[last_id]
    return BookSnapshot(SYM, last_id, list(state[True].items()), list(state[False].items()), 0, 0)


def assert_exact(sync: BookSync, states: list[dict[bool, dict[int, int]]]) -> None:
    assert sync.is_valid(SYM)
    book = sync.book(SYM)
    truth = states[book.update_id]
    assert book.bids() == sorted(truth[True].items(), reverse=True)
    assert book.asks() == sorted(truth[False].items())


def bounded(bound: int) -> tuple[BookSync, list[str]]:
    requests: list[str] = []
    sync = BookSync(
        IntegrityMode.SEQUENCE,
        UpdateIdRangeRule(),
        request_snapshot=requests.append,
        max_buffer=bound,
    )
    return sync, requests


def test_a_symbol_waiting_long_for_its_snapshot_never_buffers_more_than_the_bound() -> None:
    deltas, _ = _true_stream(7, 5000)
    sync, requests = bounded(64)
    for d in deltas:
        sync.on_delta(SYM, d)
        assert sync.buffered(SYM) <= 64
    assert requests == [SYM]  # asked once: the waiting symbol does not ask again per overflow
    assert sync.stats(SYM).buffer_overflows >= 5000 // 64


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("taken_before_end", [0, 3, 7])
def test_book_built_after_an_overflow_equals_the_true_book(
    seed: int, taken_before_end: int
) -> None:
    deltas, states = _true_stream(seed, 400)
    sync, _ = bounded(16)
    for d in deltas[:300]:
        sync.on_delta(SYM, d)
    assert sync.stats(SYM).buffer_overflows > 0
    # The snapshot was taken a few deltas before the last buffered one (still kept: bound 16).
    assert (
        sync.on_snapshot(SYM, snapshot_at(states, deltas[299 - taken_before_end].last_id)) is False
    )
    assert_exact(sync, states)
    for d in deltas[300:]:
        sync.on_delta(SYM, d)
    assert_exact(sync, states)
    assert sync.book(SYM).update_id == deltas[-1].last_id


def test_a_snapshot_older_than_the_kept_deltas_after_an_overflow_is_taken_again() -> None:
    deltas, states = _true_stream(3, 400)
    sync, requests = bounded(16)
    for d in deltas[:300]:
        sync.on_delta(SYM, d)
    requests.clear()
    # Taken before the oldest kept delta: the deltas between were dropped, so it cannot be used.
    assert sync.on_snapshot(SYM, snapshot_at(states, deltas[100].last_id)) is True
    assert requests == [SYM] and not sync.is_valid(SYM)
    assert sync.stats(SYM).snapshot_refetches == 1
    for d in deltas[300:350]:
        sync.on_delta(SYM, d)
        assert sync.buffered(SYM) <= 16
    assert sync.on_snapshot(SYM, snapshot_at(states, deltas[345].last_id)) is False
    assert_exact(sync, states)


def test_overflow_then_gap_in_the_kept_deltas_resyncs_to_the_exact_book() -> None:
    deltas, states = _true_stream(5, 400)
    sync, requests = bounded(16)
    kept: list[BookDelta] = [d for i, d in enumerate(deltas[:300]) if i != 295]  # one lost
    for d in kept:
        sync.on_delta(SYM, d)
    requests.clear()
    # A snapshot before the lost delta cannot bridge the gap: fetched again.
    assert sync.on_snapshot(SYM, snapshot_at(states, deltas[292].last_id)) is True
    assert requests == [SYM]
    assert sync.on_snapshot(SYM, snapshot_at(states, deltas[297].last_id)) is False
    assert_exact(sync, states)
