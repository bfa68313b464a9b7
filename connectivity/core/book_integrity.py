"""The vocabulary of book integrity: declared modes, sequence rules, statuses, events, stats.

Split out of :mod:`connectivity.core.book_sync` (which re-exports every name here) so each
module stays readable: this one is data and small strategies, that one is the state machine.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

import attrs

from connectivity.core.book import BookDelta, Level, OrderBook
from connectivity.errors import ConfigError

__all__ = [
    "BookEvent",
    "BookInvalid",
    "BookStats",
    "BookStatus",
    "BookValid",
    "ConnectionSequence",
    "IntegrityMode",
    "InvalidReason",
    "SequenceRule",
    "TopLevelsChecksum",
    "UpdateIdRangeRule",
    "Verdict",
]


class IntegrityMode(enum.Enum):
    """How a venue lets us prove a local book is complete (declared per feed)."""

    SEQUENCE = "sequence"  # update ids: a SequenceRule decides apply / ignore / gap
    CHECKSUM = "checksum"  # venue-published checksum per delta, checked by a ChecksumFn
    # Per-connection message numbers (Coinbase): no per-symbol check; the connector's router
    # checks each connection's ConnectionSequence and resyncs the books it carried on a gap.
    CONNECTION_SEQUENCE = "connection_sequence"
    SNAPSHOT_ONLY = "snapshot_only"  # every message is a full book; deltas are refused
    NONE = "none"  # deltas applied after a snapshot without any check


class Verdict(enum.Enum):
    """What a sequence rule says about one delta against the current book id."""

    APPLY = "apply"
    STALE = "stale"  # already reflected in the book: ignore
    GAP = "gap"  # something was missed: resync


class SequenceRule(Protocol):
    """A venue's update-id rule (a strategy object, so venues differ by data, not code)."""

    def snapshot_usable(self, snapshot_id: int, first_buffered: BookDelta) -> bool:
        """Return False when the snapshot is older than the buffer (fetch it again)."""

    def covered_by_snapshot(self, snapshot_id: int, delta: BookDelta) -> bool:
        """Return True when a buffered delta is already in the snapshot (drop it)."""

    def check(self, book_id: int, first_id: int, last_id: int) -> Verdict:
        """Classify a delta (its id range) against the book's current update id."""

    @property
    def inline_range_check(self) -> bool:
        """Return True when :meth:`check` is exactly the id-range comparison (``last_id <
        book_id`` stale, ``first_id > book_id + 1`` gap, else apply): a sync may then inline
        those comparisons on its hot path instead of calling :meth:`check`."""


class UpdateIdRangeRule:
    """Deltas carry an id range ``[first_id, last_id]`` (Binance spot ``U``/``u``).

    Exactly ``specs/binance.md`` 3.1 (current text, corrected 2025-11-12): snapshot too old
    when ``snapshot_id < first buffered first_id``; drop ``last_id <= snapshot_id``; ignore
    ``last_id < book_id``; gap when ``first_id > book_id + 1``; otherwise apply. The
    pre-2024 rule (first event must have ``U <= id+1 <= u``, then ``U == prev u + 1``)
    accepts a subset of what this rule accepts on an in-order stream.
    """

    __slots__ = ()

    def snapshot_usable(self, snapshot_id: int, first_buffered: BookDelta) -> bool:
        """Return False when ``snapshot_id < first_buffered.first_id``."""
        return snapshot_id >= first_buffered.first_id

    def covered_by_snapshot(self, snapshot_id: int, delta: BookDelta) -> bool:
        """Return True when ``delta.last_id <= snapshot_id``."""
        return delta.last_id <= snapshot_id

    def check(self, book_id: int, first_id: int, last_id: int) -> Verdict:
        """Apply, ignore (``last_id < book_id``) or gap (``first_id > book_id + 1``)."""
        if last_id < book_id:
            return _STALE
        if first_id > book_id + 1:
            return _GAP
        return _APPLY

    @property
    def inline_range_check(self) -> bool:
        """Return True unless a subclass replaced :meth:`check` (then it must be called)."""
        return type(self).check is UpdateIdRangeRule.check

    def __repr__(self) -> str:
        return "UpdateIdRangeRule()"


class ConnectionSequence:
    """Per-connection message sequence numbers (Coinbase-style ``sequence_num``).

    Every message on a connection carries the next number, whatever symbol it is about, so a
    jump cannot be pinned on one book: every book the connection carries must resync (the
    connector's router keeps one per connection and resets them). A number below the
    expected one is a duplicate (ignore it). A new connection starts a new sequence.
    """

    __slots__ = ("expected", "gaps")

    def __init__(self) -> None:
        self.expected: int | None = None  # None: the next number starts the sequence
        self.gaps = 0

    def check(self, sequence: int) -> Verdict:
        """Classify one message's sequence number; a gap is counted and resumes after it."""
        expected = self.expected
        if expected is None or sequence == expected:
            self.expected = sequence + 1
            return _APPLY
        if sequence < expected:
            return _STALE
        self.gaps += 1
        self.expected = sequence + 1
        return _GAP

    def reset(self) -> None:
        """Forget the sequence (a new connection numbers its messages afresh)."""
        self.expected = None


