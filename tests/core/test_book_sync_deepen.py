"""Deepening a valid book: a deeper snapshot is merged in while the book stays valid."""

from __future__ import annotations

from connectivity.core.book import BookDelta, BookSnapshot, LevelDecoder
from connectivity.core.book_sync import (
    BookEvent,
    BookInvalid,
    BookSync,
    IntegrityMode,
    UpdateIdRangeRule,
)
from tests.core.test_book_sync import SYM, _true_stream, rows

States = list[dict[bool, dict[int, int]]]


def snapshot_at(states: States, last_id: int, depth: int | None) -> BookSnapshot:
    state = states[last_id]
    bids = sorted(state[True].items(), reverse=True)[:depth]
    asks = sorted(state[False].items())[:depth]
    return BookSnapshot(SYM, last_id, bids, asks, 0, 0, depth)


def shallow_valid(seed: int = 4) -> tuple[BookSync, list[BookEvent], list[BookDelta], States]:
    deltas, states = _true_stream(seed, 300)
    events: list[BookEvent] = []
    sync = BookSync(IntegrityMode.SEQUENCE, UpdateIdRangeRule(), on_event=events.append)
    for d in deltas[:20]:
        sync.on_delta(SYM, d)
    sync.on_snapshot(SYM, snapshot_at(states, deltas[15].last_id, depth=3))
    assert sync.is_valid(SYM) and sync.stats(SYM).complete_depth != (None, None)
    events.clear()
    return sync, events, deltas, states


def assert_whole_truth(sync: BookSync, states: States) -> None:
    book = sync.book(SYM)
    truth = states[book.update_id]
    assert book.bids() == sorted(truth[True].items(), reverse=True)
    assert book.asks() == sorted(truth[False].items())
    assert book.complete_depth() == (None, None)


def test_a_deeper_snapshot_is_merged_in_while_the_book_stays_valid() -> None:
    sync, events, deltas, states = shallow_valid()
    assert sync.deepen(SYM)
    assert not sync.deepen(SYM)  # already deepening
    for d in deltas[20:40]:
        sync.on_delta(SYM, d)
        assert sync.is_valid(SYM)
    # Taken while those deltas were streaming: older than the live book, newer than its start.
    sync.on_snapshot(SYM, snapshot_at(states, deltas[30].last_id, depth=None))
    assert sync.is_valid(SYM) and events == []  # no invalid / valid flicker for the bot
    assert sync.book(SYM).update_id == deltas[39].last_id
    assert_whole_truth(sync, states)
    for d in deltas[40:]:
        sync.on_delta(SYM, d)
    assert_whole_truth(sync, states)
    assert sync.buffered(SYM) == 0


def test_a_deeper_snapshot_newer_than_the_book_waits_for_the_live_deltas_to_catch_up() -> None:
    sync, events, deltas, states = shallow_valid()
    sync.deepen(SYM)
    for d in deltas[20:30]:
        sync.on_delta(SYM, d)
    sync.on_snapshot(SYM, snapshot_at(states, deltas[34].last_id, depth=None))
    assert sync.book(SYM).complete_depth() != (None, None)  # not yet
    decoder = LevelDecoder()
    for d in deltas[30:40]:  # the text path keeps them as well
        sync.on_delta_text(SYM, d.first_id, d.last_id, rows(d.bids), rows(d.asks), 0, 0, decoder)
    assert events == [] and sync.is_valid(SYM)
    assert sync.book(SYM).update_id == deltas[39].last_id
    assert_whole_truth(sync, states)


def test_a_deeper_snapshot_older_than_the_kept_deltas_leaves_the_book_as_it_was() -> None:
    sync, events, deltas, states = shallow_valid()
    sync.deepen(SYM)
    for d in deltas[20:30]:
        sync.on_delta(SYM, d)
    before = sync.book(SYM).bids(), sync.book(SYM).asks()
    sync.on_snapshot(SYM, snapshot_at(states, deltas[10].last_id, depth=None))
    assert (sync.book(SYM).bids(), sync.book(SYM).asks()) == before
    assert sync.is_valid(SYM) and events == []
    assert sync.stats(SYM).snapshot_refetches == 1 and sync.buffered(SYM) == 0


def test_a_gap_while_deepening_resyncs_normally_and_forgets_the_deepening() -> None:
    sync, events, deltas, states = shallow_valid()
    sync.deepen(SYM)
    sync.on_delta(SYM, deltas[20])
    sync.on_snapshot(SYM, snapshot_at(states, deltas[25].last_id, depth=None))  # parked
    sync.on_delta(SYM, deltas[22])  # 21 is lost: gap
    assert isinstance(events[-1], BookInvalid) and not sync.is_valid(SYM)
    assert sync.buffered(SYM) == 1  # the gapped delta starts the new buffer, nothing else
    sync.on_snapshot(SYM, snapshot_at(states, deltas[22].last_id, depth=3))
    assert sync.is_valid(SYM) and sync.book(SYM).snapshot_depth == 3


def test_deepening_needs_a_valid_book_and_a_failed_fetch_ends_it() -> None:
    sync, _, deltas, _ = shallow_valid()
    assert not sync.deepen("OTHER")
    assert sync.deepen(SYM)
    sync.on_delta(SYM, deltas[20])
    sync.snapshot_failed(SYM)
    assert sync.buffered(SYM) == 0
    sync.on_delta(SYM, deltas[21])
    assert sync.buffered(SYM) == 0 and sync.deepen(SYM)
