"""Route one market-data connection: frame -> venue dialect -> BookSync / subscriptions / sink.

:class:`StreamRouter` is the ``on_message`` of one websocket connection. The dialect's
:meth:`~connectivity.connector.dialect.MarketDataDialect.route` handles the hot path (a book
delta decoded straight into its symbol's book, :class:`BookFed` returned); the router then
touches the subscription's watchdog and samples feed latency. Everything else comes back
parsed, is put in neutral terms by the dialect's ``interpret`` and dispatched by type:
top of book and trades to the event sink, acknowledgements and refusals to the connection's
:class:`Subscriptions`, in-stream snapshots and deltas to :class:`BookSync`, a shutdown notice
to a seamless rollover. A malformed or unknown message is counted by error type and dropped;
it never stops the feed.

Per-connection feeds (per-connection sequence numbers, snapshots sent on subscription) get
one handler per physical connection (:meth:`StreamRouter.handler_for`, which the transport
calls for each connection, a rollover's replacement included). A :class:`Sequenced` message is
checked against its connection's :class:`ConnectionSequence`: a repeat is dropped, a jump
resyncs every book that connection carried (``InvalidReason.GAP``). A book follows the
connection whose snapshot built it: a newer connection's snapshot takes it over in place
(still valid: a rollover without a gap), and book data from any other connection is ignored
(counted in :attr:`StreamRouter.superseded`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from connectivity.connector.dialect import (
    Ack,
    BookFed,
    Channel,
    MarketDataDialect,
    Refused,
    Sequenced,
    Shutdown,
)
from connectivity.connector.streams import Subscriptions
from connectivity.core.book import BookDelta, BookSnapshot, OrderBook
from connectivity.core.book_sync import BookSync, ConnectionSequence, InvalidReason, Verdict
from connectivity.core.counters import ErrorCounter
from connectivity.core.events import Event, PublicTrade, TopOfBook
from connectivity.core.latency import LatencyRecorder
from connectivity.errors import ParseError

__all__ = ["LATENCY_EVERY", "StreamControl", "StreamRouter"]

log = logging.getLogger(__name__)

TOUCH_EVERY_NS = 100_000_000  # touch a subscription's watchdog at most every 100 ms
LATENCY_EVERY = 4  # sample one book update in four for the latency percentiles


class StreamControl(Protocol):
    """What the router needs from its websocket connection."""

    def touch(self, key: str) -> None:
        """Record a useful message for the watched subscription ``key``."""

    def rollover(self) -> None:
        """Replace the connection without a gap."""


class _Link:
    """One physical connection of a per-connection feed: its number and message sequence."""

    __slots__ = ("number", "sequence")

    def __init__(self, number: int) -> None:
        self.number = number  # increases with every new connection (the transport's count)
        self.sequence = ConnectionSequence()


class StreamRouter:
    """The ``on_message`` of one market-data connection, for any venue dialect."""

    def __init__(
        self,
        dialect: MarketDataDialect,
        sync: BookSync,
        subscriptions: Subscriptions,
        symbols: Iterable[str],
        *,
        time_ns: Callable[[], int],
        emit: Callable[[Event], None],
        latency: dict[str, LatencyRecorder] | None = None,
        record: Callable[[int, bytes], None] | None = None,
        errors: ErrorCounter | None = None,
    ) -> None:
        self.dialect = dialect
        self.sync = sync
        self.subscriptions = subscriptions
        self.symbols: set[str] = set()  # venue spelling, e.g. "BTCUSDT"
        self.control: StreamControl | None = None
        self._watch: dict[str, str] = {}
        self._touched: dict[str, int] = {}  # last watchdog touch per symbol (ts_recv)
        self._books: dict[str, OrderBook] = {}  # stable objects (BookSync), for latency sampling
        self._counts: dict[str, int] = {}  # book updates per symbol
        self._owner: dict[str, int] = {}  # per-connection feeds: whose snapshot built the book
        self._link = _Link(0)  # frames that arrive without a connection of their own
        self._route = dialect.route
        self._time_ns = time_ns
        self._emit = emit
        self._record = record
        self.latency = latency if latency is not None else {}
        self.messages = 0
        self.deltas = 0
        self.tickers = 0
        self.trades = 0
        self.shutdowns = 0
        self.repeats = 0  # messages dropped as already seen on their connection
        self.sequence_gaps = 0  # jumps in a connection's sequence (each resyncs its books)
        self.superseded = 0  # book data from a connection the book no longer follows
        self.errors = errors or ErrorCounter(f"{dialect.venue} stream", time_ns, logger=log)
        for symbol in symbols:
            self.add(symbol)

    def add(self, symbol: str) -> None:
        """Start routing ``symbol`` (venue spelling) on this connection."""
        self.symbols.add(symbol)
        self._watch[symbol] = self.dialect.stream_name(symbol, Channel.BOOK)
        self._touched[symbol] = -TOUCH_EVERY_NS - 1
        self._books[symbol] = self.sync.book(symbol)
        self._counts[symbol] = 0

    def remove(self, symbol: str) -> None:
        """Stop routing ``symbol``: its book frames count as foreign from now on."""
        self.symbols.discard(symbol)
        for table in (self._watch, self._touched, self._books, self._counts, self._owner):
            table.pop(symbol, None)

    def bind(self, control: StreamControl) -> None:
        """Attach the connection whose watchdog and rollover this router drives."""
        self.control = control

    def handler_for(self, number: int) -> Callable[[bytes, int], None]:
        """Return the ``on_message`` of physical connection ``number`` (per-connection feeds)."""
        return functools.partial(self.on_message, link=_Link(number))

    def on_message(self, payload: bytes, ts_recv: int, link: _Link | None = None) -> None:
        """Handle one text frame (never raises: bad input is counted)."""
        self.messages += 1
        if self._record is not None:
            self._record(ts_recv, payload)
        try:
            result = self._route(payload, ts_recv, self.sync, self.symbols)
        except ParseError as exc:
            self.errors.count(exc, "bad message")
            return
        if type(result) is not BookFed:
            fed = self._dispatch(result, ts_recv, link)  # a BookFed only for a delta fed here
            if fed is None:
                return
            result = fed
        # Below runs for every book update: kept inline (no call) on purpose.
        symbol = result.symbol
        self.deltas += 1
        # The watchdog needs a sign of life per interval (seconds), not per message.
        if ts_recv - self._touched[symbol] > TOUCH_EVERY_NS and self.control is not None:
            self._touched[symbol] = ts_recv
            self.control.touch(self._watch[symbol])
        # Sample feed latency on every LATENCY_EVERY-th update of a symbol that went live.
        count = self._counts[symbol] = self._counts[symbol] + 1
        if not count % LATENCY_EVERY and self._books[symbol].update_id == result.last_id:
            ring = self.latency.get(symbol)
            if ring is None:
                ring = self.latency[symbol] = LatencyRecorder()
            ring.add(self._time_ns() - result.ts_event)

    def _dispatch(self, parsed: object, ts_recv: int, link: _Link | None) -> BookFed | None:
        try:
            inbound = self.dialect.interpret(parsed)
        except ParseError as exc:
            self.errors.count(exc, "bad message")
            return None
        if isinstance(inbound, Sequenced):
            if not self._in_sequence(inbound.sequence, link or self._link):
                return None
            inbound = inbound.message
        if isinstance(inbound, TopOfBook):
            self.tickers += 1
            self._emit(inbound)
        elif isinstance(inbound, PublicTrade):
            self.trades += 1
            self._emit(inbound)
        elif isinstance(inbound, Ack):
            self._ack(inbound)
        elif isinstance(inbound, Refused):
            self.subscriptions.on_error(inbound.request_id, inbound.code, inbound.msg)
            log.warning(
                "%s stream request %r refused: %s %s",
                self.dialect.venue,
                inbound.request_id,
                inbound.code,
                inbound.msg,
            )
            self.errors["Refused"] += 1
        elif isinstance(inbound, Shutdown):
            # Maintenance ahead: open the replacement now, while this one still delivers.
            self.shutdowns += 1
            if self.control is not None:
                self.control.rollover()
        elif isinstance(inbound, (BookSnapshot, BookDelta)):
            return self._in_stream(inbound.symbol, ts_recv, inbound, link)
        return None

    def _in_sequence(self, sequence: int, link: _Link) -> bool:
        """Check a message's number on its connection; False: a repeat, drop it."""
        expected = link.sequence.expected
        verdict = link.sequence.check(sequence)
        if verdict is Verdict.STALE:
            self.repeats += 1
            return False
        if verdict is Verdict.GAP:
            # Whatever was lost may have been any book's update: every book this connection
            # carried resyncs (the message itself is fine and is handled below).
            self.sequence_gaps += 1
            number = link.number
            carried = [s for s in self.symbols if self._owner.get(s, number) == number]
            detail = f"connection sequence jumped from {expected} to {sequence}"
            self.sync.reset(carried, detail=detail, reason=InvalidReason.GAP)
        return True

    def _ack(self, ack: Ack) -> None:
        if ack.streams:
            known = self.subscriptions.on_ack_streams(ack.streams, ack.subscribed)
        else:
            known = self.subscriptions.on_ack(ack.request_id)
        if not known:
            what = ack.request_id if not ack.streams else ack.streams
            self.errors.count(ParseError(f"answer to an unknown request {what!r}"), "bad ack")

    def _in_stream(
        self, symbol: str, ts_recv: int, item: BookSnapshot | BookDelta, link: _Link | None
    ) -> BookFed | None:
        if symbol not in self.symbols:
            self.errors.count(ParseError(f"book data for a foreign symbol {symbol!r}"), "foreign")
            return None
        if link is not None:
            owner = self._owner.get(symbol)
            snapshot = isinstance(item, BookSnapshot)
            if owner is not None and (owner > link.number if snapshot else owner != link.number):
                self.superseded += 1  # an older connection's data (or a newer one's, early)
                return None
            if snapshot:
                self._owner[symbol] = link.number
        if isinstance(item, BookSnapshot):
            self.sync.on_stream_snapshot(symbol, item, ts_recv)
            return None
        requested = self.sync.on_delta(symbol, item, ts_recv)
        return BookFed(symbol, item.first_id, item.last_id, item.ts_event, requested)

    def __repr__(self) -> str:
        return (
            f"StreamRouter({self.dialect.venue}, symbols={len(self.symbols)}, "
            f"messages={self.messages}, errors={sum(self.errors.values())})"
        )
