"""Reference model: venue-side order lives reported by three lossy, duplicating, reordering
sources plus a late snapshot; every interleaving converges to the venue's truth.

Histories are generated from fixed seeds (deterministic, bounded, fast). The venue keeps one
clock that ticks once per venue event, so its reports carry strictly ordered times, as a
real venue's do for one order or one asset.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from connectivity.core.models import (
    BalanceUpdate,
    Fill,
    Liquidity,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
)
from connectivity.core.state import StateManager
from tests.core.state_helpers import SYMBOL, VENUE, manager, request

S = OrderStatus
SOURCES = ("ws", "fix", "rest")


class Venue:
    """The truth: orders, fills and the USDT balance, with every report it would send."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.clock = 0
        self.reports: list[tuple[int, Any]] = []  # (venue time, report)
        self.local: list[tuple[int, Callable[[StateManager], object]]] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[Fill] = []
        self.free = Decimal(10_000)

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def report(self, item: Any) -> None:
        self.reports.append((self.clock, item))

    def update(self, cid: str, status: OrderStatus, **kw: Any) -> OrderUpdate:
        o = self.orders[cid]
        o["status"] = status
        return OrderUpdate(
            VENUE, SYMBOL, cid, status, o["filled"], "", self.clock, 0, venue_order_id=o["vid"],
            quantity=o["qty"], price=Decimal(100), side=Side.BUY, order_type=OrderType.LIMIT,
            **kw,
        )  # fmt: skip

    def life(self, cid: str, ours: bool) -> None:
        """Play one order's life at the venue (and our local requests around it)."""
        rng = self.rng
        qty = Decimal(rng.randint(1, 6))
        start = self.tick()
        if ours:
            self.local.append((start, lambda s: s.register(request(cid, qty=str(qty)), 0)))
            if rng.random() < 0.3:
                self.local.append((start, lambda s: s.outcome_unknown(cid, "submit", "5xx", 0)))
        self.orders[cid] = {"qty": qty, "filled": Decimal(0), "vid": f"v-{cid}"}
        if ours and rng.random() < 0.1:
            self.tick()
            self.report(self.update(cid, S.REJECTED))
            return
        self.tick()
        self.report(self.update(cid, S.NEW))
        end = rng.choice(["fill", "cancel", "expire", "open"])
        while self.orders[cid]["filled"] < qty and rng.random() < 0.7:
            self.fill(cid, min(qty - self.orders[cid]["filled"], Decimal(rng.randint(1, 3))))
            if end == "cancel" and ours and rng.random() < 0.5:
                self.local.append((self.clock, lambda s: s.cancel_requested(cid, 0)))
        if self.orders[cid]["filled"] == qty or self.orders[cid]["status"] is S.FILLED:
            return
        if end in ("cancel", "expire"):
            self.tick()
            status = S.CANCELED if end == "cancel" else S.EXPIRED
            self.report(self.update(cid, status))

    def fill(self, cid: str, qty: Decimal) -> None:
        o = self.orders[cid]
        o["filled"] += qty
        t = self.tick()
        trade = Fill(
            VENUE, SYMBOL, cid, f"T{t}", Side.BUY, Decimal(100), qty, Decimal("0.1"), "BNB",
            Liquidity.MAKER, t, 0, venue_order_id=o["vid"],
        )  # fmt: skip
        self.trades.append(trade)
        self.report(trade)
        status = S.FILLED if o["filled"] == o["qty"] else S.PARTIALLY_FILLED
        self.report(self.update(cid, status))
        self.free -= qty * 100
        self.report(BalanceUpdate(VENUE, "USDT", t, 0, "", free=self.free, locked=Decimal(0)))

    def deposit(self) -> None:
        amount = Decimal(self.rng.randint(1, 50))
        t = self.tick()
        self.free += amount
        self.report(BalanceUpdate(VENUE, "USDT", t, 0, "", delta=amount))
        if self.rng.random() < 0.5:
            t = self.tick()
            self.report(BalanceUpdate(VENUE, "USDT", t, 0, "", free=self.free, locked=Decimal(0)))

    def snapshot(self) -> list[Any]:
        """The late REST snapshot: every order, every trade (venue id only), the balance."""
        t = self.tick()
        items: list[Any] = [
            BalanceUpdate(VENUE, "USDT", t, 0, "rest", free=self.free, locked=Decimal(0))
        ]
        for cid, o in self.orders.items():
            items.append(self.update(cid, o["status"]))
        items += [_as(trade, "rest", client_order_id="") for trade in self.trades]
        return [_as(item, "rest") if not isinstance(item, Fill) else item for item in items]


