"""Integrity strategies beyond Binance's: top-N checksums, depth-limited books, sequences."""

from __future__ import annotations

import zlib

import pytest

from connectivity.core.book import BookDelta, BookSnapshot, Level, OrderBook
from connectivity.core.book_sync import (
    BookInvalid,
    BookSync,
    ConnectionSequence,
    IntegrityMode,
    InvalidReason,
    TopLevelsChecksum,
    UpdateIdRangeRule,
    Verdict,
)
from connectivity.errors import ConfigError

SYM = "XBT/USD"


def crc(bids: list[Level], asks: list[Level]) -> int:
    """A Kraken-like formula: CRC32 over the top levels' digits, asks first."""
    text = "".join(f"{p}{q}" for p, q in asks) + "".join(f"{p}{q}" for p, q in bids)
    return zlib.crc32(text.encode())


def test_truncate_keeps_the_best_levels_of_each_side_and_counts_what_it_removed() -> None:
    book = OrderBook(SYM)
    book.load([(100, 1), (99, 1), (98, 1)], [(101, 1), (102, 1), (103, 1), (104, 1)], 1)
    assert book.truncate(2) == 3
    assert book.bids() == [(100, 1), (99, 1)] and book.asks() == [(101, 1), (102, 1)]
    assert book.truncate(5) == 0
    book.apply([(97, 1)], [(105, 1)])  # inserts below the top are still possible
    assert book.truncate(2) == 2 and book.depth() == (2, 2)
    with pytest.raises(ConfigError):
        book.truncate(-1)


def _checksum_sync(events: list[object]) -> BookSync:
    sync = BookSync(
        IntegrityMode.CHECKSUM,
        checksum=TopLevelsChecksum(2, crc),
        max_depth=2,
        on_event=events.append,
    )
    sync.on_delta(SYM, BookDelta(SYM, 0, 0, [], [], 0, 1))
    bids = [(1000, 1), (990, 2), (980, 3)]
    sync.on_snapshot(SYM, BookSnapshot(SYM, 0, bids, [(1010, 1), (1020, 2)], 0, 1))
    return sync


def test_checksum_over_the_top_levels_accepts_a_matching_delta_on_a_depth_limited_book() -> None:
    events: list[object] = []
    sync = _checksum_sync(events)
    assert sync.is_valid(SYM) and sync.book(SYM).bids() == [(1000, 1), (990, 2)]  # truncated
    # A better bid arrives: 990 falls out of the venue's depth-2 book, and out of ours.
    venue_sum = crc([(1005, 4), (1000, 1)], [(1010, 1), (1020, 2)])
    assert sync.on_delta(SYM, BookDelta(SYM, 1, 1, [(1005, 4)], [], 0, 2, venue_sum)) is False
    assert sync.is_valid(SYM) and sync.book(SYM).bids() == [(1005, 4), (1000, 1)]
    assert sync.book(SYM).depth() == (2, 2)


def test_checksum_mismatch_invalidates_only_that_symbol() -> None:
    events: list[object] = []
    sync = _checksum_sync(events)
    sync.on_delta(SYM, BookDelta(SYM, 1, 1, [(1005, 4)], [], 0, 2, 12345))
    assert not sync.is_valid(SYM)
    invalid = [e for e in events if isinstance(e, BookInvalid)]
    assert invalid[-1].reason is InvalidReason.CHECKSUM_MISMATCH
    assert sync.stats(SYM).checksum_failures == 1


def test_checksum_depth_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        TopLevelsChecksum(0, crc)


def test_connection_sequence_applies_in_order_ignores_duplicates_and_flags_a_jump() -> None:
    seq = ConnectionSequence()
    assert [seq.check(n) for n in (7, 8, 9)] == [Verdict.APPLY] * 3  # starts anywhere
    assert seq.check(8) is Verdict.STALE  # a duplicate from before
    assert seq.check(12) is Verdict.GAP and seq.gaps == 1
    assert seq.check(13) is Verdict.APPLY  # resumes after the jump
    seq.reset()  # a new connection numbers afresh
    assert seq.check(1) is Verdict.APPLY and seq.expected == 2


