"""Pre-trade checks of an order against its instrument's filters, before anything is sent.

The rules are the venue-neutral shape of Binance's filters (``specs/binance.md`` 2.4), which
other venues' tick / lot / notional rules also fit:

- price (and stop price): ``min_price <= p <= max_price`` and ``p`` on the ``tick_size`` grid
  (``p % tick == 0``, not ``(p - min) % tick``: Binance changed that in 2022);
- quantity: ``min_qty <= q <= max_qty`` and on the ``step_size`` grid; MARKET orders must
  also meet the separate market lot rule when the venue has one;
- notional ``price * quantity`` between ``min_notional`` and ``max_notional``. A MARKET order
  has no price: its notional is checked only when the caller passes the venue's reference
  price (Binance: the average over ``avg_price_mins``) and the bound applies to MARKET orders;
  a MARKET order by quote quantity is checked on that quantity directly;
- open orders on the symbol below ``max_num_orders`` (the caller knows how many are open).

A failure raises :class:`~connectivity.errors.FilterViolation` naming the venue's filter, the
field, the value and the bound: a clear local error instead of a venue ``-1013``. Everything is
exact ``Decimal`` arithmetic, never float. :func:`conform_order` rounds onto the grids instead
(bids down, asks up, quantities down) for a bot that prefers adjusting to failing.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import attrs

from connectivity.core.decimal import Rounding, format_decimal, round_price, round_qty
from connectivity.core.models import Instrument, OrderRequest, OrderType, Side
from connectivity.errors import FilterViolation, InvalidOrder

__all__ = ["check_order", "checked_values", "conform_order", "order_notional"]

PRICE_FILTER = "PRICE_FILTER"
LOT_SIZE = "LOT_SIZE"
MARKET_LOT_SIZE = "MARKET_LOT_SIZE"
NOTIONAL = "NOTIONAL"
MAX_NUM_ORDERS = "MAX_NUM_ORDERS"
_PRICED = frozenset(
    {OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
)


def _fail(
    instrument: Instrument,
    filter_name: str,
    field: str,
    value: Decimal | int,
    why: str,
    limit: Decimal | int,
) -> FilterViolation:
    shown = format_decimal(value) if isinstance(value, Decimal) else value
    bound = format_decimal(limit) if isinstance(limit, Decimal) else limit
    return FilterViolation(
        f"{instrument.symbol}: {field} {shown} {why} {bound} ({filter_name})",
        filter_name=filter_name,
        field=field,
        value=value,
        limit=limit,
        venue=instrument.venue,
    )


def _check_price(instrument: Instrument, field: str, price: Decimal) -> None:
    if price <= 0:
        raise _fail(instrument, PRICE_FILTER, field, price, "must be above", Decimal(0))
    low, high = instrument.min_price, instrument.max_price
    if low and price < low:
        raise _fail(instrument, PRICE_FILTER, field, price, "is below minPrice", low)
    if high is not None and price > high:
        raise _fail(instrument, PRICE_FILTER, field, price, "is above maxPrice", high)
    tick = instrument.tick_size
    if tick and price % tick:
        raise _fail(instrument, PRICE_FILTER, field, price, "is not a multiple of tickSize", tick)


def _check_lot(
    instrument: Instrument,
    name: str,
    qty: Decimal,
    bounds: tuple[Decimal, Decimal | None, Decimal],
) -> None:
    low, high, step = bounds
    if qty <= 0:
        raise _fail(instrument, name, "quantity", qty, "must be above", Decimal(0))
    if low and qty < low:
        raise _fail(instrument, name, "quantity", qty, "is below minQty", low)
    if high is not None and qty > high:
        raise _fail(instrument, name, "quantity", qty, "is above maxQty", high)
    if step and qty % step:
        raise _fail(instrument, name, "quantity", qty, "is not a multiple of stepSize", step)


def order_notional(request: OrderRequest, reference_price: Decimal | None = None) -> Decimal | None:
    """Return the order's notional (quote amount), or None when it cannot be known locally."""
    if request.quote_quantity is not None:
        return request.quote_quantity
    price = reference_price if request.order_type is OrderType.MARKET else request.price
    return None if price is None else price * request.quantity


def _check_notional(
    instrument: Instrument, request: OrderRequest, reference_price: Decimal | None
) -> None:
    market = request.order_type is OrderType.MARKET
    notional = order_notional(request, reference_price)
    if notional is None:
        return  # a MARKET order without the venue's reference price: only the venue can tell
    low = instrument.min_notional if instrument.min_notional_market or not market else None
    high = instrument.max_notional if instrument.max_notional_market or not market else None
    if low and notional < low:
        raise _fail(instrument, NOTIONAL, "notional", notional, "is below minNotional", low)
    if high is not None and notional > high:
        raise _fail(instrument, NOTIONAL, "notional", notional, "is above maxNotional", high)


