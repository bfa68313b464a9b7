"""Venue-neutral events a connector hands to the bot, and the sink that receives them.

Every venue's router turns its own messages into these values, so a bot written against one
venue runs against any other. Prices and quantities are exact fixed-point integers at the
scales carried in the event (``price_scale`` / ``qty_scale``; :meth:`TopOfBook.bid` and the
like give ``Decimal`` at the edge). Timestamps are integer nanoseconds: ``ts_event`` is the
venue's time (0 when the venue sends none), ``ts_recv`` ours.

Market data: :class:`BookValid` / :class:`BookInvalid` (defined with the rest of book
integrity in :mod:`connectivity.core.book_integrity`), :class:`TopOfBook` and
:class:`PublicTrade`.

Orders and account (produced by :class:`connectivity.core.state.StateManager`, whichever source
spoke): one :class:`OrderEvent` subclass per status reached (:class:`OrderSubmitted`,
:class:`OrderAccepted`, :class:`OrderPartiallyFilled`, :class:`OrderFilled`,
:class:`OrderPendingCancel`, :class:`OrderCanceled`, :class:`OrderRefused`, :class:`OrderExpired`),
:class:`OrderInDoubt` when an outcome is unknown and :class:`OrderSettled` when venue evidence
ends the doubt (saying which); :class:`~connectivity.core.models.Fill` once per trade id;
:class:`BalanceChanged`; :class:`Correction` when reconciliation finds our state differed from
the venue's (what differed and the evidence that settled it). Order and account events carry
exact ``Decimal`` quantities: they are few, and the bot does arithmetic with them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs

from connectivity.core.book_integrity import BookEvent, BookInvalid, BookValid, InvalidReason
from connectivity.core.decimal import fixed_to_decimal
from connectivity.core.models import Fill, OrderStatus, Side

__all__ = [
    "AccountEvent",
    "BalanceChanged",
    "BookEvent",
    "BookInvalid",
    "BookValid",
    "Correction",
    "Event",
    "EventSink",
    "Fill",
    "InvalidReason",
    "MarketEvent",
    "OrderAccepted",
    "OrderCanceled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderInDoubt",
    "OrderPartiallyFilled",
    "OrderPendingCancel",
    "OrderRefused",
    "OrderSettled",
    "OrderSubmitted",
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


@attrs.frozen(slots=True)
class OrderEvent:
    """An order reached a status: the merged view right after the change, and its source."""

    venue: str
    symbol: str
    client_order_id: str
    venue_order_id: str | None
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal  # cumulative
    source: str  # the evidence's source ("ws", "rest", "fix", "local", ...)
    ts_event: int
    ts_recv: int
    foreign: bool = False  # placed by someone else on the account

    @property
    def leaves_quantity(self) -> Decimal:
        """Return what is still working (0 once terminal)."""
        if self.status.is_terminal:
            return Decimal(0)
        return max(self.quantity - self.filled_quantity, Decimal(0))


@attrs.frozen(slots=True)
class OrderSubmitted(OrderEvent):
    """We registered an order (PENDING_NEW) before sending it."""


@attrs.frozen(slots=True)
class OrderAccepted(OrderEvent):
    """The venue acknowledged the order (NEW); also when first seen resting there."""


@attrs.frozen(slots=True)
class OrderPartiallyFilled(OrderEvent):
    """Cumulative filled quantity grew and the order still works."""


@attrs.frozen(slots=True)
class OrderFilled(OrderEvent):
    """The order is completely filled."""


@attrs.frozen(slots=True)
class OrderPendingCancel(OrderEvent):
    """We asked the venue to cancel the order."""


@attrs.frozen(slots=True)
class OrderCanceled(OrderEvent):
    """The venue canceled the order."""


@attrs.frozen(slots=True)
class OrderRefused(OrderEvent):
    """The venue rejected the order (or proved it never existed: ``reason`` says which)."""

    reason: str | None = None


@attrs.frozen(slots=True)
class OrderExpired(OrderEvent):
    """The venue expired the order (time in force, self-trade prevention, ...)."""


@attrs.frozen(slots=True)
class OrderInDoubt(OrderEvent):
    """A submit, cancel or replace got no definite answer; venue evidence will settle it."""

    operation: str = "submit"
    reason: str = ""


@attrs.frozen(slots=True)
class OrderSettled(OrderEvent):
    """Venue evidence ended a doubt: ``status`` is the settled status, ``evidence`` the proof."""

    operation: str = "submit"
    evidence: str = ""


@attrs.frozen(slots=True)
class BalanceChanged:
    """One asset's balance after a venue snapshot or delta was merged."""

    venue: str
    asset: str
    free: Decimal
    locked: Decimal
    source: str
    ts_event: int
    ts_recv: int

    @property
    def total(self) -> Decimal:
        """Return free plus locked."""
        return self.free + self.locked


@attrs.frozen(slots=True)
class Correction:
    """Reconciliation found our state differed from the venue's, and what settled it.

    ``subject`` is ``"order"``, ``"fill"`` or ``"balance"``; ``key`` the client order id,
    trade id or asset; ``field`` what differed, ``ours`` and ``theirs`` its two values.
    """

    venue: str
    subject: str
    key: str
    field: str
    ours: str
    theirs: str
    evidence: str
    ts_recv: int


MarketEvent = BookValid | BookInvalid | TopOfBook | PublicTrade
AccountEvent = OrderEvent | Fill | BalanceChanged | Correction
Event = MarketEvent | AccountEvent
"""Everything a connector may emit."""

EventSink = Callable[[Event], None]
"""Where a connector delivers events: a callback, or a queue's ``put`` (see ``QueueSink``)."""
