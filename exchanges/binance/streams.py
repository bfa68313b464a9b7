"""The Binance stream router: the generic :class:`StreamRouter` speaking the Binance dialect.

Kept as a named constructor for callers that route one connection by hand (tests, tools);
the connector builds its routers itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from connectivity.connector.router import LATENCY_EVERY, StreamControl, StreamRouter
from connectivity.connector.streams import Subscriptions
from connectivity.core.book_sync import BookSync
from connectivity.core.events import Event
from connectivity.core.latency import LatencyRecorder
from exchanges.binance.dialect import BinanceDialect

__all__ = ["LATENCY_EVERY", "BinanceStreamRouter", "StreamControl"]


class BinanceStreamRouter(StreamRouter):
    """The ``on_message`` of one Binance market-stream connection."""

    def __init__(
        self,
        sync: BookSync,
        subscriptions: Subscriptions,
        symbols: Iterable[str],
        *,
        time_ns: Callable[[], int],
        emit: Callable[[Event], None],
        latency: dict[str, LatencyRecorder] | None = None,
        record: Callable[[int, bytes], None] | None = None,
        dialect: BinanceDialect | None = None,
    ) -> None:
        super().__init__(
            dialect or BinanceDialect(),
            sync,
            subscriptions,
            symbols,
            time_ns=time_ns,
            emit=emit,
            latency=latency,
            record=record,
        )
