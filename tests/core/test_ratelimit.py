"""RateLimiter: multi-pool draws, wall-aligned windows, venue corrections, blocks, caps."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.core.clock import NS_PER_SECOND, ManualClock
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import Banned, ConfigError, RateLimited

T0 = 1_700_000_040 * NS_PER_SECOND  # a wall time on a minute (and 10 s) boundary
S = NS_PER_SECOND


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ns=T0)


def binance_like(clock: ManualClock, **kwargs: Any) -> RateLimiter:
    buckets = [
        Bucket("weight", 60, 60),
        Bucket("orders", 2, 10),
        Bucket("orders_day", 100, 86_400),
    ]
    return RateLimiter(clock, buckets, name="test", **kwargs)


@pytest.fixture
def spawned() -> Iterator[Callable[..., gevent.Greenlet]]:
    greenlets: list[gevent.Greenlet] = []

    def spawn(func: Callable[..., Any], *args: Any) -> gevent.Greenlet:
        g = gevent.spawn(func, *args)
        greenlets.append(g)
        gevent.sleep(0)  # let it run until it parks on the clock
        return g

    yield spawn
    gevent.killall(greenlets, timeout=1)


def test_draw_within_budget_takes_from_every_named_pool_without_waiting(
    clock: ManualClock,
) -> None:
    limiter = binance_like(clock)
    assert limiter.acquire({"weight": 4, "orders": 1, "orders_day": 1}) == 0
    assert (limiter.usage("weight"), limiter.usage("orders"), limiter.usage("orders_day")) == (
        4,
        1,
        1,
    )
    assert limiter.stats.acquired == 1 and limiter.stats.waited == 0


def test_draw_refused_by_one_pool_consumes_from_none(clock: ManualClock) -> None:
    limiter = binance_like(clock)
    limiter.acquire({"orders": 2})
    with pytest.raises(RateLimited) as info:
        limiter.acquire({"weight": 5, "orders": 1}, max_wait=0)
    assert not isinstance(info.value, Banned)
    assert info.value.retry_after == 10.0
    assert limiter.usage("weight") == 0
    assert limiter.stats.refused == 1


def test_multi_pool_draw_waits_until_all_pools_have_room(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = binance_like(clock)
    limiter.acquire({"weight": 1, "orders": 2})
    g = spawned(limiter.acquire, {"weight": 1, "orders": 1})
    assert clock.sleepers == 1 and not g.dead
    clock.advance(9.999)
    assert not g.dead
    clock.advance(0.001)
    assert g.get(timeout=1) == 10 * S
    assert limiter.usage("orders") == 1  # counted in the new 10 s window
    assert limiter.usage("weight") == 2
    assert limiter.stats.waited == 1


def test_fixed_windows_are_aligned_to_wall_time_not_to_first_use(clock: ManualClock) -> None:
    clock.advance(15)  # 15 s into the wall-clock minute
    limiter = binance_like(clock)
    limiter.acquire({"weight": 60})
    with pytest.raises(RateLimited) as info:
        limiter.acquire({"weight": 1}, max_wait=0)
    assert info.value.retry_after == 45.0  # until the minute ends, not 60 s after first use
    clock.advance(45)
    assert limiter.usage("weight") == 0
    assert limiter.acquire({"weight": 60}, max_wait=0) == 0


def test_request_larger_than_a_bucket_limit_raises_immediately(clock: ManualClock) -> None:
    limiter = binance_like(clock)
    with pytest.raises(ConfigError, match="exceeds bucket 'orders' limit 2"):
        limiter.acquire({"weight": 1, "orders": 3}, max_wait=math.inf)
    assert limiter.usage("weight") == 0
    assert clock.sleepers == 0


@pytest.mark.parametrize("costs", [{"nope": 1}, {"weight": -1}, {"weight": 1.0}, {"weight": True}])
def test_unknown_bucket_or_bad_cost_is_a_config_error(
    clock: ManualClock, costs: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError):
        binance_like(clock).acquire(costs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Bucket("w", 0, 60),
        lambda: Bucket("w", 10, 0),
        lambda: Bucket("w", 10, 60, kind="leaky"),  # type: ignore[arg-type]
        lambda: Bucket("w", 1.5, 60),  # type: ignore[arg-type]
    ],
)
def test_invalid_bucket_declarations_are_config_errors(make: Callable[[], Bucket]) -> None:
    with pytest.raises(ConfigError):
        make()


def test_duplicate_bucket_and_negative_max_wait_are_config_errors(clock: ManualClock) -> None:
    with pytest.raises(ConfigError):
        RateLimiter(clock, [Bucket("w", 1, 1), Bucket("w", 2, 1)])
    with pytest.raises(ConfigError):
        binance_like(clock).acquire({"weight": 1}, max_wait=-1)
    with pytest.raises(ConfigError):
        binance_like(clock).acquire({"weight": 1}, max_wait=math.nan)


def test_usage_header_raises_the_count_when_other_processes_spent_budget(
    clock: ManualClock,
) -> None:
    limiter = binance_like(clock)
    limiter.acquire({"weight": 2})
    assert limiter.update_usage("weight", 58, clock.time_ns()) is True
    assert limiter.usage("weight") == 58
    assert limiter.update_usage("weight", 10, clock.time_ns()) is False  # lower: ignored
    assert limiter.usage("weight") == 58
    limiter.acquire({"weight": 2}, max_wait=0)
    with pytest.raises(RateLimited):
        limiter.acquire({"weight": 1}, max_wait=0)
    assert limiter.stats.corrections == 1


def test_usage_header_about_a_finished_window_is_ignored(clock: ManualClock) -> None:
    limiter = binance_like(clock)
    sent_at = clock.time_ns()
    clock.advance(61)  # the response arrives after the minute rolled over
    assert limiter.update_usage("weight", 59, sent_at) is False
    assert limiter.usage("weight") == 0
    with pytest.raises(ConfigError):
        limiter.update_usage("nope", 1, sent_at)


def test_usage_header_keeps_reservations_of_parked_requests_on_top(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = RateLimiter(clock, [Bucket("weight", 10, 60), Bucket("orders", 1, 10)])
    limiter.acquire({"orders": 1})
    g = spawned(limiter.acquire, {"weight": 3, "orders": 1})  # holds 3 weight, sends at +10 s
    assert limiter.usage("weight") == 3
    limiter.update_usage("weight", 5, clock.time_ns())  # the venue has not seen the parked 3
    assert limiter.usage("weight") == 8
    clock.advance(10)
    g.get(timeout=1)
    assert limiter.usage("weight") == 8


def test_retry_after_blocks_draws_until_it_expires(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = binance_like(clock)
    limiter.block_until(clock.time_ns() + 5 * S, "HTTP 429")
    with pytest.raises(RateLimited) as info:
        limiter.acquire({"weight": 1}, max_wait=0)
    assert type(info.value) is RateLimited
    assert info.value.retry_after == 5.0
    assert "HTTP 429" in str(info.value)
    g = spawned(limiter.acquire, {"weight": 1})
    clock.advance(4.5)
    assert not g.dead
    clock.advance(0.5)
    assert g.get(timeout=1) == 5 * S
    assert limiter.blocked_until_ns == T0 + 5 * S


def test_ban_raises_banned_with_time_until_it_ends(clock: ManualClock) -> None:
    limiter = binance_like(clock, max_wait=10)
    limiter.block_until(clock.time_ns() + 120 * S, "HTTP 418", banned=True)
    clock.advance(20)
    with pytest.raises(Banned) as info:
        limiter.acquire({"weight": 1})
    assert info.value.retry_after == 100.0
    assert isinstance(info.value, RateLimited)
    clock.advance(100)
    assert limiter.acquire({"weight": 1}, max_wait=0) == 0


def test_block_that_arrives_while_a_request_is_parked_pushes_it_back(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = binance_like(clock, max_wait=math.inf)
    limiter.acquire({"orders": 2})
    g = spawned(limiter.acquire, {"weight": 1, "orders": 1})  # planned for +10 s
    clock.advance(5)
    limiter.block_until(clock.time_ns() + 20 * S, "HTTP 429")
    clock.advance(5)
    assert not g.dead  # woke at +10 s, saw the block, planned again
    assert limiter.usage("orders") == 0  # the stale reservation was given back
    clock.advance(15)
    assert g.get(timeout=1) == 25 * S
    assert limiter.usage("orders") == 1


def test_waiters_are_served_in_arrival_order(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = RateLimiter(clock, [Bucket("raw", 1, 1)], max_wait=math.inf)
    served: list[tuple[int, int]] = []

    def request(i: int) -> None:
        limiter.acquire({"raw": 1})
        served.append((i, (clock.time_ns() - T0) // S))

    limiter.acquire({"raw": 1})
    greenlets = [spawned(request, i) for i in range(5)]
    clock.advance(10)
    gevent.joinall(greenlets, timeout=1)
    assert served == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


def test_killed_waiter_gives_its_reserved_room_back(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = RateLimiter(clock, [Bucket("raw", 1, 1)])
    limiter.acquire({"raw": 1})
    g = spawned(limiter.acquire, {"raw": 1})
    g.kill(timeout=1)
    clock.advance(1)
    assert limiter.usage("raw") == 0
    assert limiter.acquire({"raw": 1}, max_wait=0) == 0


def test_gcra_bucket_allows_a_burst_then_spaces_requests_evenly(clock: ManualClock) -> None:
    limiter = RateLimiter(clock, [Bucket("rest", 10, 1, kind="gcra")])
    for _ in range(10):
        limiter.acquire({"rest": 1}, max_wait=0)
    assert limiter.usage("rest") == 10
    with pytest.raises(RateLimited) as info:
        limiter.acquire({"rest": 1}, max_wait=0)
    assert info.value.retry_after == 0.1
    clock.advance(0.1)
    limiter.acquire({"rest": 1}, max_wait=0)
    clock.advance(1.1)
    assert limiter.usage("rest") == 0


def test_gcra_bucket_is_corrected_from_usage_headers(clock: ManualClock) -> None:
    limiter = RateLimiter(clock, [Bucket("rest", 10, 1, kind="gcra")])
    assert limiter.update_usage("rest", 10, clock.time_ns()) is True
    assert limiter.update_usage("rest", 3, clock.time_ns()) is False
    with pytest.raises(RateLimited) as info:
        limiter.acquire({"rest": 2}, max_wait=0)
    assert info.value.retry_after == 0.2


def test_in_flight_cap_is_independent_of_the_send_rate(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = RateLimiter(clock, [Bucket("weight", 1000, 60)], in_flight={"orders": 2})
    first = limiter.in_flight("orders")
    with limiter.in_flight("orders"):
        assert limiter.in_flight_count("orders") == 2
        with pytest.raises(RateLimited, match="in-flight cap 'orders' full"):
            limiter.in_flight("orders", max_wait=0)
        limiter.acquire({"weight": 1}, max_wait=0)  # sending is not held up by the cap
    assert limiter.in_flight_count("orders") == 1
    first.release()
    first.release()  # idempotent
    assert limiter.in_flight_count("orders") == 0


def test_in_flight_waiters_get_freed_slots_in_arrival_order(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = RateLimiter(clock, [], in_flight={"orders": 1}, max_wait=math.inf)
    held = limiter.in_flight("orders")
    got: list[str] = []

    def waiter(name: str) -> None:
        slot = limiter.in_flight("orders")
        got.append(name)
        clock.sleep(1)  # hold it a while
        slot.release()

    a, b = spawned(waiter, "a"), spawned(waiter, "b")
    clock.advance(0.01)
    assert got == []
    held.release()
    clock.advance(0.01)
    assert got == ["a"]
    clock.advance(1.01)
    assert got == ["a", "b"]
    clock.advance(1)
    gevent.joinall([a, b], timeout=1)
    assert limiter.in_flight_count("orders") == 0


def test_in_flight_wait_times_out_with_rate_limited(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = RateLimiter(clock, [], in_flight={"orders": 1})
    held = limiter.in_flight("orders")
    g = spawned(lambda: limiter.in_flight("orders", max_wait=0.5))
    clock.advance(0.6)
    with pytest.raises(RateLimited):
        g.get(timeout=1)
    held.release()
    assert limiter.in_flight("orders").name == "orders"
    with pytest.raises(ConfigError):
        limiter.in_flight("nope")


def test_limiter_is_shared_by_reference_and_repr_shows_budgets(clock: ManualClock) -> None:
    limiter = binance_like(clock)
    rest_side, ws_side = limiter, limiter  # one instance per venue scope
    rest_side.acquire({"orders": 1})
    ws_side.acquire({"orders": 1})
    with pytest.raises(RateLimited):
        rest_side.acquire({"orders": 1}, max_wait=0)
    assert "weight=60/60s" in repr(limiter)
    assert [b.name for b in limiter.buckets()] == ["weight", "orders", "orders_day"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4000), st.integers(0, 3), st.integers(0, 2)),
        max_size=60,
    )
)
def test_granted_draws_never_exceed_any_wall_aligned_window(
    steps: list[tuple[int, int, int]],
) -> None:
    clock = ManualClock(start_ns=T0 + 7 * S)
    limiter = RateLimiter(clock, [Bucket("weight", 5, 1), Bucket("orders", 2, 3)])
    limits = {"weight": (5, 1), "orders": (2, 3)}
    per_window: dict[tuple[str, int], int] = {}  # an independent count of what was granted
    for advance_ms, weight, orders in steps:
        clock.advance(advance_ms / 1000)
        costs = {"weight": weight, "orders": orders}
        keys = {name: (name, clock.time_ns() // (limits[name][1] * S)) for name in costs}
        fits = all(per_window.get(keys[n], 0) + c <= limits[n][0] for n, c in costs.items())
        try:
            limiter.acquire(costs, max_wait=0)
        except RateLimited:
            assert not fits  # refused only when some window really was full
            continue
        assert fits
        for name, cost in costs.items():
            per_window[keys[name]] = per_window.get(keys[name], 0) + cost


def test_usage_headers_alone_do_not_grow_state_without_bound(clock: ManualClock) -> None:
    limiter = binance_like(clock)
    for _ in range(100):  # a bucket only ever corrected, never drawn from
        limiter.update_usage("weight", 10, clock.time_ns())
        clock.advance(60)
    assert len(limiter._pools["weight"]._used) == 1  # type: ignore[union-attr]


def test_parked_draws_fill_each_window_exactly_to_its_limit(
    clock: ManualClock, spawned: Callable[..., gevent.Greenlet]
) -> None:
    limiter = RateLimiter(
        clock, [Bucket("weight", 10, 1), Bucket("orders", 7, 2)], max_wait=math.inf
    )
    granted: list[tuple[int, int]] = []  # (second since T0, weight)

    def request(weight: int) -> None:
        limiter.acquire({"weight": weight, "orders": 1})
        granted.append(((clock.time_ns() - T0) // S, weight))

    greenlets = [spawned(request, 1 + i % 4) for i in range(20)]  # 50 weight, 20 orders
    clock.advance(10)
    gevent.joinall(greenlets, timeout=1)
    assert len(granted) == 20
    per_second = {s: sum(w for t, w in granted if t == s) for s, _ in granted}
    per_order_window = {s // 2: sum(1 for t, _ in granted if t // 2 == s // 2) for s, _ in granted}
    assert max(per_second.values()) <= 10 and max(per_order_window.values()) <= 7
    assert sorted(per_order_window.values(), reverse=True)[:2] == [7, 7]  # no room left idle
