"""Pure parsers for Binance user-data events: event dict (+ receive time) in, state values out.

Shapes are ``specs/binance.md`` 4.3 (the ``event`` object of a WS-API
``{"subscriptionId", "event"}`` frame). :func:`parse_user_event` returns what the state
manager merges (:class:`OrderUpdate`, :class:`Fill`, :class:`BalanceUpdate`) plus two typed
control values: :class:`BinanceListStatus` (order-list status: parsed, NOT merged yet, the
state manager has no order lists) and :class:`~connectivity.connector.user_stream.StreamTerminated`.

Times: an order's ``ts_event`` is the transaction time ``T`` (the engine's time of the change,
what REST reports as the order's update time); a position's is ``u`` (last account update) and
a delta's the clear time ``T``, so a position that already includes a delta is never older
than it (the balance merge rule keys on that). Amounts are exact ``Decimal`` from the venue's
strings. Every malformed event raises :class:`ParseError`, every unknown enum value
:class:`UnknownEnumValue`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from connectivity.connector.user_stream import StreamTerminated, UserItem
from connectivity.core.decimal import parse_decimal
from connectivity.core.models import (
    BalanceUpdate,
    Fill,
    Liquidity,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
)
from connectivity.errors import ParseError, UnknownEnumValue
from exchanges.binance.constants import SERVER_SHUTDOWN_EVENT, VENUE

__all__ = [
    "EXECUTION_TYPES",
    "ORDER_STATUSES",
    "BinanceListStatus",
    "parse_balance_update",
    "parse_execution_report",
    "parse_list_status",
    "parse_outbound_account_position",
    "parse_user_event",
]

SOURCE = "ws-api"
_MS = 1_000_000

# Binance order status ``X`` -> ours. EXPIRED_IN_MATCH (self-trade prevention) is an expiry.
ORDER_STATUSES = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
# Execution types ``x``; only TRADE carries a fill.
EXECUTION_TYPES = frozenset(
    {"NEW", "CANCELED", "REPLACED", "REJECTED", "TRADE", "EXPIRED", "TRADE_PREVENTION"}
)
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_ORDER_TYPES = {t.value: t for t in OrderType}
# Documented events that carry nothing the spot state tracks (margin locks).
_IGNORED_EVENTS = frozenset({SERVER_SHUTDOWN_EVENT, "externalLockUpdate"})


class BinanceListStatus(NamedTuple):
    """An order list's (OCO, OTO) status; parsed for the caller, not merged into state."""

    symbol: str
    list_id: int  # ``g``
    contingency: str  # ``c``: OCO, OTO, ...
    status_type: str  # ``l``: RESPONSE, EXEC_STARTED, ALL_DONE, ...
    order_status: str  # ``L``: EXECUTING, ALL_DONE, REJECT
    reject_reason: str | None  # ``r``, None for "NONE"
    list_client_id: str  # ``C``
    orders: tuple[tuple[str, str, str], ...]  # (symbol, venue order id, client order id)
    ts_event: int  # transaction time ``T``
    ts_recv: int


def _bad(what: str, payload: Any, cause: BaseException | None = None) -> ParseError:
    detail = f"{what}: {cause!r}" if cause is not None else what
    return ParseError(f"malformed Binance user event, {detail}", venue=VENUE, payload=payload)


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _bad(f"{key!r} is not a string", data)
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if type(value) is not int:  # bool is an int subclass; an id or a time is never a bool
        raise _bad(f"{key!r} is not an integer", data)
    return value


def _dec(data: dict[str, Any], key: str, *, signed: bool = False) -> Decimal:
    text = _str(data, key)
    try:
        value = parse_decimal(text)
    except ValueError as exc:
        raise _bad(f"{key!r} is not a decimal", data, exc) from exc
    if value < 0 and not signed:
        raise _bad(f"{key!r} is negative", data)
    return value


def _enum(table: dict[str, Any], data: dict[str, Any], key: str) -> Any:
    value = _str(data, key)
    try:
        return table[value]
    except KeyError:
        raise UnknownEnumValue(
            f"unknown Binance {key!r} value {value!r}", venue=VENUE, payload=data
        ) from None


