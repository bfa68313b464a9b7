"""Route one Binance market-stream connection: envelope -> parser -> BookSync / sinks.

:class:`BinanceStreamRouter` is the ``on_message`` of one websocket connection. Depth updates
take the one-pass path of :func:`feed_frame` (envelope unwrapped, levels decoded straight into
the symbol's book through :class:`BookSync`), then the subscription's watchdog is touched and
feed latency sampled. Everything else comes back parsed and is dispatched by type: tickers
and trades to the event sink, SUBSCRIBE acks and errors to the connection's
:class:`Subscriptions`, ``serverShutdown`` to a seamless rollover of the connection. A
malformed or unknown message is counted by error type and dropped; it never stops the feed.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from connectivity.connector.streams import Subscriptions
from connectivity.core.book import BookSnapshot
from connectivity.core.book_sync import BookSync
from connectivity.core.latency import LatencyRecorder
from connectivity.errors import ParseError
from exchanges.binance.parsers import (
    BookTicker,
    DepthFed,
    PublicTrade,
    ServerShutdown,
    WsError,
    WsResponse,
    feed_frame,
)

__all__ = [
    "LATENCY_EVERY",
    "BinanceStreamRouter",
    "StreamControl",
    "depth_watch_key",
]

log = logging.getLogger(__name__)

TOUCH_EVERY_NS = 100_000_000  # touch a subscription's watchdog at most every 100 ms
LATENCY_EVERY = 4  # sample one depth update in four for the latency percentiles


class StreamControl(Protocol):
    """What the router needs from its websocket connection."""

    def touch(self, key: str) -> None:
        """Record a useful message for the watched subscription ``key``."""

    def rollover(self) -> None:
        """Replace the connection without a gap."""


def depth_watch_key(stream_symbol: str) -> str:
    """Return the watchdog key of a symbol's depth subscription."""
    return f"{stream_symbol}@depth"


class BinanceStreamRouter:
    """The ``on_message`` of one Binance market-stream connection."""

    def __init__(
        self,
        sync: BookSync,
        subscriptions: Subscriptions,
        symbols: Iterable[str],
        *,
        time_ns: Callable[[], int],
        emit: Callable[[Any], None],
        latency: dict[str, LatencyRecorder] | None = None,
        record: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self.sync = sync
        self.subscriptions = subscriptions
        self.symbols = frozenset(symbols)  # Binance spelling, e.g. "BTCUSDT"
        self.control: StreamControl | None = None
        self._watch = {s: depth_watch_key(s.lower()) for s in self.symbols}
        self._touched = dict.fromkeys(self.symbols, -TOUCH_EVERY_NS - 1)  # last touch (ts_recv)
        self._books = {s: sync.book(s) for s in self.symbols}  # stable objects (BookSync)
        self._counts = dict.fromkeys(self.symbols, 0)  # depth updates per symbol
        self._time_ns = time_ns
        self._emit = emit
        self._record = record
        self.latency = latency if latency is not None else {}
        self.messages = 0
        self.deltas = 0
        self.tickers = 0
        self.trades = 0
        self.shutdowns = 0
        self.errors: collections.Counter[str] = collections.Counter()

    def bind(self, control: StreamControl) -> None:
        """Attach the connection whose watchdog and rollover this router drives."""
        self.control = control

    def on_message(self, payload: bytes, ts_recv: int) -> None:
        """Handle one text frame (never raises: bad input is counted)."""
        self.messages += 1
        if self._record is not None:
            self._record(ts_recv, payload)
        try:
            # Depth diffs are decoded and applied to the symbol's book in one pass.
            result = feed_frame(payload, ts_recv, self.sync, symbols=self.symbols)
        except ParseError as exc:
            self._count(exc)
            return
        if type(result) is not DepthFed:
            self._dispatch(result)
            return
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

    def _dispatch(self, parsed: object) -> None:
        if isinstance(parsed, BookTicker):
            self.tickers += 1
            self._emit(parsed)
        elif isinstance(parsed, PublicTrade):
            self.trades += 1
            self._emit(parsed)
        elif isinstance(parsed, WsResponse):
            if not self.subscriptions.on_ack(parsed.id):
                self._count(ParseError(f"answer to an unknown request id {parsed.id!r}"))
        elif isinstance(parsed, WsError):
            self.subscriptions.on_error(parsed.id, parsed.code, parsed.msg)
            log.warning(
                "binance stream request %r refused: %s %s", parsed.id, parsed.code, parsed.msg
            )
            self.errors["WsError"] += 1
        elif isinstance(parsed, ServerShutdown):
            # Maintenance ahead: open the replacement now, while this one still delivers.
            self.shutdowns += 1
            if self.control is not None:
                self.control.rollover()
        elif isinstance(parsed, BookSnapshot):
            self._count(ParseError("partial-depth event on a diff-depth connection"))
        else:  # pragma: no cover - parse_data returns only the types above
            self._count(ParseError(f"unhandled message {type(parsed).__name__}"))

    def _count(self, exc: Exception) -> None:
        key = type(exc).__name__
        self.errors[key] += 1
        if self.errors[key] == 1 or self.errors[key] % 1000 == 0:
            log.warning("binance stream: %s (#%d): %s", key, self.errors[key], exc)

    def __repr__(self) -> str:
        return (
            f"BinanceStreamRouter(symbols={len(self.symbols)}, messages={self.messages}, "
            f"errors={sum(self.errors.values())})"
        )
