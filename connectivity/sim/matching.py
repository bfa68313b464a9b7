"""Matching inside one symbol book: plan a taker's fills, execute them, settle the funds.

:class:`Matcher` is the half of the engine that moves quantities and money; the request
checks, lookups and the public API live in :mod:`connectivity.sim.engine`. A taker is first
*planned* (which resting orders it would hit, in price-time priority, and what it would cost)
without changing anything, so a FOK is checked, and a MARKET order's funds are locked, before
any fill; then the plan is executed fill by fill. Self-trade prevention applies the taker's
mode when a resting order of the same account comes next in the queue.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from connectivity.core.clock import NS_PER_MS
from connectivity.core.models import OrderStatus, OrderType, Side, TimeInForce
from connectivity.sim.accounts import FeeAsset, Ledger
from connectivity.sim.filters import SymbolRules
from connectivity.sim.orderbook import SymbolBook
from connectivity.sim.orders import (
    ExecType,
    ExpireReason,
    SimOrder,
    StpMode,
    TradeRecord,
)

__all__ = ["Matcher", "Plan"]


# Emits an execution event: (order, exec type, time, trade, expire reason, cancel's own id).
Emit = Callable[
    [SimOrder, ExecType, int, TradeRecord | None, ExpireReason | None, str | None], None
]


@attrs.define
class Plan:
    """What a taker would do against the book now (nothing changed yet)."""

    fills: list[tuple[SimOrder, int]] = attrs.Factory(list)  # (resting order, quantity)
    qty: int = 0
    cost: int = 0  # quote amount of the fills, each rounded down
    prevented: list[SimOrder] = attrs.Factory(list)  # resting orders STP expires
    stop_taker: bool = False  # STP expires the taker at this point
    ran_out: bool = False  # the crossable liquidity ended before the taker was done


class Matcher:
    """Plans and executes takers against the books, moving funds through the ledger."""

    def __init__(
        self, ledger: Ledger, rules: dict[str, SymbolRules], scale: int, emit: Emit
    ) -> None:
        self.ledger = ledger
        self.rules = rules
        self.unit = 10**scale
        self._emit = emit
        self.trades: dict[tuple[str, str], list[TradeRecord]] = {}  # (account, symbol)
        self.open_count: dict[tuple[str, str], int] = {}

    # -- planning ------------------------------------------------------------------------------
    def plan(self, book: SymbolBook, order: SimOrder) -> Plan:
        """Walk the opposite side in price-time priority; return the fills ``order`` would get."""
        plan = Plan()
        opposite = book.side_of(order.side.opposite)
        budget = order.quote_quantity if order.order_type is OrderType.MARKET else None
        step = self.rules[order.symbol].step_size
        stp = StpMode.NONE if order.house else order.stp
        last_price = 0
        for price in opposite.crossed_by(order.price):
            for maker in opposite.queues[price].values():
                if stp is not StpMode.NONE and maker.account == order.account:
                    if stp is not StpMode.EXPIRE_TAKER:
                        plan.prevented.append(maker)
                    if stp is not StpMode.EXPIRE_MAKER:
                        plan.stop_taker = True
                        return plan
                    continue
                room = maker.remaining
                if budget is None:
                    room = min(room, order.quantity - plan.qty)
                else:
                    affordable = (budget - plan.cost) * self.unit // price
                    room = min(room, affordable - affordable % step)
                if room <= 0:
                    return plan
                plan.fills.append((maker, room))
                plan.qty += room
                plan.cost += price * room // self.unit
                last_price = price
        if budget is None:
            plan.ran_out = plan.qty < order.quantity
        else:  # what is left of the budget would still buy a step at the last price
            plan.ran_out = not last_price or (budget - plan.cost) * self.unit // last_price >= step
        return plan

    def lock_amount(self, order: SimOrder, plan: Plan) -> tuple[str, int]:
        """Return the asset and amount a new order holds while it works."""
        if order.side is Side.BUY and order.price is None:  # a MARKET buy: what the plan costs
            return self.rules[order.symbol].quote, plan.cost + self._quote_fee(order, plan.cost)
        return self.hold(order, order.quantity)

    def hold(self, order: SimOrder, qty: int) -> tuple[str, int]:
        """Return the asset and amount ``qty`` of a priced (or sell) order must hold."""
        rules = self.rules[order.symbol]
        if order.side is Side.SELL:
            return rules.base, qty
        assert order.price is not None
        notional = -(-order.price * qty // self.unit)  # rounded up: never short of funds
        return rules.quote, notional + self._quote_fee(order, notional)

    def _quote_fee(self, order: SimOrder, notional: int) -> int:
        fees = self.ledger.accounts[order.account].fees
        return fees.max_fee(notional) if fees.asset is FeeAsset.QUOTE else 0

    # -- execution -----------------------------------------------------------------------------
    def execute(
        self, book: SymbolBook, order: SimOrder, plan: Plan, now_ns: int
    ) -> list[TradeRecord]:
        """Fill ``order`` as planned, then rest, fill or expire it; return its fills."""
        for maker in plan.prevented:
            self.end(book, maker, OrderStatus.EXPIRED, now_ns, ExpireReason.SELF_TRADE)
        fills: list[TradeRecord] = []
        quote_market = order.quote_quantity is not None
        for maker, qty in plan.fills:
            price = maker.price
            assert price is not None
            book.fill(maker, qty)
            order.executed += qty
            quote = price * qty // self.unit
            trade_id = book.print_trade(price, qty, maker.side is Side.BUY, now_ns // NS_PER_MS)
            maker_fill = self._settle(maker, price, qty, quote, trade_id, True, now_ns)
            fills.append(self._settle(order, price, qty, quote, trade_id, False, now_ns))
            if maker.remaining == 0:
                maker.status = OrderStatus.FILLED
                self._count(maker, -1)
                self._close(maker)
            else:
                maker.status = OrderStatus.PARTIALLY_FILLED
            self._emit(maker, ExecType.TRADE, now_ns, maker_fill, None, None)
            done = order.remaining == 0 and not (quote_market and plan.ran_out)
            order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
            self._emit(order, ExecType.TRADE, now_ns, fills[-1], None, None)
        self._finish(book, order, plan, now_ns)
        return fills

    def _finish(self, book: SymbolBook, order: SimOrder, plan: Plan, now_ns: int) -> None:
        if order.status is OrderStatus.FILLED:  # the last TRADE event reported it
            self._close(order)
            return
        rests = order.order_type is not OrderType.MARKET and (
            order.time_in_force in (None, TimeInForce.GTC)
        )
        if rests and not plan.stop_taker and order.remaining > 0:
            book.add(order)
            self._count(order, +1)
            return
        if plan.stop_taker:
            reason = ExpireReason.SELF_TRADE
        elif order.order_type is OrderType.MARKET:
            reason = ExpireReason.NO_LIQUIDITY
        else:
            reason = ExpireReason.IOC_UNFILLED
        self.end(book, order, OrderStatus.EXPIRED, now_ns, reason)

    def end(
        self,
        book: SymbolBook,
        order: SimOrder,
        status: OrderStatus,
        now_ns: int,
        expire: ExpireReason | None = None,
        cancel_id: str | None = None,
    ) -> None:
        """Take an order out (resting or not) with a final status, release its funds, report."""
        if order.status.is_open and order.price is not None and self._resting(book, order):
            book.remove(order)
            self._count(order, -1)
        order.status = status
        order.updated_ns = now_ns
        self._close(order)
        kind = ExecType.CANCELED if status is OrderStatus.CANCELED else ExecType.EXPIRED
        self._emit(order, kind, now_ns, None, expire, cancel_id)

    @staticmethod
    def _resting(book: SymbolBook, order: SimOrder) -> bool:
        assert order.price is not None
        queue = book.side_of(order.side).queues.get(order.price)
        return queue is not None and order.order_id in queue

    def _count(self, order: SimOrder, delta: int) -> None:
        if not order.house:
            key = (order.account, order.symbol)
            self.open_count[key] = self.open_count.get(key, 0) + delta

    def _close(self, order: SimOrder) -> None:
        """Release what an order that can no longer trade still holds."""
        if order.locked and not order.house:
            rules = self.rules[order.symbol]
            asset = rules.base if order.side is Side.SELL else rules.quote
            self.ledger.release(self.ledger.accounts[order.account], asset, order.locked)
        order.locked = 0

    def _settle(
        self,
        order: SimOrder,
        price: int,
        qty: int,
        quote: int,
        trade_id: int,
        is_maker: bool,
        now_ns: int,
    ) -> TradeRecord:
        """Move the funds of one side of a fill; return that side's trade record."""
        rules = self.rules[order.symbol]
        account = self.ledger.accounts[order.account]
        fees, ledger = account.fees, self.ledger
        if order.side is Side.BUY:
            ledger.pay(account, rules.quote, quote)
            if fees.asset is FeeAsset.QUOTE:
                fee, fee_asset = fees.fee(quote, is_maker), rules.quote
                ledger.charge(account, rules.quote, fee)
                ledger.receive(account, rules.base, qty, 0)
                order.locked -= quote + fee
            else:
                fee, fee_asset = fees.fee(qty, is_maker), rules.base
                ledger.receive(account, rules.base, qty, fee)
                order.locked -= quote
        else:
            fee, fee_asset = fees.fee(quote, is_maker), rules.quote
            ledger.pay(account, rules.base, qty)
            ledger.receive(account, rules.quote, quote, fee)
            order.locked -= qty
        order.cum_quote += quote
        order.updated_ns = now_ns
        record = TradeRecord(
            order.symbol,
            trade_id,
            order.order_id,
            order.client_order_id,
            order.account,
            order.side,
            price,
            qty,
            quote,
            fee,
            fee_asset,
            is_maker,
            now_ns,
        )
        if not order.house:
            self.trades.setdefault((order.account, order.symbol), []).append(record)
        return record