def check_order(
    instrument: Instrument,
    request: OrderRequest,
    *,
    reference_price: Decimal | None = None,
    open_orders: int | None = None,
) -> None:
    """Raise :class:`FilterViolation` unless ``request`` passes every filter checkable here.

    ``reference_price`` is the venue's price for MARKET notional checks (Binance: the average
    price over ``avg_price_mins``); ``open_orders`` the orders already open on the symbol.
    """
    _check_shape(instrument, request)
    with decimal.localcontext() as ctx:
        ctx.prec = 80  # exact remainders and products for any venue-sized value
        _check_values(instrument, request, reference_price)
    limit = instrument.max_num_orders
    if limit is not None and open_orders is not None and open_orders >= limit:
        raise _fail(instrument, MAX_NUM_ORDERS, "open_orders", open_orders + 1, "is above", limit)


def _check_shape(instrument: Instrument, request: OrderRequest) -> None:
    """Refuse parameter combinations no venue accepts (no filter involved)."""
    kind = request.order_type.value
    problem = None
    if request.order_type in _PRICED and request.price is None:
        problem = f"a {kind} order needs a price"
    elif request.quote_quantity is not None and request.order_type is not OrderType.MARKET:
        problem = f"a {kind} order cannot be sized by quote quantity"
    elif request.quote_quantity is not None and request.quantity:
        problem = "a MARKET order takes a quantity or a quote quantity, not both"
    if problem is not None:
        raise InvalidOrder(f"{instrument.symbol}: {problem}", venue=instrument.venue)


def _check_values(
    instrument: Instrument, request: OrderRequest, reference_price: Decimal | None
) -> None:
    if request.price is not None and request.order_type is not OrderType.MARKET:
        _check_price(instrument, "price", request.price)
    if request.stop_price is not None:
        _check_price(instrument, "stop_price", request.stop_price)
    market = request.order_type is OrderType.MARKET
    if not (market and request.quote_quantity is not None):
        lot = (instrument.min_qty, instrument.max_qty, instrument.step_size)
        _check_lot(instrument, LOT_SIZE, request.quantity, lot)
        if market:
            market_lot = (
                instrument.market_min_qty,
                instrument.market_max_qty,
                instrument.market_step_size,
            )
            _check_lot(instrument, MARKET_LOT_SIZE, request.quantity, market_lot)
    _check_notional(instrument, request, reference_price)


def checked_values(
    instrument: Instrument,
    request: OrderRequest,
    *,
    reference_price: Decimal | None = None,
    open_orders: int | None = None,
) -> dict[str, str]:
    """Check ``request`` (:func:`check_order`), then return its numbers as strings to send.

    Keys are ``price``, ``stop_price``, ``quantity`` and ``quote_quantity`` (those set; a
    MARKET order by quote quantity has no ``quantity``); values are plain decimals, never an
    exponent (Binance's ``^([0-9]{1,20})(\\.[0-9]{1,20})?$``), trailing zeros trimmed.
    """
    check_order(instrument, request, reference_price=reference_price, open_orders=open_orders)
    by_quote = request.order_type is OrderType.MARKET and request.quote_quantity is not None
    values = {
        "price": None if request.order_type is OrderType.MARKET else request.price,
        "stop_price": request.stop_price,
        "quantity": None if by_quote else request.quantity,
        "quote_quantity": request.quote_quantity if by_quote else None,
    }
    return {name: format_decimal(value) for name, value in values.items() if value is not None}


def conform_order(instrument: Instrument, request: OrderRequest) -> OrderRequest:
    """Return ``request`` rounded onto the grids: bid prices down, ask prices up, qty down.

    Rounding never makes a price more aggressive than asked, nor a quantity larger (which
    could exceed the balance); the result still goes through :func:`check_order`.
    """
    away = Rounding.FLOOR if request.side is Side.BUY else Rounding.CEILING
    tick = instrument.tick_size
    step = instrument.step_size
    if request.order_type is OrderType.MARKET and instrument.market_step_size:
        step = max(step, instrument.market_step_size)
    price, stop = request.price, request.stop_price
    return attrs.evolve(
        request,
        price=None if price is None else round_price(price, tick, away),
        stop_price=None if stop is None else round_price(stop, tick, away),
        quantity=round_qty(request.quantity, step),
    )
