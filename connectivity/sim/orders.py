"""Values of the simulated matching engine: requests, orders, typed results and events.

Everything is venue-neutral and exact: prices, quantities and amounts are fixed-point ints at
the engine's scale, times are integer nanoseconds handed in by the caller. A venue dialect
(``exchanges/<venue>/sim.py``) parses its wire request into a :class:`NewOrder`, calls the
engine, and maps the typed result back: a :class:`RejectReason` to its error code (Binance:
``-1013`` for the filter family, ``-2010`` for a new order, ``-2011`` for a cancel), the
:class:`ExecutionEvent` and :class:`BalanceEvent` values to its user-data stream.
"""

from __future__ import annotations

import enum

import attrs

from connectivity.core.models import OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "BalanceEvent",
    "CancelResult",
    "EngineEvent",
    "ExecType",
    "ExpireReason",
    "FilterKind",
    "NewOrder",
    "OrderResult",
    "OrderSnapshot",
    "RejectReason",
    "ReplaceMode",
    "ReplaceOutcome",
    "ReplaceResult",
    "SimOrder",
    "StpMode",
    "TradeRecord",
]


class FilterKind(enum.Enum):
    """The instrument filter a reject reason belongs to (a dialect names it its own way)."""

    PRICE = "PRICE"  # Binance PRICE_FILTER
    LOT = "LOT"  # Binance LOT_SIZE
    NOTIONAL = "NOTIONAL"  # Binance NOTIONAL / MIN_NOTIONAL
    MAX_ORDERS = "MAX_ORDERS"  # Binance MAX_NUM_ORDERS


class RejectReason(enum.Enum):
    """Why the engine refused a request (the dialect maps each to its venue's code)."""

    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    INVALID_ORDER = "INVALID_ORDER"  # parameters missing or not allowed for the order type
    PRICE_NOT_ON_TICK = "PRICE_NOT_ON_TICK"
    PRICE_TOO_LOW = "PRICE_TOO_LOW"
    PRICE_TOO_HIGH = "PRICE_TOO_HIGH"
    QTY_NOT_ON_STEP = "QTY_NOT_ON_STEP"
    QTY_TOO_LOW = "QTY_TOO_LOW"
    QTY_TOO_HIGH = "QTY_TOO_HIGH"
    NOTIONAL_TOO_LOW = "NOTIONAL_TOO_LOW"
    NOTIONAL_TOO_HIGH = "NOTIONAL_TOO_HIGH"
    TOO_MANY_ORDERS = "TOO_MANY_ORDERS"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    WOULD_TAKE = "WOULD_TAKE"  # a LIMIT_MAKER that would match at once
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"  # cancel / query / replace of no such open order

    @property
    def filter(self) -> FilterKind | None:
        """Return the instrument filter this reason is a failure of, or None."""
        return _FILTER_OF.get(self)


_FILTER_OF = {
    RejectReason.PRICE_NOT_ON_TICK: FilterKind.PRICE,
    RejectReason.PRICE_TOO_LOW: FilterKind.PRICE,
    RejectReason.PRICE_TOO_HIGH: FilterKind.PRICE,
    RejectReason.QTY_NOT_ON_STEP: FilterKind.LOT,
    RejectReason.QTY_TOO_LOW: FilterKind.LOT,
    RejectReason.QTY_TOO_HIGH: FilterKind.LOT,
    RejectReason.NOTIONAL_TOO_LOW: FilterKind.NOTIONAL,
    RejectReason.NOTIONAL_TOO_HIGH: FilterKind.NOTIONAL,
    RejectReason.TOO_MANY_ORDERS: FilterKind.MAX_ORDERS,
}


class ExecType(enum.Enum):
    """What one execution event reports."""

    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    REPLACED = "REPLACED"  # quantity amended in place, priority kept


class ExpireReason(enum.Enum):
    """Why an order expired."""

    IOC_UNFILLED = "IOC_UNFILLED"  # the rest of an IOC (or of a MARKET order)
    FOK_UNFILLED = "FOK_UNFILLED"  # a FOK that could not fill completely, nothing traded
    NO_LIQUIDITY = "NO_LIQUIDITY"  # a MARKET order that found nothing (more) to take
    SELF_TRADE = "SELF_TRADE"  # self-trade prevention expired it


class StpMode(enum.Enum):
    """Self-trade prevention, decided by the taker's mode (NONE: self-trades happen)."""

    NONE = "NONE"
    EXPIRE_TAKER = "EXPIRE_TAKER"
    EXPIRE_MAKER = "EXPIRE_MAKER"
    EXPIRE_BOTH = "EXPIRE_BOTH"


class ReplaceMode(enum.Enum):
    """Cancel-replace: stop when the cancel fails, or place the new order anyway."""

    STOP_ON_FAILURE = "STOP_ON_FAILURE"
    ALLOW_FAILURE = "ALLOW_FAILURE"


