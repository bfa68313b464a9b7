"""Replay a venue-neutral recording through a venue's dialect and a fresh ``BookSync``.

The same parsers and book procedure as the live connector, without sockets: a ``connect``
to a URL seen before resets the symbols whose book data came over it (as a reconnect does),
``ws`` frames go through the dialect's ``route`` and ``interpret``, ``snapshot`` bodies
through its ``parse_snapshot``. Bad frames are counted by error type and skipped, as live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from connectivity.connector.dialect import BookFed, MarketDataDialect
from connectivity.connector.recording import Record
from connectivity.core.book import BookDelta, BookSnapshot
from connectivity.core.book_sync import BookSync
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
    emit = on_event or (lambda event: None)
    sync = BookSync(
        dialect.integrity,
        dialect.rule,
        checksum=dialect.checksum,
        on_event=emit,
        price_scale=dialect.price_scale,
        qty_scale=dialect.qty_scale,
    )
    result = Replay(sync)
    everything = _Everything()
    carried: dict[str, set[str]] = {}  # connection URL -> symbols whose book data it carried
    for record in records:
        url = record.url or ""
        try:
            if record.kind == "connect":
                if url in carried:
                    result.reconnects += 1
                    sync.reset(sorted(carried[url]), detail="reconnect")
                carried.setdefault(url, set())
            elif record.kind == "snapshot" and record.symbol and record.data is not None:
                result.snapshots += 1
                snapshot = dialect.parse_snapshot(record.data, record.symbol, record.t)
                sync.on_snapshot(record.symbol, snapshot, record.t)
            elif record.kind == "ws" and record.data is not None:
                result.frames += 1
                routed = dialect.route(record.data.encode(), record.t, sync, everything)
                if type(routed) is BookFed:
                    carried.setdefault(url, set()).add(routed.symbol)
                    continue
                inbound = dialect.interpret(routed)
                if isinstance(inbound, (TopOfBook, PublicTrade)):
                    emit(inbound)
                elif isinstance(inbound, BookSnapshot):
                    sync.on_snapshot(inbound.symbol, inbound, record.t)
                elif isinstance(inbound, BookDelta):
                    sync.on_delta(inbound.symbol, inbound, record.t)
                    carried.setdefault(url, set()).add(inbound.symbol)
        except ParseError as exc:
            result.count(exc)
    return result
