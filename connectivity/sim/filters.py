"""Instrument filters of the simulated venue: the order checks made before matching.

:class:`SymbolRules` holds one symbol's rules as fixed-point ints (0 disables a bound, as on
Binance); :func:`check_shape` and :func:`check_filters` return a :class:`RejectReason` or None.
Rules follow Binance's current definitions: ``price % tick == 0`` and ``qty % step == 0``
(not relative to the minimum); the notional of a MARKET order uses a reference price (the
last trade, else the mid) and is checked only when ``apply_*_to_market`` says so.
"""

from __future__ import annotations

import attrs

from connectivity.core.models import OrderType
from connectivity.sim.orders import NewOrder, RejectReason

__all__ = ["SymbolRules", "check_filters", "check_shape"]


@attrs.frozen
class SymbolRules:
    """One symbol's trading rules (fixed-point ints at the engine's scale; 0: no bound)."""

    symbol: str
    base: str
    quote: str
    tick_size: int
    step_size: int
    min_price: int = 0
    max_price: int = 0
    min_qty: int = 0
    max_qty: int = 0
    min_notional: int = 0
    apply_min_to_market: bool = True
    max_notional: int = 0
    apply_max_to_market: bool = False
    max_num_orders: int = 0  # open orders per account on this symbol

    def __attrs_post_init__(self) -> None:
        if self.tick_size <= 0 or self.step_size <= 0:
            raise ValueError(f"{self.symbol}: tick and step sizes must be positive")


def check_shape(order: NewOrder) -> RejectReason | None:
    """Return INVALID_ORDER when the parameters do not fit the order type."""
    kind, qty, quote = order.order_type, order.quantity, order.quote_quantity
    if kind is OrderType.MARKET:
        sized = (qty is None) != (quote is None) and (qty or quote or 0) > 0
        if not sized or order.price is not None or order.time_in_force is not None:
            return RejectReason.INVALID_ORDER
        return None
    if kind not in (OrderType.LIMIT, OrderType.LIMIT_MAKER):
        return RejectReason.INVALID_ORDER  # stop orders are not simulated
    if qty is None or qty <= 0 or quote is not None or order.price is None or order.price <= 0:
        return RejectReason.INVALID_ORDER
    needs_tif = kind is OrderType.LIMIT
    if needs_tif != (order.time_in_force is not None):
        return RejectReason.INVALID_ORDER
    return None


def check_filters(
    rules: SymbolRules, order: NewOrder, reference_price: int | None, scale: int
) -> RejectReason | None:
    """Return the first filter ``order`` fails (price, lot, notional), or None."""
    price = order.price
    if price is not None:
        if price % rules.tick_size:
            return RejectReason.PRICE_NOT_ON_TICK
        if price < rules.min_price:
            return RejectReason.PRICE_TOO_LOW
        if rules.max_price and price > rules.max_price:
            return RejectReason.PRICE_TOO_HIGH
    qty = order.quantity
    if qty is not None:
        if qty % rules.step_size:
            return RejectReason.QTY_NOT_ON_STEP
        if qty < rules.min_qty:
            return RejectReason.QTY_TOO_LOW
        if rules.max_qty and qty > rules.max_qty:
            return RejectReason.QTY_TOO_HIGH
    return _check_notional(rules, order, reference_price, scale)


def _check_notional(
    rules: SymbolRules, order: NewOrder, reference_price: int | None, scale: int
) -> RejectReason | None:
    market = order.order_type is OrderType.MARKET
    if order.quote_quantity is not None:
        notional = order.quote_quantity
    else:
        price = reference_price if market else order.price
        if price is None or order.quantity is None:
            return None  # an empty book and no trade yet: nothing to value a MARKET order at
        notional = price * order.quantity // 10**scale
    if (not market or rules.apply_min_to_market) and notional < rules.min_notional:
        return RejectReason.NOTIONAL_TOO_LOW
    applies_max = rules.max_notional and (not market or rules.apply_max_to_market)
    if applies_max and notional > rules.max_notional:
        return RejectReason.NOTIONAL_TOO_HIGH
    return None
