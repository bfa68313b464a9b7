"""A small matching-engine fixture shared by the tests/sim/test_matching*.py modules."""

from __future__ import annotations

from connectivity.core.decimal import parse_fixed
from connectivity.core.models import OrderType, Side, TimeInForce
from connectivity.sim.accounts import FeeSchedule
from connectivity.sim.engine import MatchingEngine
from connectivity.sim.filters import SymbolRules
from connectivity.sim.orders import ExecType, ExecutionEvent, NewOrder, StpMode

SYMBOL = "BTCUSDT"
T0 = 1_700_000_000_000_000_000  # an arbitrary venue time, ns


def d(text: str) -> int:
    """Return a decimal string as the engine's fixed-point int (8 decimals)."""
    return parse_fixed(text, 8)


RULES = SymbolRules(
    SYMBOL,
    "BTC",
    "USDT",
    tick_size=d("0.01"),
    step_size=d("0.001"),
    min_price=d("0.01"),
    max_price=d("1000000"),
    min_qty=d("0.001"),
    max_qty=d("100"),
    min_notional=d("5"),
    max_notional=d("1000000"),
    max_num_orders=5,
)


def engine(*names: str, fees: FeeSchedule | None = None) -> MatchingEngine:
    """Return an engine on BTCUSDT with each named account holding 10 BTC and 10000 USDT."""
    venue = MatchingEngine([RULES])
    for name in names:
        venue.open_account(name, {"BTC": d("10"), "USDT": d("10000")}, fees=fees or FeeSchedule())
    return venue


def limit(
    side: Side,
    price: str,
    qty: str,
    tif: TimeInForce = TimeInForce.GTC,
    cid: str | None = None,
    stp: StpMode = StpMode.NONE,
) -> NewOrder:
    """Return a LIMIT order request."""
    return NewOrder(SYMBOL, side, OrderType.LIMIT, d(qty), d(price), None, tif, cid, stp)


def maker(side: Side, price: str, qty: str) -> NewOrder:
    """Return a LIMIT_MAKER order request."""
    return NewOrder(SYMBOL, side, OrderType.LIMIT_MAKER, d(qty), d(price))


def market(side: Side, qty: str | None = None, quote: str | None = None) -> NewOrder:
    """Return a MARKET order request by base quantity or by quote quantity."""
    return NewOrder(
        SYMBOL,
        side,
        OrderType.MARKET,
        None if qty is None else d(qty),
        None,
        None if quote is None else d(quote),
    )


def exec_types(events: list[object], account: str, client_order_id: str) -> list[ExecType]:
    """Return the execution types reported for one order, in order."""
    return [
        e.exec_type
        for e in events
        if isinstance(e, ExecutionEvent)
        and e.account == account
        and e.order.client_order_id == client_order_id
    ]
