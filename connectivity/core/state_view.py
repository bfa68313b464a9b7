"""The read side of the state manager: orders, derived figures, holds, events of a record.

:class:`StateView` is the base of :class:`~connectivity.core.state.StateManager` (split out
for size): every query a bot asks between inputs, and the pre-trade funds check.
"""

from __future__ import annotations

from decimal import Decimal

from connectivity.core.balances import Balances
from connectivity.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInDoubt,
    OrderPartiallyFilled,
    OrderPendingCancel,
    OrderRefused,
    OrderSettled,
    OrderSubmitted,
)
from connectivity.core.journal import Record
from connectivity.core.models import (
    Balance,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    OrderStatus,
    Side,
)
from connectivity.core.order_record import OrderRecord
from connectivity.errors import ConfigError, InsufficientFunds

__all__ = ["StateView", "order_event", "settled_event"]

S = OrderStatus
_ZERO = Decimal(0)
_EVENT_BY_STATUS: dict[OrderStatus, type[OrderEvent]] = {
    S.PENDING_NEW: OrderSubmitted, S.IN_DOUBT: OrderInDoubt, S.NEW: OrderAccepted,
    S.PARTIALLY_FILLED: OrderPartiallyFilled, S.PENDING_CANCEL: OrderPendingCancel,
    S.FILLED: OrderFilled, S.CANCELED: OrderCanceled, S.REJECTED: OrderRefused,
    S.EXPIRED: OrderExpired,
}  # fmt: skip
_EVENT = {status.name: cls for status, cls in _EVENT_BY_STATUS.items()}


class StateView:
    """Queries over the merged state (no mutation)."""

    venue: str
    instruments: dict[str, Instrument]
    balances: Balances
    _orders: dict[str, OrderRecord]
    _by_vid: dict[str, str]
    _parked: dict[str, dict[tuple[str, str, str], Fill]]

    def order(self, client_order_id: str) -> Order | None:
        """Return our view of one order (by client order id), or None."""
        rec = self._orders.get(client_order_id)
        return rec.view() if rec is not None else None

    def order_by_venue_id(self, venue_order_id: str) -> Order | None:
        """Return the order the venue knows by ``venue_order_id``, or None."""
        cid = self._by_vid.get(venue_order_id)
        return self.order(cid) if cid is not None else None

    def orders(self) -> list[Order]:
        """Return every tracked order."""
        return [rec.view() for rec in self._orders.values()]

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the orders that may still trade (optionally of one symbol)."""
        return [
            rec.view()
            for rec in self._orders.values()
            if not rec.status.is_terminal and (symbol is None or rec.symbol == symbol)
        ]

    def working_quantity(self, symbol: str, side: Side) -> Decimal:
        """Return the leaves quantity of the open orders of one symbol and side."""
        return sum(
            (r.leaves() for r in self._orders.values() if r.symbol == symbol and r.side is side),
            _ZERO,
        )

    def in_doubt(self) -> list[str]:
        """Return the client order ids whose outcome is unknown."""
        return [cid for cid, rec in self._orders.items() if rec.status is S.IN_DOUBT]

    def pending_reconcile(self) -> list[str]:
        """Return live orders rebuilt from the journal and not yet confirmed by the venue."""
        return [
            c for c, rec in self._orders.items() if rec.reconcile and not rec.status.is_terminal
        ]

    def open_since(self, before_ns: int) -> list[str]:
        """Return live orders unchanged since ``before_ns`` (a snapshot then must show them)."""
        return [
            cid
            for cid, rec in self._orders.items()
            if not rec.status.is_terminal and rec.changed_ns < before_ns
        ]

    def parked_fills(self) -> list[Fill]:
        """Return fills waiting for their order to appear."""
        return [fill for fills in self._parked.values() for fill in fills.values()]

    def balance(self, asset: str) -> Balance:
        """Return one asset's free and locked balance."""
        return self.balances.balance(asset)

    def reserved(self, asset: str) -> Decimal:
        """Return what the open orders we track (ours and foreign) hold of ``asset``."""
        total = _ZERO
        for rec in self._orders.values():
            if rec.status.is_terminal:
                continue
            held, amount = self._hold(rec.symbol, rec.side, rec.leaves(), rec.price)
            if held == asset:
                total += amount
        return total

    def available(self, asset: str) -> Decimal:
        """Return the balance not held by the open orders we track."""
        return self.balances.balance(asset).total - self.reserved(asset)

    def check_funds(self, request: OrderRequest) -> None:
        """Raise :class:`InsufficientFunds` when ``request`` needs more than is available."""
        held, amount = self._hold(request.symbol, request.side, request.quantity, request.price)
        if request.price is None and request.side is Side.BUY:
            amount = request.quote_quantity or _ZERO  # a market buy holds what it may spend
        available = self.available(held)
        if amount > available:
            raise InsufficientFunds(
                f"{request.client_order_id} needs {amount} {held}, {available} available",
                venue=self.venue, operation="pre-trade check",
            )  # fmt: skip

    def _hold(
        self, symbol: str, side: Side, quantity: Decimal, price: Decimal | None
    ) -> tuple[str, Decimal]:
        instrument = self.instruments.get(symbol)
        if instrument is None:
            raise ConfigError(f"no instrument for {symbol}: cannot compute holds")
        if side is Side.SELL:
            return instrument.base, quantity
        return instrument.quote, quantity * price if price is not None else _ZERO

    def journal_image(self) -> list[Record]:
        """Return the shortest journal that rebuilds the current state."""
        image: list[Record] = [rec.record() for rec in self._orders.values()]
        image += [("F", fill, None) for fill in self.parked_fills()]
        image += [("B", name, asset.state()) for name, asset in self.balances.assets.items()]
        return image

    def records(self) -> dict[str, Record]:
        """Return every order's journal record by client order id (for comparisons)."""
        return {cid: rec.record() for cid, rec in self._orders.items()}


def order_event(
    rec: OrderRecord, source: str, ts_event: int, ts_recv: int, reason: str | None = None
) -> OrderEvent:
    """Return the event announcing the status ``rec`` has just reached."""
    cls = _EVENT[rec.status._name_]
    args = (
        rec.venue, rec.symbol, rec.cid, rec.venue_order_id, rec.status, rec.quantity,
        rec.filled, source, ts_event, ts_recv, rec.foreign,
    )  # fmt: skip
    if cls is OrderRefused:
        return OrderRefused(*args, reason=reason)
    if cls is OrderInDoubt:
        return OrderInDoubt(*args, operation=rec.doubt_op or "submit", reason=reason or "")
    return cls(*args)


def settled_event(rec: OrderRecord, evidence: str, source: str, ts_recv: int) -> OrderEvent:
    """Return the event saying which evidence ended ``rec``'s doubt."""
    return OrderSettled(
        rec.venue, rec.symbol, rec.cid, rec.venue_order_id, rec.status, rec.quantity,
        rec.filled, source, 0, ts_recv, rec.foreign, operation=rec.doubt_op or "submit",
        evidence=evidence,
    )  # fmt: skip
