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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from connectivity.connector.dialect import (
    Ack,
    BookFed,
    Channel,
    MarketDataDialect,
    Refused,
    Shutdown,
)
from connectivity.connector.streams import Subscriptions
from connectivity.core.book import BookDelta, BookSnapshot, OrderBook
from connectivity.core.book_sync import BookSync
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
        for table in (self._watch, self._touched, self._books, self._counts):
            table.pop(symbol, None)

    def bind(self, control: StreamControl) -> None:
        """Attach the connection whose watchdog and rollover this router drives."""
        self.control = control

    def on_message(self, payload: bytes, ts_recv: int) -> None:
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
            fed = self._dispatch(result, ts_recv)  # a BookFed only for a delta fed here
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

    def _dispatch(self, parsed: object, ts_recv: int) -> BookFed | None:
        try:
            inbound = self.dialect.interpret(parsed)
        except ParseError as exc:
            self.errors.count(exc, "bad message")
            return None
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
            return self._in_stream(inbound.symbol, ts_recv, inbound)
        return None

    def _ack(self, ack: Ack) -> None:
        if ack.streams:
            known = self.subscriptions.on_ack_streams(ack.streams, ack.subscribed)
        else:
            known = self.subscriptions.on_ack(ack.request_id)
        if not known:
            what = ack.request_id if not ack.streams else ack.streams
            self.errors.count(ParseError(f"answer to an unknown request {what!r}"), "bad ack")

    def _in_stream(
        self, symbol: str, ts_recv: int, item: BookSnapshot | BookDelta
    ) -> BookFed | None:
        if symbol not in self.symbols:
            self.errors.count(ParseError(f"book data for a foreign symbol {symbol!r}"), "foreign")
            return None
        if isinstance(item, BookSnapshot):
            self.sync.on_snapshot(symbol, item, ts_recv)
            return None
        requested = self.sync.on_delta(symbol, item, ts_recv)
        return BookFed(symbol, item.first_id, item.last_id, item.ts_event, requested)

    def __repr__(self) -> str:
        return (
            f"StreamRouter({self.dialect.venue}, symbols={len(self.symbols)}, "
            f"messages={self.messages}, errors={sum(self.errors.values())})"
        )