class TopLevelsChecksum:
    """A venue checksum over the top ``depth`` levels of each side (Kraken, OKX).

    ``fn(bids, asks)`` is the venue's formula over exact fixed-point levels, best first (for
    example CRC32 over concatenated price and quantity strings); this object is the
    :data:`~connectivity.core.book.ChecksumFn` a ``BookSync`` in ``CHECKSUM`` mode calls.
    Such venues keep a book of exactly ``depth`` levels: pass ``max_depth=depth`` to the
    sync so levels that fall out of the top are dropped as the venue drops them.
    """

    __slots__ = ("depth", "fn")

    def __init__(self, depth: int, fn: Callable[[list[Level], list[Level]], int]) -> None:
        if depth < 1:
            raise ConfigError(f"checksum depth must be >= 1, got {depth}")
        self.depth = depth
        self.fn = fn

    def __call__(self, book: OrderBook) -> int:
        """Return the checksum of ``book``'s top ``depth`` levels."""
        return self.fn(book.bids(self.depth), book.asks(self.depth))

    def __repr__(self) -> str:
        return f"TopLevelsChecksum(depth={self.depth})"


_APPLY, _STALE, _GAP = Verdict.APPLY, Verdict.STALE, Verdict.GAP


class BookStatus(enum.Enum):
    """Where a symbol's book is in its life cycle; only VALID may be quoted off."""

    SYNCING = "syncing"  # never had a book: buffering, waiting for a snapshot
    VALID = "valid"
    RESYNCING = "resyncing"  # the last book is still served (frozen, invalid) while rebuilding
    STALE = "stale"  # no update for ``stale_after_ns``; valid again on the next update


class InvalidReason(enum.Enum):
    """Why a book stopped being valid."""

    GAP = "gap"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    CROSSED = "crossed"
    STALE = "stale"
    STALE_RUN = "stale_run"  # a run of live deltas all older than the book: its id is wrong
    RESET = "reset"  # asked for by the connector (reconnect, resubscribe, bad payload)
    MALFORMED = "malformed"  # a delta could not be read and was dropped: the book missed it


@attrs.frozen
class BookValid:
    """A symbol's book became valid (first sync, after a resync, or no longer stale)."""

    symbol: str
    update_id: int
    ts: int  # ns, receive time of what made it valid


@attrs.frozen
class BookInvalid:
    """A symbol's book must not be quoted off any more; ``reason`` says why."""

    symbol: str
    reason: InvalidReason
    detail: str
    update_id: int  # the book id at the time
    ts: int
    expected: int | None = None  # for gaps: the first id we could accept (bookId + 1)
    received: int | None = None  # for gaps: the delta's first id


BookEvent = BookValid | BookInvalid


class BookStats:
    """Per-symbol counters (mutable, read by monitoring)."""

    __slots__ = (
        "_book",
        "buffer_overflows",
        "checksum_failures",
        "crossed",
        "dropped_covered",
        "gaps",
        "last_ts_recv",
        "malformed",
        "resyncs",
        "snapshot_refetches",
        "snapshots_applied",
        "stale_ignored",
        "updates_applied",
    )

    def __init__(self, book: OrderBook) -> None:
        self._book = book
        self.updates_applied = 0  # deltas applied to a book (buffered or live)
        self.resyncs = 0  # times a book was invalidated and rebuilt
        self.gaps = 0
        self.stale_ignored = 0  # deltas ignored by the rule (already in the book)
        self.dropped_covered = 0  # buffered deltas dropped because the snapshot covered them
        self.snapshots_applied = 0
        self.snapshot_refetches = 0  # snapshots older than the buffer, fetched again
        self.crossed = 0  # times a book crossed (each one resyncs)
        self.checksum_failures = 0
        self.buffer_overflows = 0
        self.malformed = 0  # deltas dropped unread (each one resyncs the book)
        self.last_ts_recv = 0  # our receive time of the last applied update (staleness)

    @property
    def last_update_id(self) -> int:
        """Return the update id the served book is valid as of (Binance ``bookId``)."""
        return self._book.update_id

    @property
    def last_ts_event(self) -> int:
        """Return the venue time (ns) of the last applied update, for feed latency."""
        return self._book.ts_event

    @property
    def snapshot_depth(self) -> int | None:
        """Return the levels per side the served book's snapshot asked for (None: all)."""
        return self._book.snapshot_depth

    @property
    def complete_depth(self) -> tuple[int | None, int | None]:
        """Return how many ``(bid, ask)`` levels from the top are exact (None: whole side)."""
        return self._book.complete_depth()

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a plain dict (for logs and JSON)."""
        names = [name for name in self.__slots__ if not name.startswith("_")]
        names += ["last_ts_event", "last_update_id"]
        return {name: getattr(self, name) for name in sorted(names)}

    def __repr__(self) -> str:
        return f"BookStats({self.as_dict()})"
