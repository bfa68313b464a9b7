"""Venue-neutral events a connector hands to the bot, and the sink that receives them.

Every venue's router turns its own messages into these values, so a bot written against one
venue runs against any other. Prices and quantities are exact fixed-point integers at the
scales carried in the event (``price_scale`` / ``qty_scale``; :meth:`TopOfBook.bid` and the
like give ``Decimal`` at the edge). Timestamps are integer nanoseconds: ``ts_event`` is the
venue's time (0 when the venue sends none), ``ts_recv`` ours.

Market data: :class:`BookValid` / :class:`BookInvalid` (defined with the rest of book
integrity in :mod:`connectivity.core.book_integrity`), :class:`TopOfBook` and
:class:`PublicTrade`. Order and account events join :data:`Event` as order entry lands.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs

from connectivity.core.book_integrity import BookEvent, BookInvalid, BookValid, InvalidReason
from connectivity.core.decimal import fixed_to_decimal
from connectivity.core.models import Side

__all__ = [
    "BookEvent",
    "BookInvalid",
    "BookValid",
    "Event",
    "EventSink",
    "InvalidReason",
    "MarketEvent",
    "PublicTrade",
    "TopOfBook",
]


@attrs.frozen(slots=True)
class TopOfBook:
    """The venue's best bid and ask of one symbol (Binance ``bookTicker``, Kraken ``ticker``)."""

    venue: str
    symbol: str
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int
    price_scale: int
    qty_scale: int
    update_id: int | None  # the book update id it reflects, where the venue says
    ts_event: int
    ts_recv: int

    def bid(self) -> tuple[Decimal, Decimal]:
        """Return the best bid as exact ``(price, quantity)`` decimals."""
        return (
            fixed_to_decimal(self.bid_price, self.price_scale),
            fixed_to_decimal(self.bid_qty, self.qty_scale),
        )

    def ask(self) -> tuple[Decimal, Decimal]:
        """Return the best ask as exact ``(price, quantity)`` decimals."""
        return (
            fixed_to_decimal(self.ask_price, self.price_scale),
            fixed_to_decimal(self.ask_qty, self.qty_scale),
        )


@attrs.frozen(slots=True)
class PublicTrade:
    """One public trade print (or an aggregate of prints: ``first/last_trade_id`` set)."""

    venue: str
    symbol: str
    trade_id: int
    price: int
    qty: int
    price_scale: int
    qty_scale: int
    aggressor: Side | None  # the taker's side, where the venue says
    ts_event: int  # the venue's trade time
    ts_recv: int
    first_trade_id: int | None = None
    last_trade_id: int | None = None

    @property
    def aggregate(self) -> bool:
        """Return True when this print aggregates several trades."""
        return self.first_trade_id is not None

    def price_decimal(self) -> Decimal:
        """Return the exact price."""
        return fixed_to_decimal(self.price, self.price_scale)

    def qty_decimal(self) -> Decimal:
        """Return the exact quantity."""
        return fixed_to_decimal(self.qty, self.qty_scale)


MarketEvent = BookValid | BookInvalid | TopOfBook | PublicTrade
Event = MarketEvent
"""Everything a connector may emit (grows with order entry)."""

EventSink = Callable[[Event], None]
"""Where a connector delivers events: a callback, or a queue's ``put`` (see ``QueueSink``)."""