def parse_execution_report(
    data: dict[str, Any], ts_recv: int, to_symbol: Callable[[str], str]
) -> tuple[OrderUpdate] | tuple[OrderUpdate, Fill]:
    """Parse an ``executionReport`` into its order update, plus the fill when ``x`` is TRADE.

    The order is named by ``C`` (the original client order id) when it is set: on a cancel,
    ``c`` is the cancel request's own id, not the order's.
    """
    kind = _str(data, "x")
    if kind not in EXECUTION_TYPES:
        message = f"unknown Binance execution type {kind!r}"
        raise UnknownEnumValue(message, venue=VENUE, payload=data)
    status: OrderStatus = _enum(ORDER_STATUSES, data, "X")
    side: Side = _enum(_SIDES, data, "S")
    order_type: OrderType = _enum(_ORDER_TYPES, data, "o")
    original = data.get("C")
    if original is not None and not isinstance(original, str):
        raise _bad("'C' is not a string", data)
    cid = original or _str(data, "c")
    symbol = to_symbol(_str(data, "s"))
    vid = str(_int(data, "i"))
    ts_event = _int(data, "T") * _MS
    _int(data, "E")  # required by the shape; T orders the evidence
    quantity, price = _dec(data, "q"), _dec(data, "p")
    reject = _str(data, "r")
    expiry = data.get("eR")
    reason = reject if reject != "NONE" else expiry if isinstance(expiry, str) else None
    sequence = data.get("I")
    update = OrderUpdate(
        VENUE, symbol, cid, status, _dec(data, "z"), SOURCE, ts_event, ts_recv,
        venue_order_id=vid,
        quantity=quantity if quantity else None,  # 0 on a MARKET order sized by quote
        price=price if price else None,  # 0 on a MARKET order
        filled_quote=_dec(data, "Z"),
        side=side,
        order_type=order_type,
        reason=reason,
        sequence=sequence if type(sequence) is int else 0,
    )  # fmt: skip
    if kind != "TRADE":
        return (update,)
    return update, _fill(data, symbol, cid, vid, side, ts_event, ts_recv)


def _fill(
    data: dict[str, Any], symbol: str, cid: str, vid: str, side: Side, ts_event: int, ts_recv: int
) -> Fill:
    trade_id = _int(data, "t")
    if trade_id < 0:
        raise _bad("a TRADE execution without a trade id", data)
    maker = data.get("m")
    if not isinstance(maker, bool):
        raise _bad("'m' is not a boolean", data)
    fee_asset = data.get("N")
    if fee_asset is not None and not isinstance(fee_asset, str):
        raise _bad("'N' is not a string", data)
    return Fill(
        VENUE, symbol, cid, str(trade_id), side, _dec(data, "L"), _dec(data, "l"),
        _dec(data, "n"), fee_asset, Liquidity.MAKER if maker else Liquidity.TAKER,
        ts_event, ts_recv, venue_order_id=vid,
    )  # fmt: skip


def parse_outbound_account_position(
    data: dict[str, Any], ts_recv: int
) -> tuple[BalanceUpdate, ...]:
    """Parse an ``outboundAccountPosition`` into absolute balances as of ``u``."""
    ts_event = _int(data, "u") * _MS
    entries = data.get("B")
    if not isinstance(entries, list):
        raise _bad("'B' is not a list", data)
    if not all(isinstance(entry, dict) for entry in entries):
        raise _bad("a 'B' entry is not an object", data)
    return tuple(
        BalanceUpdate(
            VENUE, _str(e, "a"), ts_event, ts_recv, SOURCE, free=_dec(e, "f"), locked=_dec(e, "l")
        )
        for e in entries
    )


def parse_balance_update(data: dict[str, Any], ts_recv: int) -> BalanceUpdate:
    """Parse a ``balanceUpdate`` (deposit, withdrawal, transfer) into a delta at clear time ``T``.

    Binance gives the delta no id: it is identified by (asset, clear time, amount), so two
    equal deltas of one asset cleared in the same millisecond count once.
    """
    _int(data, "E")
    return BalanceUpdate(
        VENUE, _str(data, "a"), _int(data, "T") * _MS, ts_recv, SOURCE,
        delta=_dec(data, "d", signed=True),
    )  # fmt: skip


def parse_list_status(data: dict[str, Any], ts_recv: int) -> BinanceListStatus:
    """Parse a ``listStatus`` event (order lists are reported, not merged into state)."""
    orders = data.get("O")
    if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
        raise _bad("'O' is not a list of objects", data)
    reject = _str(data, "r")
    return BinanceListStatus(
        _str(data, "s"), _int(data, "g"), _str(data, "c"), _str(data, "l"), _str(data, "L"),
        None if reject == "NONE" else reject, _str(data, "C"),
        tuple((_str(o, "s"), str(_int(o, "i")), _str(o, "c")) for o in orders),
        _int(data, "T") * _MS, ts_recv,
    )  # fmt: skip


def parse_user_event(
    data: Any, ts_recv: int, to_symbol: Callable[[str], str]
) -> tuple[UserItem, ...]:
    """Parse one user-data event object into the values it carries (empty when ignored)."""
    if not isinstance(data, dict):
        raise _bad("event is not an object", data)
    kind = data.get("e")
    if kind == "executionReport":
        return parse_execution_report(data, ts_recv, to_symbol)
    if kind == "outboundAccountPosition":
        return parse_outbound_account_position(data, ts_recv)
    if kind == "balanceUpdate":
        return (parse_balance_update(data, ts_recv),)
    if kind == "listStatus":
        return (parse_list_status(data, ts_recv),)
    if kind == "eventStreamTerminated":
        return (StreamTerminated(_int(data, "E") * _MS, ts_recv),)
    if kind in _IGNORED_EVENTS:
        return ()
    raise UnknownEnumValue(f"unknown Binance user event {kind!r}", venue=VENUE, payload=data)
