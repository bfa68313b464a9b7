"""Market activity for the simulated venue: a random-walk mid, level churn, takers.

Each :class:`SymbolMarket` drives the TRUE order book of one symbol, which is the matching
engine's book (:mod:`connectivity.sim.engine`): the generator's liquidity is one resting order
of the engine's ``house`` account per price level, and its takers are house orders that trade
in price-time priority against whatever rests there, accounts' orders included. So a quoting
bot's order is part of the published depth, and a taker or a move of the mid that reaches it
fills it (with the execution and balance events the engine reports). One call to
:meth:`SymbolMarket.step` performs a few random actions and returns every change of the book
since the previous step (the generator's and the accounts') as one :class:`DepthDiff` (first
id ``U``, final id ``u``, final absolute quantity per touched level; 0 deletes) plus the trades
printed. Feeding the diffs in order onto a snapshot reproduces the true book exactly, which is
what the end-to-end tests assert.

With no account orders the process is exactly the pre-engine generator's (same random draws,
same diffs, same trades for a seed): the house's levels are the whole book. The house level
sizes are the generator's; an account's order at the same price adds to the public level.
Everything is deterministic for a given seed: the generator owns a ``random.Random`` and is
driven only by its caller (the venue's tick greenlet, a test, or a benchmark), never by time.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import attrs

from connectivity.core.clock import NS_PER_MS
from connectivity.core.decimal import format_fixed, parse_fixed
from connectivity.core.models import Side
from connectivity.sim.engine import MatchingEngine
from connectivity.sim.filters import SymbolRules
from connectivity.sim.orderbook import BookSide, DepthDiff, SimTrade

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
MOVE_RATE = 0.08  # share of actions that move the mid one tick
DELETE_RATE = 0.27  # share of actions that delete a house level (the rest set one)


def fmt(value: int) -> str:
    """Format a fixed-point value the way Binance prints it (always 8 decimals)."""
    return format_fixed(value, SCALE, min_decimals=SCALE)


def _taker_rate(_: object, attribute: attrs.Attribute, value: float) -> None:
    most = round(1.0 - MOVE_RATE - DELETE_RATE, 6)
    if not 0.0 <= value <= most:
        raise ValueError(f"{attribute.name} must be within [0, {most}], got {value}")


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
    taker_rate: float = attrs.field(default=0.10, validator=_taker_rate)  # share of actions
    max_price: str = "1000000"  # the filters a venue's exchange info publishes
    max_qty: str = "9000"
    max_notional: str = "9000000"
    max_num_orders: int = 200

    def rules(self) -> SymbolRules:
        """Return the matching engine's filters of this symbol (fixed-point at SCALE)."""
        tick, step = parse_fixed(self.tick_size, SCALE), parse_fixed(self.step_size, SCALE)
        return SymbolRules(
            self.symbol,
            self.base,
            self.quote,
            tick_size=tick,
            step_size=step,
            min_price=tick,
            max_price=parse_fixed(self.max_price, SCALE),
            min_qty=step,
            max_qty=parse_fixed(self.max_qty, SCALE),
            min_notional=parse_fixed(self.min_notional, SCALE),
            max_notional=parse_fixed(self.max_notional, SCALE),
            max_num_orders=self.max_num_orders,
        )