def _as(item: Any, source: str, **changes: Any) -> Any:
    import attrs

    if isinstance(item, Fill):
        return attrs.evolve(item, **changes)
    return attrs.evolve(item, source=source, **changes)


def deliveries(venue: Venue, rng: random.Random, loss: float) -> list[Any]:
    """Every report through every source: lost, duplicated, delayed, then interleaved."""
    timed: list[tuple[float, int, Any]] = []
    order = 0
    for t, item in venue.reports:
        for source in SOURCES:
            copies = 0 if rng.random() < loss else 1 + (rng.random() < 0.3)
            for _ in range(copies):
                order += 1
                delay = rng.expovariate(0.3)
                cid = "" if source == "rest" and isinstance(item, Fill) else None
                changes = {"client_order_id": cid} if cid is not None else {}
                timed.append((t + delay, order, _as(item, source, **changes)))
    for t, action in venue.local:
        order += 1
        timed.append((t - 0.5, order, action))  # our own requests happen when we make them
    timed.sort(key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in timed]


def play(seed: int, loss: float) -> tuple[Venue, StateManager, list[Any]]:
    rng = random.Random(seed)
    venue = Venue(rng)
    for n in range(rng.randint(2, 7)):
        ours = rng.random() < 0.75
        venue.life(f"botp1-{n}" if ours else f"web_{n}", ours)
        if rng.random() < 0.4:
            venue.deposit()
    venue.reports.insert(0, (0, BalanceUpdate(VENUE, "USDT", 0, 0, "", free=Decimal(10_000))))
    state, events = manager()
    for item in deliveries(venue, rng, loss):
        if callable(item):
            item(state)
        else:
            state.apply(item)
    for item in venue.snapshot():
        state.apply(item)
    return venue, state, events


def converged(venue: Venue, state: StateManager, events: list[Any]) -> None:
    for cid, truth in venue.orders.items():
        order = state.order(cid)
        assert order is not None, cid
        assert (order.status, order.filled_quantity) == (truth["status"], truth["filled"]), cid
        assert order.foreign is cid.startswith("web_")
    fills = collections.Counter(e.trade_id for e in events if isinstance(e, Fill))
    assert set(fills) == {trade.trade_id for trade in venue.trades}
    assert set(fills.values()) <= {1}, "a fill was emitted twice"
    assert state.balance("USDT").free == venue.free
    assert not state.errors, state.errors
    assert state.in_doubt() == [] and state.parked_fills() == []


@pytest.mark.parametrize("loss", [0.0, 0.3, 0.9])
def test_any_interleaving_of_three_sources_and_a_late_snapshot_converges(loss: float) -> None:
    for seed in range(150):
        converged(*play(seed, loss))


def test_without_loss_the_streams_alone_converge_before_the_snapshot() -> None:
    for seed in range(100):
        rng = random.Random(seed)
        venue = Venue(rng)
        for n in range(4):
            venue.life(f"botp1-{n}", True)
        state, _events = manager()
        for item in deliveries(venue, rng, 0.0):
            if callable(item):
                item(state)
            else:
                state.apply(item)
        for cid, truth in venue.orders.items():
            order = state.order(cid)
            assert order is not None
            assert (order.status, order.filled_quantity) == (truth["status"], truth["filled"])
