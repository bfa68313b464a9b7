"""The client limiter and the simulated Binance venue count request weight the same way.

Both use calendar-minute windows (``connectivity.core.ratelimit.fixed_window``), a 429 costs
no longer than its ``Retry-After``, and the venue's usage headers raise the client's count.
Everything runs on a ManualClock shared by client and simulator: no wall-clock races.
"""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest

from connectivity.core.clock import NS_PER_SECOND, ManualClock
from connectivity.core.ratelimit import Bucket, RateLimiter, fixed_window
from connectivity.errors import ConfigError, RateLimited
from connectivity.sim.http import WeightMeter
from connectivity.transport.http import RestClient
from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig
from exchanges.binance.endpoints import DEPTH, USED_WEIGHT_HEADER, WEIGHT_BUCKET
from exchanges.binance.errors import binance_error_mapper
from exchanges.binance.sim import BinanceSimVenue

MINUTE = 1_700_000_040 * NS_PER_SECOND  # a calendar-minute boundary (UTC)
LIMIT = 6000


def at(seconds_into_minute: float) -> ManualClock:
    return ManualClock(start_ns=MINUTE + int(seconds_into_minute * NS_PER_SECOND))


@pytest.fixture
def clock() -> ManualClock:
    return at(57.3)


@pytest.fixture
def venue(clock: ManualClock) -> Iterator[BinanceSimVenue]:
    with BinanceSimVenue(seed=3, clock=clock) as sim:  # ticks wait for the ManualClock
        yield sim


@pytest.fixture
def limiter(clock: ManualClock) -> RateLimiter:
    return RateLimiter(clock, [Bucket(WEIGHT_BUCKET, LIMIT, 60.0)], max_wait=0)


@pytest.fixture
def rest(venue: BinanceSimVenue, clock: ManualClock, limiter: RateLimiter) -> Iterator[RestClient]:
    client = RestClient(
        venue.rest_url,
        venue="binance",
        clock=clock,
        limiter=limiter,
        usage_headers={USED_WEIGHT_HEADER: WEIGHT_BUCKET},
        error_mapper=binance_error_mapper,
    )
    yield client
    client.close()


def wait_sleepers(clock: ManualClock, count: int) -> None:
    with gevent.Timeout(5):
        while clock.sleepers < count:
            gevent.sleep(0.001)


def depth(rest: RestClient, limit: int = 100) -> None:
    DEPTH.call(rest, {"symbol": "BTCUSDT", "limit": limit})