def test_range_rule_is_inlined_only_while_its_check_is_not_replaced() -> None:
    class Custom(UpdateIdRangeRule):
        def check(self, book_id: int, first_id: int, last_id: int) -> Verdict:
            return Verdict.GAP

    assert UpdateIdRangeRule().inline_range_check is True
    assert Custom().inline_range_check is False


def test_an_in_stream_snapshot_is_loaded_at_once_and_supersedes_the_buffered_deltas() -> None:
    events: list[object] = []
    sync = BookSync(IntegrityMode.CONNECTION_SEQUENCE, on_event=events.append)
    sync.on_delta(SYM, BookDelta(SYM, 0, 0, [(90, 1)], [], 0, 1))  # before the snapshot
    sync.on_stream_snapshot(SYM, BookSnapshot(SYM, 0, [(100, 1)], [(110, 1)], 0, 2))
    assert sync.is_valid(SYM) and sync.book(SYM).bids() == [(100, 1)]
    assert sync.stats(SYM).dropped_covered == 1
    sync.on_delta(SYM, BookDelta(SYM, 0, 0, [(101, 2)], [], 0, 3))  # after it: applied
    assert sync.book(SYM).bids() == [(101, 2), (100, 1)]


def test_an_in_stream_snapshot_replaces_a_live_book_in_place_and_it_stays_valid() -> None:
    events: list[object] = []
    sync = BookSync(IntegrityMode.CONNECTION_SEQUENCE, on_event=events.append)
    sync.on_stream_snapshot(SYM, BookSnapshot(SYM, 0, [(100, 1)], [(110, 1)], 0, 1))
    book = sync.book(SYM)
    sync.on_stream_snapshot(SYM, BookSnapshot(SYM, 0, [(105, 3)], [(108, 1)], 0, 2))
    assert sync.book(SYM) is book and book.bids() == [(105, 3)] and sync.is_valid(SYM)
    assert not any(isinstance(e, BookInvalid) for e in events)
    sync.on_stream_snapshot(SYM, BookSnapshot(SYM, 0, [(120, 1)], [(110, 1)], 0, 3))  # crossed
    assert not sync.is_valid(SYM) and book.bids() == [(105, 3)]  # never served
    assert sync.stats(SYM).crossed == 1


def test_an_in_stream_snapshot_of_a_top_n_venue_accepts_levels_entering_from_below() -> None:
    sync = BookSync(IntegrityMode.CHECKSUM, checksum=TopLevelsChecksum(2, crc), max_depth=2)
    bids = [(1000, 1), (990, 2), (980, 3)]
    sync.on_stream_snapshot(SYM, BookSnapshot(SYM, 0, bids, [(1010, 1), (1020, 2)], 0, 1, 2))
    assert sync.book(SYM).bids() == [(1000, 1), (990, 2)]
    # 1000 leaves; 985 enters the venue's top 2 from below what the snapshot showed.
    venue_sum = crc([(990, 2), (985, 4)], [(1010, 1), (1020, 2)])
    sync.on_delta(SYM, BookDelta(SYM, 0, 0, [(1000, 0), (985, 4)], [], 0, 2, venue_sum))
    assert sync.is_valid(SYM) and sync.book(SYM).bids() == [(990, 2), (985, 4)]


def test_a_reset_for_lost_updates_counts_a_gap_on_every_book_it_names() -> None:
    events: list[object] = []
    sync = BookSync(IntegrityMode.CONNECTION_SEQUENCE, on_event=events.append)
    for symbol in ("A", "B"):
        sync.on_stream_snapshot(symbol, BookSnapshot(symbol, 0, [(1, 1)], [(2, 1)], 0, 1))
    sync.reset(["A", "B"], detail="sequence jumped", reason=InvalidReason.GAP)
    assert [(e.symbol, e.reason) for e in events if isinstance(e, BookInvalid)] == [
        ("A", InvalidReason.GAP),
        ("B", InvalidReason.GAP),
    ]
    assert sync.stats("A").gaps == 1 and sync.stats("A").resyncs == 1
