"""Snapshot planning: cheapest tier, the bot's order, bounded concurrency, the weight budget."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gevent
import gevent.event
import pytest

from connectivity.connector.snapshots import (
    SnapshotJob,
    SnapshotPlanner,
    SnapshotRunner,
    budget_schedule,
    cheapest_limit,
    spare_budget_wait,
    tier_weight,
)
from connectivity.core.clock import NS_PER_SECOND, ManualClock
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import ConfigError

TIERS = ((100, 5), (500, 25), (1000, 50), (5000, 250))  # Binance's GET /api/v3/depth
MINUTE_NS = 60 * NS_PER_SECOND
T0 = 1_700_000_040 * NS_PER_SECOND  # a calendar-minute boundary


@pytest.mark.parametrize(
    ("depth", "limit"), [(1, 100), (20, 100), (100, 100), (101, 500), (1000, 1000), (9999, 5000)]
)
def test_the_snapshot_is_the_deepest_of_the_cheapest_tier_covering_the_depth(
    depth: int, limit: int
) -> None:
    assert cheapest_limit(depth, TIERS) == limit
    assert tier_weight(limit, TIERS) == {100: 5, 500: 25, 1000: 50, 5000: 250}[limit]


@pytest.mark.parametrize("depth", [0, -3, True, 2.0])
def test_a_depth_below_one_level_is_refused(depth: Any) -> None:
    with pytest.raises(ConfigError, match="book depth"):
        cheapest_limit(depth, TIERS)


def planner(order: str = "ABCDEFGH", max_in_flight: int = 2) -> SnapshotPlanner:
    return SnapshotPlanner(
        list(order), {s: 100 for s in order + "XY"}, TIERS, max_in_flight=max_in_flight
    )


def test_pending_snapshots_are_handed_out_most_important_first_whenever_asked() -> None:
    plan = planner(max_in_flight=8)
    for symbol in "HXCAFY":
        assert plan.request(symbol)
    assert not plan.request("C")  # already queued
    order = []
    while (job := plan.next()) is not None:
        order.append(job.symbol)
    assert order == ["A", "C", "F", "H", "X", "Y"]  # the bot's order; unlisted ones last
    assert plan.next() is None and plan.in_flight == 6


def test_no_more_than_max_in_flight_are_handed_out_until_one_is_done() -> None:
    plan = planner(max_in_flight=2)
    for symbol in "ABC":
        plan.request(symbol)
    first, second = plan.next(), plan.next()
    assert (first, second) == (SnapshotJob("A", 100, 5), SnapshotJob("B", 100, 5))
    assert plan.next() is None and plan.pending == 1
    plan.done("A")
    assert plan.next() == SnapshotJob("C", 100, 5)


def test_a_request_made_while_the_symbol_is_in_flight_is_queued_after_it() -> None:
    plan = planner()
    plan.request("A")
    assert plan.next() is not None
    assert plan.request("A")  # e.g. the fetched snapshot was too old: fetch again
    assert not plan.request("A")
    assert plan.next() is None  # not twice at once
    plan.done("A")
    job = plan.next()
    assert job is not None and job.symbol == "A"
    plan.done("A")
    assert plan.next() is None


def deep_planner() -> SnapshotPlanner:
    return SnapshotPlanner(
        list("ABCD"),
        dict.fromkeys("ABCD", 100),
        TIERS,
        max_in_flight=4,
        deep_limits=dict.fromkeys("ABC", 5000),
    )


def test_deepening_comes_after_every_book_still_waiting_to_be_valid() -> None:
    plan = deep_planner()
    assert plan.deepen("A") and plan.deepen("B")
    assert not plan.deepen("D")  # no deeper snapshot planned for D
    assert not plan.deepen("A")  # already queued
    plan.request("D")
    plan.request("C")
    jobs = [plan.next(), plan.next(), plan.next()]
    assert jobs == [
        SnapshotJob("C", 100, 5),
        SnapshotJob("D", 100, 5),
        SnapshotJob("A", 5000, 250, deepen=True),
    ]
    assert plan.next() is None  # one deepening at a time, although a slot is free
    plan.done("A")
    assert plan.next() == SnapshotJob("B", 5000, 250, deepen=True)


def test_a_resync_request_supersedes_a_queued_deepening_of_the_same_book() -> None:
    plan = deep_planner()
    plan.deepen("B")
    assert plan.request("B")  # the book went invalid: make it valid first, at the cheap tier
    assert plan.next() == SnapshotJob("B", 100, 5)
    assert plan.next() is None and plan.pending == 0
    plan.done("B")
    assert plan.next() is None  # the superseded deepening is gone


def test_unknown_symbols_and_bad_concurrency_are_refused() -> None:
    with pytest.raises(ConfigError, match="no snapshot limit"):
        planner().request("Z")
    for bad in (0, True, 1.5):
        with pytest.raises(ConfigError, match="max_in_flight"):
            SnapshotPlanner([], {}, TIERS, max_in_flight=bad)  # type: ignore[arg-type]


@pytest.fixture
def greenlets() -> Iterator[list[gevent.Greenlet]]:
    spawned: list[gevent.Greenlet] = []
    yield spawned
    gevent.killall(spawned, timeout=5)


def test_runner_fetches_in_the_bots_order_with_bounded_concurrency(
    greenlets: list[gevent.Greenlet],
) -> None:
    release = gevent.event.Event()
    fetched: list[str] = []
    busy: list[int] = []
    active = 0

    def fetch(job: SnapshotJob) -> None:
        nonlocal active
        active += 1
        busy.append(active)
        release.wait(timeout=5)
        fetched.append(job.symbol)
        active -= 1

    def spawn(func: Callable[[], None], name: str) -> gevent.Greenlet:
        greenlets.append(gevent.spawn(func))
        return greenlets[-1]

    runner = SnapshotRunner(planner(max_in_flight=3), fetch, spawn)
    for symbol in "HGF":
        runner.request(symbol)
    with gevent.Timeout(5):
        while len(busy) < 3:
            gevent.sleep(0.001)
    for symbol in "EDCBA":  # asked for later, while every slot is busy
        runner.request(symbol)
    assert len(greenlets) == 3  # one worker per in-flight slot, not one per symbol
    release.set()
    gevent.joinall(greenlets, timeout=5)
    assert all(g.dead for g in greenlets)
    assert max(busy) == 3
    assert set(fetched[:3]) == {"F", "G", "H"}  # these started before the rest were asked for
    assert fetched[3:] == ["A", "B", "C", "D", "E"]
    assert runner.planner.in_flight == 0 and runner.planner.pending == 0


def test_3000_snapshots_of_weight_5_need_three_calendar_minutes_from_any_start() -> None:
    start = T0 + 20 * NS_PER_SECOND  # 20 s into a minute
    starts = budget_schedule([5] * 3000, 6000, MINUTE_NS, start)
    assert starts[:1200] == [start] * 1200
    assert starts[1200:2400] == [T0 + MINUTE_NS] * 1200  # 40 s later, not 60
    assert starts[2400:] == [T0 + 2 * MINUTE_NS] * 600
    assert budget_schedule([5] * 3000, 6000, MINUTE_NS, start, used=5998)[0] == T0 + MINUTE_NS
    with pytest.raises(ConfigError):
        budget_schedule([7000], 6000, MINUTE_NS, start)


def test_a_book_made_valid_by_the_snapshot_in_flight_is_deepened_once_that_is_done() -> None:
    plan = deep_planner()
    plan.request("A")
    assert plan.next() == SnapshotJob("A", 100, 5)
    assert plan.deepen("A")  # BookValid arrives while the fetch is still in its slot
    assert not plan.deepen("A")
    assert plan.next() is None
    plan.done("A")
    assert plan.next() == SnapshotJob("A", 5000, 250, deepen=True)
    assert not plan.deepen("A")  # being deepened


def test_a_resync_asked_while_in_flight_wins_over_a_deepening_asked_then() -> None:
    plan = deep_planner()
    plan.request("A")
    plan.next()
    plan.deepen("A")
    plan.request("A")  # ... and then it went invalid again
    plan.done("A")
    assert plan.next() == SnapshotJob("A", 100, 5)
    plan.done("A")
    assert plan.next() is None


def test_a_plan_from_depths_takes_the_cheapest_tier_per_symbol_and_deepens_the_shallow() -> None:
    plan = SnapshotPlanner.for_depths(
        ["A", "B", "C"], TIERS, depth=20, depths={"B": 700}, deep_depth=800
    )
    assert [plan.limit(s) for s in "ABC"] == [100, 1000, 100]
    assert [plan.deep_limit(s) for s in "ABC"] == [1000, None, 1000]  # B is deep already
    forced = SnapshotPlanner.for_depths(["A"], TIERS, depth=20, limit=5000)
    assert forced.limit("A") == 5000 and forced.deep_limit("A") is None


def test_deepening_waits_for_spare_budget_until_the_next_window() -> None:
    clock = ManualClock(start_ns=T0 + 45 * NS_PER_SECOND)
    limiter = RateLimiter(clock, [Bucket("weight", 6000, 60.0)])
    assert spare_budget_wait(limiter, "weight", 250, 0.5, clock.time_ns()) == 0.0
    limiter.acquire({"weight": 2800})
    assert spare_budget_wait(limiter, "weight", 250, 0.5, clock.time_ns()) == 15.0
    assert spare_budget_wait(limiter, "weight", 250, 1.0, clock.time_ns()) == 0.0
    clock.advance(15.0)
    assert spare_budget_wait(limiter, "weight", 250, 0.5, clock.time_ns()) == 0.0
    with pytest.raises(ConfigError):
        spare_budget_wait(limiter, "weight", 250, 0.0, clock.time_ns())
    with pytest.raises(ConfigError):
        spare_budget_wait(limiter, "orders", 1, 0.5, clock.time_ns())


def test_a_symbol_added_later_ranks_after_every_symbol_planned_before_it() -> None:
    planner = SnapshotPlanner(["A", "B"], {"A": 100, "B": 100}, TIERS, max_in_flight=1)
    planner.add("C", 500, deep_limit=1000)
    for symbol in ("C", "B", "A"):
        planner.request(symbol)
    handed = []
    while (job := planner.next()) is not None:
        handed.append((job.symbol, job.limit, job.weight))
        planner.done(job.symbol)
    assert handed == [("A", 100, 5), ("B", 100, 5), ("C", 500, 25)]
    assert planner.deep_limit("C") == 1000 and planner.deep_limit("A") is None
