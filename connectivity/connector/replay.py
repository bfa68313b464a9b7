"""Replay a venue-neutral recording through a venue's dialect and a fresh ``BookSync``.

The same parsers and book procedure as the live connector, without sockets: a ``connect``
to a URL seen before resets the symbols whose book data came over it (as a reconnect does),
``ws`` frames go through the dialect's ``route`` and ``interpret``, ``snapshot`` bodies
through its ``parse_snapshot``. Bad frames are counted by error type and skipped, as live.
Snapshots sent in the stream are loaded as live, and :class:`Sequenced` messages are checked
per URL (a jump resyncs the books that URL carried); a recording does not say which of two
overlapping connections (a rollover) carried a frame, so there a jump may show that live did
not see, and the books resync from the next snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from connectivity.connector.dialect import (
    BookFed,
    Inbound,
    MarketDataDialect,
    Sequenced,
    SnapshotSource,
)
from connectivity.connector.recording import Record
from connectivity.core.book import BookDelta, BookSnapshot
from connectivity.core.book_sync import BookSync, ConnectionSequence, InvalidReason, Verdict
from connectivity.core.events import Event, PublicTrade, TopOfBook
from connectivity.errors import ParseError

__all__ = ["Replay", "replay"]


class _Everything:
    """A replay routes every symbol it meets."""

    def __contains__(self, item: object) -> bool:
        return True


class Replay:
    """The result: the synced books, events emitted and errors counted by type."""

    def __init__(self, sync: BookSync) -> None:
        self.sync = sync
        self.frames = 0
        self.snapshots = 0
        self.reconnects = 0
        self.errors: dict[str, int] = {}

    def count(self, exc: Exception) -> None:
        """Count a bad record by its error type."""
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1


def replay(
    records: Iterable[Record],
    dialect: MarketDataDialect,
    on_event: Callable[[Event], None] | None = None,
) -> Replay:
    """Replay ``records`` (receive order) through ``dialect``; return the books and counters."""
    replayer = _Replayer(dialect, on_event or (lambda event: None))
    for record in records:
        try:
            replayer.feed(record)
        except ParseError as exc:
            replayer.result.count(exc)
    return replayer.result


class _Replayer:
    """One replay's state: the sync, which URL carried which books, each URL's sequence."""

    def __init__(self, dialect: MarketDataDialect, emit: Callable[[Event], None]) -> None:
        self.dialect = dialect
        self.emit = emit
        self.sync = BookSync(
            dialect.integrity,
            dialect.rule,
            checksum=dialect.checksum,
            on_event=emit,
            price_scale=dialect.price_scale,
            qty_scale=dialect.qty_scale,
            max_depth=dialect.max_book_depth,
        )
        self.in_stream = dialect.snapshot_source is SnapshotSource.IN_STREAM
        self.result = Replay(self.sync)
        self.carried: dict[str, set[str]] = {}  # URL -> symbols whose book data it carried
        self.sequences: dict[str, ConnectionSequence] = {}
        self.everything = _Everything()

    def feed(self, record: Record) -> None:
        """Replay one record (ParseError for a bad one)."""
        url, sync, result = record.url or "", self.sync, self.result
        if record.kind == "connect":
            if url in self.carried:
                result.reconnects += 1
                sync.reset(sorted(self.carried[url]), detail="reconnect")
            self.carried.setdefault(url, set())
            self.sequences[url] = ConnectionSequence()
        elif record.kind == "snapshot" and record.symbol and record.data is not None:
            result.snapshots += 1
            snapshot = self.dialect.parse_snapshot(record.data, record.symbol, record.t)
            sync.on_snapshot(record.symbol, snapshot, record.t)
        elif record.kind == "ws" and record.data is not None:
            result.frames += 1
            routed = self.dialect.route(record.data.encode(), record.t, sync, self.everything)
            if type(routed) is BookFed:
                self.carried.setdefault(url, set()).add(routed.symbol)
            else:
                self._inbound(self.dialect.interpret(routed), url, record.t)

    def _inbound(self, inbound: Inbound, url: str, ts: int) -> None:
        sync = self.sync
        if isinstance(inbound, Sequenced):
            verdict = self.sequences.setdefault(url, ConnectionSequence()).check(inbound.sequence)
            if verdict is Verdict.STALE:
                return
            if verdict is Verdict.GAP:
                symbols = sorted(self.carried.get(url, ()))
                sync.reset(symbols, detail="sequence jumped", reason=InvalidReason.GAP)
            inbound = inbound.message
        if isinstance(inbound, (TopOfBook, PublicTrade)):
            self.emit(inbound)
        elif isinstance(inbound, BookSnapshot) and self.in_stream:
            self.result.snapshots += 1
            sync.on_stream_snapshot(inbound.symbol, inbound, ts)
            self.carried.setdefault(url, set()).add(inbound.symbol)
        elif isinstance(inbound, BookSnapshot):
            sync.on_snapshot(inbound.symbol, inbound, ts)
        elif isinstance(inbound, BookDelta):
            sync.on_delta(inbound.symbol, inbound, ts)
            self.carried.setdefault(url, set()).add(inbound.symbol)