class ReplaceOutcome(enum.Enum):
    """Which legs of a cancel-replace succeeded."""

    BOTH_OK = "BOTH_OK"
    CANCEL_FAILED = "CANCEL_FAILED"  # new leg not attempted (STOP_ON_FAILURE) or it succeeded
    NEW_FAILED = "NEW_FAILED"  # canceled, but the new order was rejected
    BOTH_FAILED = "BOTH_FAILED"


@attrs.frozen
class NewOrder:
    """A new-order request in fixed-point ints (the dialect parsed and scaled the wire values)."""

    symbol: str
    side: Side
    order_type: OrderType
    quantity: int | None = None  # base quantity
    price: int | None = None  # LIMIT and LIMIT_MAKER only
    quote_quantity: int | None = None  # MARKET only, instead of quantity
    time_in_force: TimeInForce | None = None  # LIMIT only (LIMIT_MAKER rests, MARKET is IOC)
    client_order_id: str | None = None  # generated when None
    stp: StpMode = StpMode.NONE


@attrs.define(slots=True, eq=False)
class SimOrder:
    """One order inside the engine (mutable; the outside sees :class:`OrderSnapshot` s)."""

    order_id: int
    account: str
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce | None
    price: int | None
    quantity: int  # base quantity (a quote-quantity MARKET order: what it could buy or sell)
    quote_quantity: int | None = None
    executed: int = 0
    cum_quote: int = 0
    status: OrderStatus = OrderStatus.NEW
    stp: StpMode = StpMode.NONE
    created_ns: int = 0
    updated_ns: int = 0
    locked: int = 0  # funds still held for this order (quote for buys, base for sells)
    house: bool = False  # the market generator's liquidity: no events, no balance checks

    @property
    def remaining(self) -> int:
        """Return the base quantity still working."""
        return self.quantity - self.executed

    def snapshot(self) -> OrderSnapshot:
        """Return an immutable copy of the order as it is now."""
        return OrderSnapshot(
            self.order_id,
            self.account,
            self.symbol,
            self.client_order_id,
            self.side,
            self.order_type,
            self.time_in_force,
            self.price,
            self.quantity,
            self.quote_quantity,
            self.executed,
            self.cum_quote,
            self.status,
            self.stp,
            self.created_ns,
            self.updated_ns,
        )


@attrs.frozen
class OrderSnapshot:
    """An order as the engine held it at one moment."""

    order_id: int  # 0 for a request rejected before it became an order
    account: str
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce | None
    price: int | None
    quantity: int
    quote_quantity: int | None
    executed: int
    cum_quote: int
    status: OrderStatus
    stp: StpMode
    created_ns: int
    updated_ns: int


@attrs.frozen
class TradeRecord:
    """One fill of one account's order (each trade gives the buyer and the seller one)."""

    symbol: str
    trade_id: int  # monotone per symbol
    order_id: int
    client_order_id: str
    account: str
    side: Side
    price: int
    quantity: int
    quote: int  # price * quantity at the engine's scale, rounded down
    commission: int
    commission_asset: str | None
    is_maker: bool
    time_ns: int


@attrs.frozen
class ExecutionEvent:
    """A change of one order: what a dialect turns into an execution report."""

    event_id: int  # engine-wide, monotone
    account: str
    exec_type: ExecType
    order: OrderSnapshot
    time_ns: int
    trade: TradeRecord | None = None
    reject: RejectReason | None = None
    expire: ExpireReason | None = None
    cancel_client_order_id: str | None = None  # the id a cancel request gave itself


@attrs.frozen
class BalanceEvent:
    """The balances of the assets one operation changed (free, locked) for one account."""

    event_id: int
    account: str
    time_ns: int
    balances: tuple[tuple[str, int, int], ...]  # (asset, free, locked), sorted by asset
    delta: tuple[str, int] | None = None  # a deposit or withdrawal: (asset, signed amount)


EngineEvent = ExecutionEvent | BalanceEvent


@attrs.frozen
class OrderResult:
    """The outcome of a new order: its state after matching and its fills, or a reject."""

    order: OrderSnapshot
    fills: tuple[TradeRecord, ...] = ()
    reject: RejectReason | None = None

    @property
    def ok(self) -> bool:
        """Return True when the order was accepted (it may have expired unfilled)."""
        return self.reject is None


@attrs.frozen
class CancelResult:
    """The outcome of a cancel: the canceled order, or a reject."""

    order: OrderSnapshot | None
    reject: RejectReason | None = None

    @property
    def ok(self) -> bool:
        """Return True when the order was canceled."""
        return self.reject is None


@attrs.frozen
class ReplaceResult:
    """The outcome of a cancel-replace: both legs (``new`` is None when not attempted)."""

    mode: ReplaceMode
    cancel: CancelResult
    new: OrderResult | None

    @property
    def outcome(self) -> ReplaceOutcome:
        """Return which legs succeeded."""
        new_ok = self.new is not None and self.new.ok
        if self.cancel.ok:
            return ReplaceOutcome.BOTH_OK if new_ok else ReplaceOutcome.NEW_FAILED
        if self.new is None or new_ok:
            return ReplaceOutcome.CANCEL_FAILED
        return ReplaceOutcome.BOTH_FAILED
