"""Frozen value models shared by every venue, transport and the state manager.

Prices and quantities are exact ``Decimal`` at this public edge (never float); hot paths use
fixed-point ints (:mod:`connectivity.core.decimal`). Timestamps are integer nanoseconds:
``ts_event`` is the venue's time for the event, ``ts_recv`` our local receive time.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs

__all__ = [
    "Balance",
    "BalanceUpdate",
    "BookLevel",
    "Fill",
    "Instrument",
    "Liquidity",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "Side",
    "TimeInForce",
    "Trade",
]


class Side(enum.Enum):
    """Order or trade side."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        """Return the other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.Enum):
    """Order types common to the venues we trade."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIMIT_MAKER = "LIMIT_MAKER"  # post-only limit
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"


class TimeInForce(enum.Enum):
    """How long an order stays working."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(enum.Enum):
    """Lifecycle of an order as our state manager tracks it.

    ``IN_DOUBT`` is ours, not a venue's: the submission's outcome is unknown (timeout, 5xx,
    429, disconnect) and only venue evidence may settle it.
    """

    PENDING_NEW = "PENDING_NEW"
    IN_DOUBT = "IN_DOUBT"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        """Return True when the order can no longer trade."""
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """Return True when the order rests (or may rest) at the venue."""
        return self in _OPEN


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
_OPEN = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL})


class Liquidity(enum.Enum):
    """Whether a fill added (maker) or removed (taker) liquidity."""

    MAKER = "MAKER"
    TAKER = "TAKER"


def _non_negative(_: object, attribute: attrs.Attribute, value: Decimal | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


@attrs.frozen
class Instrument:
    """A tradable symbol with the venue's exact trading rules."""

    venue: str
    symbol: str  # our canonical name, e.g. "BTC-USDT"
    venue_symbol: str  # the venue's spelling, e.g. "BTCUSDT"
    base: str
    quote: str
    tick_size: Decimal = attrs.field(validator=_non_negative)
    step_size: Decimal = attrs.field(validator=_non_negative)
    min_qty: Decimal = attrs.field(default=Decimal(0), validator=_non_negative)
    max_qty: Decimal | None = None
    min_notional: Decimal = attrs.field(default=Decimal(0), validator=_non_negative)
    max_notional: Decimal | None = None
    price_scale: int = 8  # decimals carried by fixed-point prices of this instrument
    qty_scale: int = 8
    status: str = "TRADING"
    # The rest of the venue's filters (checked by connectivity.core.filters); 0 / None = off.
    min_price: Decimal = attrs.field(default=Decimal(0), validator=_non_negative)
    max_price: Decimal | None = None
    market_step_size: Decimal = attrs.field(default=Decimal(0), validator=_non_negative)
    market_min_qty: Decimal = attrs.field(default=Decimal(0), validator=_non_negative)
    market_max_qty: Decimal | None = None
    min_notional_market: bool = True  # does the minimum notional apply to MARKET orders?
    max_notional_market: bool = True
    avg_price_mins: int | None = None  # MARKET notional uses the average price of these minutes
    max_num_orders: int | None = None  # open orders allowed on the symbol


@attrs.frozen
class BookLevel:
    """One price level of an order book."""

    price: Decimal
    quantity: Decimal


@attrs.frozen
class Trade:
    """A public trade print."""

    venue: str
    symbol: str
    trade_id: str
    price: Decimal
    quantity: Decimal
    aggressor: Side | None
    ts_event: int
    ts_recv: int


@attrs.frozen
class OrderRequest:
    """What the bot asks for; ``client_order_id`` is the key every source is merged under."""

    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal = attrs.field(validator=_non_negative)
    price: Decimal | None = attrs.field(default=None, validator=_non_negative)
    time_in_force: TimeInForce | None = None
    stop_price: Decimal | None = None
    quote_quantity: Decimal | None = None


@attrs.frozen
class Order:
    """Our merged view of one order."""

    venue: str
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal
    price: Decimal | None = None
    venue_order_id: str | None = None
    filled_quote: Decimal = Decimal(0)
    time_in_force: TimeInForce | None = None
    ts_update: int = 0  # venue time of the newest evidence merged in
    fees: tuple[tuple[str, Decimal], ...] = ()  # (asset, total fee) of the fills counted
    foreign: bool = False  # placed by someone else on the account (not our id prefix)

    @property
    def leaves_quantity(self) -> Decimal:
        """Return what is still working (0 once terminal)."""
        if self.status.is_terminal:
            return Decimal(0)
        return max(self.quantity - self.filled_quantity, Decimal(0))

    @property
    def average_price(self) -> Decimal | None:
        """Return the volume-weighted fill price, or None before any fill."""
        if not self.filled_quantity:
            return None
        return self.filled_quote / self.filled_quantity


@attrs.frozen
class OrderUpdate:
    """Venue evidence about an order, from any source (REST, user stream, FIX)."""

    venue: str
    symbol: str
    client_order_id: str
    status: OrderStatus
    filled_quantity: Decimal  # cumulative
    source: str  # "rest", "ws", "fix", "ws-api"
    ts_event: int
    ts_recv: int
    venue_order_id: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    filled_quote: Decimal | None = None
    side: Side | None = None
    order_type: OrderType | None = None
    reason: str | None = None
    sequence: int = 0  # the source's own ordering (FIX MsgSeqNum, stream event id); 0 if none


@attrs.frozen
class Fill:
    """One execution; counted once per ``(venue, symbol, trade_id)`` whatever the source.

    ``client_order_id`` is empty when the source names only the venue order id (REST trade
    lists); the state manager then finds the order through ``venue_order_id``.
    """

    venue: str
    symbol: str
    client_order_id: str
    trade_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str | None
    liquidity: Liquidity | None
    ts_event: int
    ts_recv: int
    venue_order_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """Return the de-duplication key."""
        return (self.venue, self.symbol, self.trade_id)


@attrs.frozen
class Balance:
    """Holdings of one asset: ``free`` is usable, ``locked`` is held by open orders."""

    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        """Return free plus locked."""
        return self.free + self.locked


@attrs.frozen
class BalanceUpdate:
    """Venue evidence about balances: an absolute snapshot or a signed delta."""

    venue: str
    asset: str
    ts_event: int
    ts_recv: int
    source: str
    free: Decimal | None = None  # absolute (snapshot / position event)
    locked: Decimal | None = None
    delta: Decimal | None = None  # signed change (deposit, withdrawal, transfer)
