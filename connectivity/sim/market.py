"""Market activity for the simulated venue: a random-walk mid, level churn, trades.

Each :class:`SymbolMarket` keeps the TRUE order book of one symbol as fixed-point ints (every
price a multiple of the tick size, every quantity a multiple of the step size) and a
monotonically increasing update id. One call to :meth:`SymbolMarket.step` performs a few
random actions, each consuming one update id, and returns the resulting :class:`DepthDiff`
(first id ``U``, final id ``u``, final absolute quantity per touched level; 0 deletes) plus the
trades it printed. Feeding the diffs in order onto a snapshot reproduces the true book exactly,
which is what the end-to-end tests assert.

Everything is deterministic for a given seed: the generator owns a ``random.Random`` and is
driven only by its caller (the venue's tick greenlet, a test, or a benchmark), never by time.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import attrs

from connectivity.core.decimal import format_fixed, parse_fixed

__all__ = [
    "SCALE",
    "DepthDiff",
    "Market",
    "SimTrade",
    "SymbolMarket",
    "SymbolSpec",
    "fmt",
]

SCALE = 8  # Binance prints prices and quantities with 8 decimals ("0.01000000")


def fmt(value: int) -> str:
    """Format a fixed-point value the way Binance prints it (always 8 decimals)."""
    return format_fixed(value, SCALE, min_decimals=SCALE)


@attrs.frozen
class SymbolSpec:
    """Trading rules and starting point of one simulated symbol (decimal strings)."""

    symbol: str  # venue spelling, e.g. "BTCUSDT"
    base: str
    quote: str
    tick_size: str = "0.01"
    step_size: str = "0.00001"
    mid: str = "50000"
    min_notional: str = "5"
    band: int = 60  # ticks each side of the mid in which levels live
    max_qty_steps: int = 200_000  # largest level quantity, in steps


@attrs.frozen
class DepthDiff:
    """One depth event: update ids ``first_id..last_id`` and the levels they left behind."""

    symbol: str
    first_id: int  # U
    last_id: int  # u
    event_time_ms: int
    bids: tuple[tuple[int, int], ...]  # (price, qty) fixed-point at SCALE; qty 0 deletes
    asks: tuple[tuple[int, int], ...]


@attrs.frozen
class SimTrade:
    """One trade print of the simulated market."""

    symbol: str
    trade_id: int
    price: int
    qty: int
    buyer_is_maker: bool
    time_ms: int


class SymbolMarket:
    """The true book of one symbol and the random process that changes it."""

    def __init__(self, spec: SymbolSpec, seed: int | str = 0, first_update_id: int = 1000) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.tick = parse_fixed(spec.tick_size, SCALE)
        self.step_size = parse_fixed(spec.step_size, SCALE)
        if self.tick <= 0 or self.step_size <= 0:
            raise ValueError(f"{spec.symbol}: tick and step sizes must be positive")
        self._rng = random.Random(f"{seed}:{spec.symbol}")
        self.center = parse_fixed(spec.mid, SCALE) // self.tick  # mid, in ticks
        self.bids: dict[int, int] = {}  # price (fixed-point) -> qty (fixed-point)
        self.asks: dict[int, int] = {}
        self.update_id = first_update_id
        self.trade_id = 0
        self._seed_book()

    # -- state -------------------------------------------------------------------------------
    def _seed_book(self) -> None:
        for distance in range(1, self.spec.band + 1):
            if self._rng.random() < 0.8:
                self.bids[(self.center - distance) * self.tick] = self._random_qty()
            if self._rng.random() < 0.8:
                self.asks[(self.center + distance) * self.tick] = self._random_qty()

    def _random_qty(self) -> int:
        return self.step_size * self._rng.randint(1, self.spec.max_qty_steps)

    def best_bid(self) -> tuple[int, int] | None:
        """Return the best (price, qty) bid of the true book."""
        if not self.bids:
            return None
        price = max(self.bids)
        return price, self.bids[price]

    def best_ask(self) -> tuple[int, int] | None:
        """Return the best (price, qty) ask of the true book."""
        if not self.asks:
            return None
        price = min(self.asks)
        return price, self.asks[price]

    def snapshot(
        self, limit: int | None = None
    ) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """Return ``(lastUpdateId, bids best-first, asks best-first)``, at most ``limit`` each."""
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        if limit is not None:
            bids, asks = bids[:limit], asks[:limit]
        return self.update_id, bids, asks

    # -- the random process --------------------------------------------------------------------
    def step(self, now_ms: int, max_actions: int = 4) -> tuple[DepthDiff, list[SimTrade]]:
        """Perform 1..``max_actions`` random actions; return their diff and trades."""
        first_id = self.update_id + 1
        bid_changes: dict[int, int] = {}
        ask_changes: dict[int, int] = {}
        trades: list[SimTrade] = []
        for _ in range(self._rng.randint(1, max_actions)):
            roll = self._rng.random()
            if roll < 0.08:
                self._move_mid(bid_changes, ask_changes, trades, now_ms)
            elif roll < 0.18:
                self._trade(bid_changes, ask_changes, trades, now_ms)
            elif roll < 0.45:
                self._delete_level(bid_changes, ask_changes)
            else:
                self._set_level(bid_changes, ask_changes)
        if self.update_id < first_id:  # a step that changed nothing still emits a real change
            self._set_level(bid_changes, ask_changes)
        diff = DepthDiff(
            symbol=self.symbol,
            first_id=first_id,
            last_id=self.update_id,
            event_time_ms=now_ms,
            bids=tuple(bid_changes.items()),
            asks=tuple(ask_changes.items()),
        )
        return diff, trades

    def _apply(self, side: dict[int, int], changes: dict[int, int], price: int, qty: int) -> None:
        # Every level change consumes one update id, as on the venue.
        self.update_id += 1
        if qty:
            side[price] = qty
        else:
            side.pop(price, None)
        changes[price] = qty

    def _set_level(self, bid_changes: dict[int, int], ask_changes: dict[int, int]) -> None:
        # Half the churn sits near the touch (distance skewed toward 1), half anywhere.
        if self._rng.random() < 0.5:
            distance = 1 + int(self.spec.band * self._rng.random() ** 2)
        else:
            distance = self._rng.randint(1, self.spec.band)
        if self._rng.random() < 0.5:
            self._apply(self.bids, bid_changes, (self.center - distance) * self.tick, self._qty())
        else:
            self._apply(self.asks, ask_changes, (self.center + distance) * self.tick, self._qty())

    def _qty(self) -> int:
        return self._random_qty()

    def _delete_level(self, bid_changes: dict[int, int], ask_changes: dict[int, int]) -> None:
        use_bids = self._rng.random() < 0.5
        side, changes = (self.bids, bid_changes) if use_bids else (self.asks, ask_changes)
        if len(side) <= 5:  # keep both sides populated
            self._set_level(bid_changes, ask_changes)
            return
        price = self._rng.choice(list(side))
        self._apply(side, changes, price, 0)

    def _trade(
        self,
        bid_changes: dict[int, int],
        ask_changes: dict[int, int],
        trades: list[SimTrade],
        now_ms: int,
    ) -> None:
        buy = self._rng.random() < 0.5  # aggressor side
        best = self.best_ask() if buy else self.best_bid()
        if best is None:
            return
        price, qty = best
        size = min(qty, self.step_size * self._rng.randint(1, max(1, qty // self.step_size)))
        side, changes = (self.asks, ask_changes) if buy else (self.bids, bid_changes)
        self._apply(side, changes, price, qty - size)
        self.trade_id += 1
        trades.append(SimTrade(self.symbol, self.trade_id, price, size, not buy, now_ms))

    def _move_mid(
        self,
        bid_changes: dict[int, int],
        ask_changes: dict[int, int],
        trades: list[SimTrade],
        now_ms: int,
    ) -> None:
        up = self._rng.random() < 0.5
        self.center += 1 if up else -1
        # Levels that would now cross the mid are taken out (traded through), never left crossed.
        if up:
            for price in [p for p in self.asks if p <= self.center * self.tick]:
                self.trade_id += 1
                trades.append(
                    SimTrade(self.symbol, self.trade_id, price, self.asks[price], False, now_ms)
                )
                self._apply(self.asks, ask_changes, price, 0)
            floor = (self.center - self.spec.band) * self.tick
            for price in [p for p in self.bids if p < floor]:
                self._apply(self.bids, bid_changes, price, 0)
        else:
            for price in [p for p in self.bids if p >= self.center * self.tick]:
                self.trade_id += 1
                trades.append(
                    SimTrade(self.symbol, self.trade_id, price, self.bids[price], True, now_ms)
                )
                self._apply(self.bids, bid_changes, price, 0)
            ceiling = (self.center + self.spec.band) * self.tick
            for price in [p for p in self.asks if p > ceiling]:
                self._apply(self.asks, ask_changes, price, 0)


class Market:
    """Several :class:`SymbolMarket` s driven together from one seed."""

    def __init__(self, specs: Iterable[SymbolSpec], seed: int | str = 0) -> None:
        self.symbols: dict[str, SymbolMarket] = {
            spec.symbol: SymbolMarket(spec, seed) for spec in specs
        }

    def __getitem__(self, symbol: str) -> SymbolMarket:
        return self.symbols[symbol]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.symbols

    def step(self, now_ms: int) -> list[tuple[DepthDiff, list[SimTrade]]]:
        """Step every symbol once, in a fixed order."""
        return [market.step(now_ms) for market in self.symbols.values()]
