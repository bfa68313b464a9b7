"""The reconcile loop: adaptive interval, rate-limited rounds, owned greenlet, fake venue."""

from __future__ import annotations

from decimal import Decimal

import gevent

from connectivity.connector.orders import AccountSource
from connectivity.connector.reconciler import Reconciler, ReconcilerConfig
from connectivity.core.clock import ManualClock
from connectivity.core.models import BalanceUpdate, Fill, OrderStatus, OrderUpdate
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import RequestTimeout
from connectivity.runtime import Supervisor
from tests.core.state_helpers import balance, fill, manager, request, upd

S = OrderStatus


class FakeAccount:
    """An AccountSource answering from lists the test sets; records every call."""

    def __init__(self) -> None:
        self.open: list[OrderUpdate] = []
        self.known: dict[str, OrderUpdate] = {}
        self.fills: list[Fill] = []
        self.balance_reports: list[BalanceUpdate] = []
        self.calls: list[str] = []
        self.fail = False

    def open_orders(self) -> list[OrderUpdate]:
        self.calls.append("open_orders")
        if self.fail:
            raise RequestTimeout("no answer", venue="sim")
        return list(self.open)

    def order(self, client_order_id: str, symbol: str) -> OrderUpdate | None:
        self.calls.append(f"order:{client_order_id}")
        return self.known.get(client_order_id)

    def fills_since(self, ts_ns: int) -> list[Fill]:
        self.calls.append("fills")
        return [f for f in self.fills if f.ts_event >= ts_ns]

    def balances(self) -> list[BalanceUpdate]:
        self.calls.append("balances")
        return list(self.balance_reports)


CONFIG = ReconcilerConfig(
    fast_s=2, slow_s=60, silent_after_s=30, fills_lookback_s=2 * 10**9
)  # back to 1970


def _reconciler(**kw: object) -> tuple[Reconciler, FakeAccount, ManualClock]:
    clock = ManualClock()
    state, _ = manager()
    account = FakeAccount()
    assert isinstance(account, AccountSource)
    return Reconciler(state, account, clock=clock, config=CONFIG, **kw), account, clock  # type: ignore[arg-type]


def test_interval_is_fast_while_stream_down_silent_or_orders_in_doubt_else_slow() -> None:
    rec, _, clock = _reconciler()
    assert rec.interval() == 2  # the stream never connected
    rec.stream_connected()
    assert rec.interval() == 60
    clock.advance(31)
    assert rec.interval() == 2  # silent for longer than silent_after_s
    rec.stream_event()
    assert rec.interval() == 60
    rec.state.register(request("botp1-1"), 0)
    rec.state.outcome_unknown("botp1-1", "submit", "timeout", 0)
    assert rec.interval() == 2
    rec.stream_disconnected()
    rec.state.apply(upd("botp1-1", S.NEW, ts=5))
    assert rec.interval() == 2


def test_round_queries_in_doubt_and_missing_orders_individually_and_applies_the_venue() -> None:
    rec, account, _ = _reconciler()
    state = rec.state
    state.register(request("botp1-1"), 0)
    state.outcome_unknown("botp1-1", "submit", "timeout", 0)
    account.known["botp1-1"] = upd("botp1-1", S.NEW, ts=5, source="rest-query", vid="v1")
    account.open = [upd("web_1", S.NEW, ts=5, source="rest-open", vid="w1")]
    account.fills = [fill("", "t1", "1", vid="w1", ts=6)]
    account.balance_reports = [balance("USDT", "50", "0", ts=7, source="rest")]
    result = rec.run_once()
    assert account.calls == ["open_orders", "fills", "balances", "order:botp1-1"]
    settled = state.order("botp1-1")
    foreign = state.order("web_1")
    assert settled is not None and settled.status is S.NEW
    assert foreign is not None and foreign.foreign and foreign.filled_quantity == Decimal(1)
    assert state.balance("USDT").free == Decimal(50)
    assert result.to_query == []  # its query answered this round
    account.calls.clear()
    assert rec.run_once().to_query == ["botp1-1"]  # NEW here, absent from open orders
    assert "order:botp1-1" not in account.calls
    account.calls.clear()
    rec.run_once()
    assert "order:botp1-1" in account.calls  # asked one by one, never assumed canceled
    order = state.order("botp1-1")
    assert order is not None and order.status is S.NEW


def test_every_request_draws_from_the_venue_rate_limiter() -> None:
    clock = ManualClock()
    limiter = RateLimiter(clock, [Bucket("weight", 100, 60.0)], max_wait=0)
    costs = {"open_orders": {"weight": 6}, "fills": {"weight": 10}, "balances": {"weight": 20}}
    rec, _, _ = _reconciler(limiter=limiter)
    rec.config = ReconcilerConfig(costs=costs, fills_lookback_s=1)
    rec.run_once()
    assert limiter.usage("weight") == 36


def test_loop_runs_under_its_supervisor_survives_a_failed_round_and_stops_on_close() -> None:
    rec, account, clock = _reconciler()
    supervisor = Supervisor("account")
    try:
        rec.start(supervisor)
        gevent.sleep(0)
        assert rec.rounds == 1 and clock.sleepers == 1
        account.fail = True
        clock.advance(2)  # fast: the stream is down
        assert rec.rounds == 1 and rec.errors["RequestTimeout"] == 1
        account.fail = False
        clock.advance(2)  # a failed round retries at the fast interval
        assert rec.rounds == 2
        rec.stream_connected()
        clock.advance(2)
        assert rec.rounds == 3
        clock.advance(30)  # now the slow interval: no round yet
        assert rec.rounds == 3
        clock.advance(30)
        assert rec.rounds == 4
    finally:
        supervisor.close(timeout=1)
    assert supervisor.join(timeout=1) and supervisor.failures == []


def test_stream_dropping_during_a_slow_wait_brings_the_next_round_forward() -> None:
    rec, _, clock = _reconciler()
    supervisor = Supervisor("account")
    try:
        rec.stream_connected()
        rec.start(supervisor)
        gevent.sleep(0)
        assert rec.rounds == 1
        clock.advance(10)
        assert rec.rounds == 1  # slow: the next round is 60 s away
        rec.stream_disconnected()
        clock.advance(2)  # re-checked within fast_s: now overdue at the fast interval
        assert rec.rounds == 2
        clock.advance(2)
        assert rec.rounds == 3
    finally:
        supervisor.close(timeout=1)
    assert supervisor.join(timeout=1) and supervisor.failures == []
