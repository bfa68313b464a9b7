"""What the test venues' simulators share: the true book they are compared with, and tickers."""

from __future__ import annotations

from decimal import Decimal

import attrs

from connectivity.core.decimal import fixed_to_decimal
from connectivity.sim.market import SCALE, SymbolMarket, SymbolSpec, fmt

__all__ = ["SYMBOLS", "TopTracker", "TrueBook", "rows", "true_book"]

SYMBOLS = (
    SymbolSpec("BTC-USD", "BTC", "USD", mid="60000"),
    SymbolSpec("ETH-USD", "ETH", "USD", mid="3000"),
    SymbolSpec("SOL-USD", "SOL", "USD", mid="150"),
)


@attrs.frozen
class TrueBook:
    """The simulator's exact book of one symbol (best levels first)."""

    update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


def true_book(market: SymbolMarket, depth: int | None = None) -> TrueBook:
    """Return ``market``'s exact book, its best ``depth`` levels a side (None: all)."""
    update_id, bids, asks = market.snapshot(depth)
    exact = [
        tuple((fixed_to_decimal(p, SCALE), fixed_to_decimal(q, SCALE)) for p, q in side)
        for side in (bids, asks)
    ]
    return TrueBook(update_id, exact[0], exact[1])


def rows(levels: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> list[list[str]]:
    """Return levels as the venues print them: ``[price, qty]`` decimal strings."""
    return [[fmt(price), fmt(qty)] for price, qty in levels]


class TopTracker:
    """Say when a symbol's best bid or ask changed (venues send a ticker only then)."""

    def __init__(self) -> None:
        self._tops: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}

    def changed(self, market: SymbolMarket) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """Return the new ``(bid, ask)`` when it changed since the last call, else None."""
        bid, ask = market.best_bid(), market.best_ask()
        if bid is None or ask is None or self._tops.get(market.symbol) == (bid, ask):
            return None
        self._tops[market.symbol] = (bid, ask)
        return bid, ask
