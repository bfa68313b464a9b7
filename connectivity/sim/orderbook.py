"""The true order book of one simulated symbol: orders in price-time priority.

Each side maps a price to its FIFO queue of resting orders (a dict keeps insertion order and
removes in O(1)) and keeps the aggregate quantity per price, which is the public L2 book. Every
change to a level consumes one update id and is remembered until :meth:`SymbolBook.take_diff`
turns the changes since the last diff into one :class:`DepthDiff` (first id ``U``, final id
``u``, final aggregate quantity per touched level; 0 deletes). Applying the diffs in order to
a snapshot therefore reproduces the book exactly, whoever changed it: the market generator's
house liquidity or an account's order. Trades are printed here too, with ids monotone per
symbol.
"""

from __future__ import annotations

import attrs

from connectivity.core.models import Side
from connectivity.sim.orders import SimOrder

__all__ = ["BookSide", "DepthDiff", "SimTrade", "SymbolBook"]


@attrs.frozen
class DepthDiff:
    """One depth event: update ids ``first_id..last_id`` and the levels they left behind."""

    symbol: str
    first_id: int  # U
    last_id: int  # u
    event_time_ms: int
    bids: tuple[tuple[int, int], ...]  # (price, qty) fixed-point; qty 0 deletes
    asks: tuple[tuple[int, int], ...]


@attrs.frozen
class SimTrade:
    """One public trade print."""

    symbol: str
    trade_id: int
    price: int
    qty: int
    buyer_is_maker: bool
    time_ms: int


class BookSide:
    """One side of the book: FIFO queues per price, aggregate quantities, house orders."""

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.queues: dict[int, dict[int, SimOrder]] = {}  # price -> order id -> order, FIFO
        self.totals: dict[int, int] = {}  # price -> aggregate remaining quantity (public L2)
        self.house: dict[int, SimOrder] = {}  # price -> the generator's order at that price

    def best(self) -> int | None:
        """Return the best price, or None when the side is empty."""
        if not self.totals:
            return None
        return max(self.totals) if self.is_bid else min(self.totals)

    def crossed_by(self, limit: int | None) -> list[int]:
        """Return the prices a taker with ``limit`` (None: any price) may take, best first."""
        if limit is None:
            prices = list(self.totals)
        elif self.is_bid:
            prices = [p for p in self.totals if p >= limit]
        else:
            prices = [p for p in self.totals if p <= limit]
        prices.sort(reverse=self.is_bid)
        return prices


class SymbolBook:
    """Both sides of one symbol, its update and trade ids, and the changes not yet published."""

    def __init__(self, symbol: str, first_update_id: int = 1000) -> None:
        self.symbol = symbol
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.update_id = first_update_id
        self.trade_id = 0
        self.last_price: int | None = None
        self._bid_changes: dict[int, int] = {}
        self._ask_changes: dict[int, int] = {}
        self._trades: list[SimTrade] = []
        self._first_pending = first_update_id + 1

    def restart(self, update_id: int) -> None:
        """Take the book as it is as the state at ``update_id``: no changes, no trades pending."""
        self.update_id = update_id
        self.take_diff(0)
        self._trades.clear()

    def side_of(self, side: Side) -> BookSide:
        """Return the side orders of ``side`` rest on."""
        return self.bids if side is Side.BUY else self.asks

    def reference_price(self) -> int | None:
        """Return the last trade price, else the mid, else None (values MARKET orders)."""
        if self.last_price is not None:
            return self.last_price
        bid, ask = self.bids.best(), self.asks.best()
        return (bid + ask) // 2 if bid is not None and ask is not None else None

    # -- changes (each consumes one update id) ---------------------------------------------------
    def add(self, order: SimOrder) -> None:
        """Queue ``order`` at the back of its price level."""
        assert order.price is not None
        side = self.side_of(order.side)
        side.queues.setdefault(order.price, {})[order.order_id] = order
        side.totals[order.price] = side.totals.get(order.price, 0) + order.remaining
        if order.house:
            side.house[order.price] = order
        self._mark(side, order.price)

    def remove(self, order: SimOrder) -> None:
        """Take ``order`` (with whatever remains of it) out of the book."""
        assert order.price is not None
        side = self.side_of(order.side)
        queue = side.queues[order.price]
        del queue[order.order_id]
        if queue:
            side.totals[order.price] -= order.remaining
        else:
            del side.queues[order.price]
            del side.totals[order.price]
        if order.house:
            del side.house[order.price]
        self._mark(side, order.price)

    def resize(self, order: SimOrder, remaining: int) -> None:
        """Set what remains of a resting order; a larger size goes to the back of the queue."""
        assert order.price is not None and remaining > 0
        side = self.side_of(order.side)
        side.totals[order.price] += remaining - order.remaining
        if remaining > order.remaining:  # more size loses time priority, as on a real venue
            queue = side.queues[order.price]
            del queue[order.order_id]
            queue[order.order_id] = order
        order.quantity = order.executed + remaining
        self._mark(side, order.price)

    def fill(self, order: SimOrder, qty: int) -> None:
        """Execute ``qty`` of a resting order; it leaves the book when nothing remains."""
        assert order.price is not None
        if qty == order.remaining:
            self.remove(order)
            order.executed += qty
            return
        side = self.side_of(order.side)
        order.executed += qty
        side.totals[order.price] -= qty
        self._mark(side, order.price)

    def print_trade(self, price: int, qty: int, buyer_is_maker: bool, time_ms: int) -> int:
        """Record a public trade; return its trade id."""
        self.trade_id += 1
        self.last_price = price
        self._trades.append(
            SimTrade(self.symbol, self.trade_id, price, qty, buyer_is_maker, time_ms)
        )
        return self.trade_id

    def _mark(self, side: BookSide, price: int) -> None:
        self.update_id += 1
        changes = self._bid_changes if side.is_bid else self._ask_changes
        changes[price] = side.totals.get(price, 0)

    # -- publishing ------------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """Return True when changes happened since the last diff."""
        return self.update_id >= self._first_pending

    def take_diff(self, now_ms: int) -> DepthDiff:
        """Return the changes since the last diff as one diff (possibly empty) and reset."""
        diff = DepthDiff(
            self.symbol,
            self._first_pending,
            self.update_id,
            now_ms,
            tuple(self._bid_changes.items()),
            tuple(self._ask_changes.items()),
        )
        self._bid_changes, self._ask_changes = {}, {}
        self._first_pending = self.update_id + 1
        return diff

    def take_trades(self) -> list[SimTrade]:
        """Return the trades printed since the last call."""
        trades, self._trades = self._trades, []
        return trades

    def snapshot(
        self, limit: int | None = None
    ) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """Return ``(update id, bids best-first, asks best-first)``, at most ``limit`` each."""
        bids = sorted(self.bids.totals.items(), reverse=True)
        asks = sorted(self.asks.totals.items())
        if limit is not None:
            bids, asks = bids[:limit], asks[:limit]
        return self.update_id, bids, asks