def test_fixed_window_is_the_calendar_minute_holding_the_time() -> None:
    minute = 60 * NS_PER_SECOND
    assert fixed_window(MINUTE, minute) == (MINUTE // minute, MINUTE + minute)
    assert fixed_window(MINUTE - 1, minute) == (MINUTE // minute - 1, MINUTE)


def test_simulator_meter_and_client_limiter_open_and_close_the_same_windows() -> None:
    clock = at(41.0)
    meter = WeightMeter(clock, LIMIT)
    limiter = RateLimiter(clock, [Bucket(WEIGHT_BUCKET, LIMIT, 60.0)], max_wait=0)
    granted_per_step = []
    for _ in range(40):  # 40 steps of 7 s: several minute boundaries at different phases
        granted = 0
        while True:
            try:
                limiter.acquire({WEIGHT_BUCKET: 250})
            except RateLimited:
                break
            assert meter.charge(250) <= LIMIT  # the venue accepts whatever the client sends
            granted += 1
        # ... and would refuse the next one: the client does not leave budget unused either.
        assert meter.used + 250 > LIMIT
        granted_per_step.append(granted)
        clock.advance(7.0)
    # A fresh window grants the whole budget at once, then nothing until the next boundary.
    assert set(granted_per_step) == {0, LIMIT // 250}
    windows = {(41 + 7 * step) // 60 for step in range(40)}
    assert granted_per_step.count(LIMIT // 250) == len(windows)


def test_429_retry_after_is_the_time_left_in_the_calendar_minute(
    venue: BinanceSimVenue, rest: RestClient, limiter: RateLimiter, clock: ManualClock
) -> None:
    venue.weight.charge(LIMIT - 5)  # another process on our IP spent the budget
    depth(rest)  # the last 5: accepted
    with pytest.raises(RateLimited):  # refused locally: the header told the limiter
        depth(rest)
    other = RateLimiter(clock, [Bucket(WEIGHT_BUCKET, LIMIT, 60.0)], max_wait=0)
    blind = RestClient(venue.rest_url, venue="binance", clock=clock, limiter=other)
    try:
        with pytest.raises(RateLimited) as caught:  # a client that did not know: 429
            depth(blind)
        assert caught.value.status == 429
        assert caught.value.retry_after == 3.0  # 57.3 s into the minute: 2.7 s, rounded up
        assert other.blocked_until_ns == clock.time_ns() + 3 * NS_PER_SECOND
        clock.advance(3.0)  # the new minute: the venue and the client both reopen
        depth(blind)
    finally:
        blind.close()


def test_usage_headers_from_the_simulator_raise_the_client_limiter_count(
    venue: BinanceSimVenue, rest: RestClient, limiter: RateLimiter
) -> None:
    venue.weight.charge(5000)  # spent by someone else on the same IP
    depth(rest)
    assert limiter.usage(WEIGHT_BUCKET) == 5005
    assert limiter.stats.corrections == 1
    with pytest.raises(RateLimited):
        limiter.acquire({WEIGHT_BUCKET: 1000})  # no 429 needed: the client already knows


def test_a_snapshot_refused_with_429_is_retried_after_retry_after_not_after_the_backoff(
    venue: BinanceSimVenue, rest: RestClient, clock: ManualClock
) -> None:
    config = BinanceMarketDataConfig(
        symbols=("BTCUSDT",), rest_url=venue.rest_url, ws_url=venue.ws_url, snapshot_retry_s=30.0
    )
    md = BinanceMarketData(config, clock=clock, rest=rest, connection_factory=lambda *a, **k: None)
    venue.weight.charge(LIMIT)
    wait_sleepers(clock, 1)  # the venue's market loop is parked
    fetch = gevent.spawn(md._fetch_snapshot, "BTCUSDT")
    try:
        wait_sleepers(clock, 2)  # ... and so is the fetch, after its 429
        clock.advance(3.0)  # Retry-After: 3 s, far below the 30 s backoff
        fetch.join(timeout=5)
        assert fetch.dead and fetch.exception is None, fetch.exception
        assert md.snapshot_failures == 1
    finally:
        fetch.kill()


def test_a_draw_straddling_the_minute_is_counted_in_both_so_the_venue_never_sees_too_much() -> None:
    clock = at(59.6)
    meter = WeightMeter(clock, LIMIT)
    edge = RateLimiter(clock, [Bucket(WEIGHT_BUCKET, LIMIT, 60.0, edge_s=1.0)], max_wait=0)
    edge.acquire({WEIGHT_BUCKET: 250})  # drawn at 59.6 s ...
    clock.advance(0.5)
    meter.charge(250)  # ... and counted by the venue on arrival, in the next minute
    granted = 0
    while True:
        try:
            edge.acquire({WEIGHT_BUCKET: 250})
        except RateLimited:
            break
        assert meter.charge(250) <= LIMIT  # never a 429
        granted += 1
    assert granted == LIMIT // 250 - 1


def test_a_draw_just_before_the_minute_also_counts_in_the_next_one() -> None:
    clock = at(30.0)
    limiter = RateLimiter(clock, [Bucket(WEIGHT_BUCKET, 500, 60.0, edge_s=1.0)], max_wait=0)
    clock.advance(29.5)  # 59.5 s: within the edge
    limiter.acquire({WEIGHT_BUCKET: 400})  # counted in this minute and the next
    clock.advance(0.6)
    assert limiter.usage(WEIGHT_BUCKET) == 400  # the next minute starts with it
    with pytest.raises(RateLimited):
        limiter.acquire({WEIGHT_BUCKET: 200})


def test_an_edge_as_long_as_the_window_is_refused() -> None:
    with pytest.raises(ConfigError, match="edge_s"):
        Bucket(WEIGHT_BUCKET, LIMIT, 60.0, edge_s=60.0)