class SymbolMarket:
    """The random process that changes one symbol's true book (held by the matching engine)."""

    def __init__(
        self,
        spec: SymbolSpec,
        seed: int | str = 0,
        first_update_id: int = 1000,
        *,
        engine: MatchingEngine | None = None,
    ) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.tick = parse_fixed(spec.tick_size, SCALE)
        self.step_size = parse_fixed(spec.step_size, SCALE)
        if self.tick <= 0 or self.step_size <= 0:
            raise ValueError(f"{spec.symbol}: tick and step sizes must be positive")
        if engine is None:
            engine = MatchingEngine([spec.rules()], scale=SCALE)
        self.engine = engine
        self.book = engine.books[spec.symbol]
        self._rng = random.Random(f"{seed}:{spec.symbol}")
        self.center = parse_fixed(spec.mid, SCALE) // self.tick  # mid, in ticks
        self._trade_below = MOVE_RATE + spec.taker_rate
        self._delete_below = self._trade_below + DELETE_RATE
        self._seed_book()
        self.book.restart(first_update_id)  # the seeded book is the state at first_update_id

    # -- state -------------------------------------------------------------------------------
    @property
    def bids(self) -> dict[int, int]:
        """Return the public bid levels, price -> aggregate quantity (fixed-point)."""
        return self.book.bids.totals

    @property
    def asks(self) -> dict[int, int]:
        """Return the public ask levels, price -> aggregate quantity (fixed-point)."""
        return self.book.asks.totals

    @property
    def update_id(self) -> int:
        """Return the id of the book's latest change."""
        return self.book.update_id

    @property
    def trade_id(self) -> int:
        """Return the id of the latest trade print."""
        return self.book.trade_id

    def _seed_book(self) -> None:
        for distance in range(1, self.spec.band + 1):
            if self._rng.random() < 0.8:
                self._house(Side.BUY, (self.center - distance) * self.tick, self._random_qty(), 0)
            if self._rng.random() < 0.8:
                self._house(Side.SELL, (self.center + distance) * self.tick, self._random_qty(), 0)

    def _random_qty(self) -> int:
        return self.step_size * self._rng.randint(1, self.spec.max_qty_steps)

    def _house(self, side: Side, price: int, qty: int, now_ms: int) -> None:
        self.engine.house_set(self.symbol, side, price, qty, now_ms * NS_PER_MS)

    def best_bid(self) -> tuple[int, int] | None:
        """Return the best (price, qty) bid of the true book."""
        price = self.book.bids.best()
        return None if price is None else (price, self.bids[price])

    def best_ask(self) -> tuple[int, int] | None:
        """Return the best (price, qty) ask of the true book."""
        price = self.book.asks.best()
        return None if price is None else (price, self.asks[price])

    def snapshot(
        self, limit: int | None = None
    ) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """Return ``(lastUpdateId, bids best-first, asks best-first)``, at most ``limit`` each."""
        return self.book.snapshot(limit)

    # -- the random process --------------------------------------------------------------------
    def step(self, now_ms: int, max_actions: int = 4) -> tuple[DepthDiff, list[SimTrade]]:
        """Do 1..``max_actions`` random actions; return the changes and trades since the last."""
        for _ in range(self._rng.randint(1, max_actions)):
            roll = self._rng.random()
            if roll < MOVE_RATE:
                self._move_mid(now_ms)
            elif roll < self._trade_below:
                self._trade(now_ms)
            elif roll < self._delete_below:
                self._delete_level(now_ms)
            else:
                self._set_level(now_ms)
        if not self.book.pending:  # a step that changed nothing still emits a real change
            self._set_level(now_ms)
        return self.book.take_diff(now_ms), self.book.take_trades()

    def _set_level(self, now_ms: int) -> None:
        # Half the churn sits near the touch (distance skewed toward 1), half anywhere.
        if self._rng.random() < 0.5:
            distance = 1 + int(self.spec.band * self._rng.random() ** 2)
        else:
            distance = self._rng.randint(1, self.spec.band)
        if self._rng.random() < 0.5:
            self._house(Side.BUY, (self.center - distance) * self.tick, self._qty(), now_ms)
        else:
            self._house(Side.SELL, (self.center + distance) * self.tick, self._qty(), now_ms)

    def _qty(self) -> int:
        return self._random_qty()

    def _delete_level(self, now_ms: int) -> None:
        use_bids = self._rng.random() < 0.5
        house = (self.book.bids if use_bids else self.book.asks).house
        if len(house) <= 5:  # keep both sides populated
            self._set_level(now_ms)
            return
        price = self._rng.choice(list(house))
        self._house(Side.BUY if use_bids else Side.SELL, price, 0, now_ms)

    def _trade(self, now_ms: int) -> None:
        buy = self._rng.random() < 0.5  # aggressor side
        best = self.best_ask() if buy else self.best_bid()
        if best is None:
            return
        price, qty = best
        size = min(qty, self.step_size * self._rng.randint(1, max(1, qty // self.step_size)))
        # The taker takes from the best level in time priority: accounts' orders there fill.
        side = Side.BUY if buy else Side.SELL
        self.engine.house_take(self.symbol, side, size, price, now_ms * NS_PER_MS)

    def _move_mid(self, now_ms: int) -> None:
        up = self._rng.random() < 0.5
        self.center += 1 if up else -1
        # Levels that would now cross the mid are traded through (whoever rests there), never
        # left crossed; house levels that fall out of the band are withdrawn.
        mid = self.center * self.tick
        if up:
            self._sweep(Side.BUY, self.book.asks, mid, now_ms)
            floor = (self.center - self.spec.band) * self.tick
            for price in [p for p in self.book.bids.house if p < floor]:
                self._house(Side.BUY, price, 0, now_ms)
        else:
            self._sweep(Side.SELL, self.book.bids, mid, now_ms)
            ceiling = (self.center + self.spec.band) * self.tick
            for price in [p for p in self.book.asks.house if p > ceiling]:
                self._house(Side.SELL, price, 0, now_ms)

    def _sweep(self, aggressor: Side, resting: BookSide, limit: int, now_ms: int) -> None:
        qty = sum(resting.totals[p] for p in resting.crossed_by(limit))
        if qty:
            self.engine.house_take(self.symbol, aggressor, qty, limit, now_ms * NS_PER_MS)


class Market:
    """Several :class:`SymbolMarket` s driven together from one seed, over one engine."""

    def __init__(self, specs: Iterable[SymbolSpec], seed: int | str = 0) -> None:
        specs = list(specs)
        self.engine = MatchingEngine([spec.rules() for spec in specs], scale=SCALE)
        self.symbols: dict[str, SymbolMarket] = {
            spec.symbol: SymbolMarket(spec, seed, engine=self.engine) for spec in specs
        }

    def __getitem__(self, symbol: str) -> SymbolMarket:
        return self.symbols[symbol]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.symbols

    def step(self, now_ms: int) -> list[tuple[DepthDiff, list[SimTrade]]]:
        """Step every symbol once, in a fixed order."""
        return [market.step(now_ms) for market in self.symbols.values()]
