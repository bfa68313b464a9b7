"""The simulated venue's matching engine: accounts, order entry and the true books.

:class:`MatchingEngine` is pure and deterministic: no clock (every call takes ``now_ns``), no
I/O, exact fixed-point ints. It holds one :class:`SymbolBook` per symbol (the TRUE book, which
the market generator also trades in through its ``house`` account, so the published depth and
trades always include accounts' resting orders), a :class:`Ledger` of balances, and an outbox
of :class:`ExecutionEvent` / :class:`BalanceEvent` values that :meth:`take_events` drains; a
venue dialect turns them into its user-data stream and the typed results into its responses.

Requests are checked in this order: account and symbol, shape (:func:`check_shape`), filters
(:func:`check_filters`), duplicate client order id among open orders, maximum open orders,
LIMIT_MAKER that would take, balance. A request that fails is answered with a reject (and a
REJECTED event); an accepted order reports NEW, then its TRADE events, then CANCELED or
EXPIRED if it ends that way. House (generator) orders skip checks, locks and events.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

from connectivity.core.models import OrderStatus, OrderType, Side, TimeInForce
from connectivity.sim.accounts import Account, FeeSchedule, Ledger
from connectivity.sim.filters import SymbolRules, check_filters, check_shape
from connectivity.sim.matching import Matcher
from connectivity.sim.orderbook import SymbolBook
from connectivity.sim.orders import (
    BalanceEvent,
    CancelResult,
    EngineEvent,
    ExecType,
    ExecutionEvent,
    ExpireReason,
    NewOrder,
    OrderResult,
    OrderSnapshot,
    RejectReason,
    ReplaceMode,
    ReplaceResult,
    SimOrder,
    TradeRecord,
)

__all__ = ["HOUSE", "MatchingEngine"]

HOUSE = "house"  # the market generator's account
NO_FEES = FeeSchedule()


class MatchingEngine:
    """Price-time priority matching over several symbols sharing one set of accounts."""

    def __init__(
        self, rules: Iterable[SymbolRules], *, scale: int = 8, first_update_id: int = 1000
    ) -> None:
        self.scale = scale
        self.rules = {r.symbol: r for r in rules}
        self.books = {s: SymbolBook(s, first_update_id) for s in self.rules}
        self.ledger = Ledger()
        self.ledger.open(HOUSE, house=True)
        self._matcher = Matcher(self.ledger, self.rules, scale, self._execution)
        self._orders: dict[tuple[str, int], SimOrder] = {}  # (symbol, order id), accounts only
        self._by_client_id: dict[tuple[str, str, str], SimOrder] = {}  # newest per id
        self._next_order_id = dict.fromkeys(self.rules, 1)
        self._events: list[EngineEvent] = []
        self._event_ids = itertools.count(1)
        self._client_ids = itertools.count(1)

    # -- accounts ------------------------------------------------------------------------------
    def open_account(
        self, name: str, balances: Mapping[str, int] = {}, *, fees: FeeSchedule = NO_FEES
    ) -> Account:
        """Create a trading account with free ``balances``."""
        return self.ledger.open(name, balances, fees=fees)

    def deposit(self, account: str, asset: str, amount: int, now_ns: int) -> None:
        """Add (negative: withdraw) free funds from outside the venue; reported as a delta."""
        holder = self.ledger.accounts[account]
        self.ledger.deposit(holder, asset, amount)
        self._balance_events(now_ns, delta=(account, asset, amount))

    def balances(self, account: str) -> dict[str, tuple[int, int]]:
        """Return ``{asset: (free, locked)}`` of an account."""
        holder = self.ledger.accounts[account]
        assets = sorted(holder.free.keys() | holder.locked.keys())
        return {a: (holder.free.get(a, 0), holder.locked.get(a, 0)) for a in assets}

    def take_events(self) -> list[EngineEvent]:
        """Return the events produced since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    # -- order entry ---------------------------------------------------------------------------
    def place(self, account: str, request: NewOrder, now_ns: int) -> OrderResult:
        """Check, lock funds for and match a new order; return its state and fills or a reject."""
        order = self._order_of(account, request, now_ns)
        reason = self._admit(account, request, order.client_order_id)
        if reason is not None:
            return self._reject(order, reason, now_ns)
        book = self.books[request.symbol]
        if request.order_type is OrderType.LIMIT_MAKER and self._would_take(book, request):
            return self._reject(order, RejectReason.WOULD_TAKE, now_ns)
        plan = self._matcher.plan(book, order)
        if order.quote_quantity is not None:
            order.quantity = plan.qty  # what the quote amount buys or sells now
        asset, amount = self._matcher.lock_amount(order, plan)
        if not self.ledger.lock(self.ledger.accounts[account], asset, amount):
            return self._reject(order, RejectReason.INSUFFICIENT_BALANCE, now_ns)
        self._accept(order, amount)
        if order.time_in_force is TimeInForce.FOK and plan.qty < order.quantity:
            self._matcher.end(book, order, OrderStatus.EXPIRED, now_ns, ExpireReason.FOK_UNFILLED)
            fills: list[TradeRecord] = []
        else:
            fills = self._matcher.execute(book, order, plan, now_ns)
        self._balance_events(now_ns)
        return OrderResult(order.snapshot(), tuple(fills))

    def cancel(
        self,
        account: str,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str | None = None,
        cancel_client_order_id: str | None = None,
        now_ns: int,
    ) -> CancelResult:
        """Cancel an open order named by venue id or client id (both must then agree)."""
        order, reason = self._find(account, symbol, order_id, client_order_id)
        if order is None or not order.status.is_open:
            snapshot = order.snapshot() if order is not None else None
            return CancelResult(snapshot, reason or RejectReason.UNKNOWN_ORDER)
        self._matcher.end(
            self.books[symbol],
            order,
            OrderStatus.CANCELED,
            now_ns,
            cancel_id=cancel_client_order_id,
        )
        self._balance_events(now_ns)
        return CancelResult(order.snapshot())

    def cancel_replace(
        self,
        account: str,
        request: NewOrder,
        *,
        mode: ReplaceMode = ReplaceMode.STOP_ON_FAILURE,
        order_id: int | None = None,
        client_order_id: str | None = None,
        cancel_client_order_id: str | None = None,
        now_ns: int,
    ) -> ReplaceResult:
        """Cancel an order of ``request.symbol``, then place ``request`` (as ``mode`` allows)."""
        cancel = self.cancel(
            account,
            request.symbol,
            order_id=order_id,
            client_order_id=client_order_id,
            cancel_client_order_id=cancel_client_order_id,
            now_ns=now_ns,
        )
        if not cancel.ok and mode is ReplaceMode.STOP_ON_FAILURE:
            return ReplaceResult(mode, cancel, None)
        return ReplaceResult(mode, cancel, self.place(account, request, now_ns))

    def cancel_all(self, account: str, symbol: str, now_ns: int) -> list[CancelResult]:
        """Cancel every open order of ``account`` on ``symbol`` (oldest first)."""
        return [
            self.cancel(account, symbol, order_id=o.order_id, now_ns=now_ns)
            for o in self.open_orders(account, symbol)
        ]

    def amend(
        self,
        account: str,
        symbol: str,
        quantity: int,
        *,
        order_id: int | None = None,
        client_order_id: str | None = None,
        now_ns: int,
    ) -> CancelResult:
        """Reduce an open order's total quantity in place, keeping its priority (REPLACED)."""
        order, reason = self._find(account, symbol, order_id, client_order_id)
        if order is None or not order.status.is_open:
            snapshot = order.snapshot() if order is not None else None
            return CancelResult(snapshot, reason or RejectReason.UNKNOWN_ORDER)
        if quantity % self.rules[symbol].step_size:
            return CancelResult(order.snapshot(), RejectReason.QTY_NOT_ON_STEP)
        if not order.executed < quantity < order.quantity:
            return CancelResult(order.snapshot(), RejectReason.INVALID_ORDER)
        self.books[symbol].resize(order, quantity - order.executed)
        asset, needed = self._matcher.hold(order, order.remaining)
        # What the smaller order needs never exceeds what is still held (both round the same way).
        self.ledger.release(self.ledger.accounts[account], asset, order.locked - needed)
        order.locked = needed
        order.updated_ns = now_ns
        self._execution(order, ExecType.REPLACED, now_ns, None, None, None)
        self._balance_events(now_ns)
        return CancelResult(order.snapshot())

    # -- queries -------------------------------------------------------------------------------
    def query(
        self,
        account: str,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> OrderSnapshot | None:
        """Return an order of ``account`` (open or not), or None."""
        order, _ = self._find(account, symbol, order_id, client_order_id)
        return order.snapshot() if order is not None else None

    def open_orders(self, account: str, symbol: str | None = None) -> list[OrderSnapshot]:
        """Return the open orders of ``account`` (on one symbol, or all), oldest first."""
        return [
            o.snapshot()
            for (sym, _), o in self._orders.items()
            if o.account == account and o.status.is_open and symbol in (None, sym)
        ]

    def trades(self, account: str, symbol: str) -> list[TradeRecord]:
        """Return the fills of ``account`` on ``symbol``, oldest first."""
        return list(self._matcher.trades.get((account, symbol), ()))

    # -- the market generator's liquidity (house account) ----------------------------------------
    def house_set(self, symbol: str, side: Side, price: int, qty: int, now_ns: int) -> None:
        """Set the house's resting quantity at ``price`` (0 removes it); a new one may trade."""
        book = self.books[symbol]
        existing = book.side_of(side).house.get(price)
        if existing is not None:
            if qty:
                book.resize(existing, qty)
            else:
                book.remove(existing)
            return
        if not qty:
            return
        order = self._house_order(symbol, side, OrderType.LIMIT, price, qty, TimeInForce.GTC)
        best = book.side_of(side.opposite).best()
        if best is None or (price < best if side is Side.BUY else price > best):
            book.add(order)  # the usual case: nothing to take, no funds move
            return
        self._matcher.execute(book, order, self._matcher.plan(book, order), now_ns)
        self._balance_events(now_ns)

    def house_take(self, symbol: str, side: Side, qty: int, limit: int | None, now_ns: int) -> None:
        """Let the house take up to ``qty`` on the other side, at ``limit`` or better (IOC)."""
        book = self.books[symbol]
        kind = OrderType.MARKET if limit is None else OrderType.LIMIT
        tif = None if limit is None else TimeInForce.IOC
        order = self._house_order(symbol, side, kind, limit, qty, tif)
        self._matcher.execute(book, order, self._matcher.plan(book, order), now_ns)
        self._balance_events(now_ns)

    # -- internals -----------------------------------------------------------------------------
    def _house_order(
        self,
        symbol: str,
        side: Side,
        kind: OrderType,
        price: int | None,
        qty: int,
        tif: TimeInForce | None,
    ) -> SimOrder:
        order_id = self._next_order_id[symbol]
        self._next_order_id[symbol] = order_id + 1
        return SimOrder(order_id, HOUSE, symbol, "", side, kind, tif, price, qty, house=True)

    def _order_of(self, account: str, request: NewOrder, now_ns: int) -> SimOrder:
        client_id = request.client_order_id
        if client_id is None:
            client_id = f"sim-{next(self._client_ids)}"
            while (account, request.symbol, client_id) in self._by_client_id:  # caller's own
                client_id = f"sim-{next(self._client_ids)}"
        return SimOrder(
            0,
            account,
            request.symbol,
            client_id,
            request.side,
            request.order_type,
            request.time_in_force,
            request.price,
            request.quantity or 0,
            request.quote_quantity,
            stp=request.stp,
            created_ns=now_ns,
            updated_ns=now_ns,
        )

    def _admit(self, account: str, request: NewOrder, client_id: str) -> RejectReason | None:
        holder = self.ledger.accounts.get(account)
        if holder is None or holder.house:
            return RejectReason.UNKNOWN_ACCOUNT
        rules = self.rules.get(request.symbol)
        if rules is None:
            return RejectReason.UNKNOWN_SYMBOL
        book = self.books[request.symbol]
        reason = check_shape(request) or check_filters(
            rules, request, book.reference_price(), self.scale
        )
        if reason is not None:
            return reason
        previous = self._by_client_id.get((account, request.symbol, client_id))
        if previous is not None and previous.status.is_open:
            return RejectReason.DUPLICATE_CLIENT_ORDER_ID
        open_now = self._matcher.open_count.get((account, request.symbol), 0)
        if rules.max_num_orders and open_now + 1 > rules.max_num_orders:
            return RejectReason.TOO_MANY_ORDERS
        return None

    @staticmethod
    def _would_take(book: SymbolBook, request: NewOrder) -> bool:
        best = book.side_of(request.side.opposite).best()
        if best is None or request.price is None:
            return False
        return request.price >= best if request.side is Side.BUY else request.price <= best

    def _accept(self, order: SimOrder, locked: int) -> None:
        order.order_id = self._next_order_id[order.symbol]
        self._next_order_id[order.symbol] = order.order_id + 1
        order.locked = locked
        self._orders[(order.symbol, order.order_id)] = order
        self._by_client_id[(order.account, order.symbol, order.client_order_id)] = order
        self._execution(order, ExecType.NEW, order.created_ns, None, None, None)

    def _reject(self, order: SimOrder, reason: RejectReason, now_ns: int) -> OrderResult:
        order.status = OrderStatus.REJECTED
        snapshot = order.snapshot()
        self._events.append(
            ExecutionEvent(
                next(self._event_ids),
                order.account,
                ExecType.REJECTED,
                snapshot,
                now_ns,
                reject=reason,
            )
        )
        return OrderResult(snapshot, reject=reason)

    def _find(
        self, account: str, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> tuple[SimOrder | None, RejectReason | None]:
        if account not in self.ledger.accounts:
            return None, RejectReason.UNKNOWN_ACCOUNT
        if symbol not in self.rules:
            return None, RejectReason.UNKNOWN_SYMBOL
        by_id = self._orders.get((symbol, order_id)) if order_id is not None else None
        by_client = None
        if client_order_id is not None:
            by_client = self._by_client_id.get((account, symbol, client_order_id))
        if order_id is None and client_order_id is None:
            return None, RejectReason.INVALID_ORDER
        if order_id is not None and client_order_id is not None and by_id is not by_client:
            return None, RejectReason.UNKNOWN_ORDER
        found = by_id if order_id is not None else by_client
        if found is None or found.account != account:
            return None, RejectReason.UNKNOWN_ORDER
        return found, None

    def _execution(
        self,
        order: SimOrder,
        kind: ExecType,
        now_ns: int,
        trade: TradeRecord | None,
        expire: ExpireReason | None,
        cancel_id: str | None,
    ) -> None:
        if order.house:
            return
        self._events.append(
            ExecutionEvent(
                next(self._event_ids),
                order.account,
                kind,
                order.snapshot(),
                now_ns,
                trade=trade,
                expire=expire,
                cancel_client_order_id=cancel_id,
            )
        )

    def _balance_events(self, now_ns: int, delta: tuple[str, str, int] | None = None) -> None:
        for holder in self.ledger.accounts.values():
            if not holder.changed:
                continue
            changed, holder.changed = sorted(holder.changed), set()
            if holder.house:
                continue
            rows = tuple((a, holder.free.get(a, 0), holder.locked.get(a, 0)) for a in changed)
            moved = (delta[1], delta[2]) if delta and delta[0] == holder.name else None
            self._events.append(
                BalanceEvent(next(self._event_ids), holder.name, now_ns, rows, moved)
            )
