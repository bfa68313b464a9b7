"""ClockSync: a supervised greenlet sampling the venue clock on a ManualClock."""

from __future__ import annotations

import gevent
import gevent.event

from connectivity.connector.clock_sync import ClockSync
from connectivity.core.clock import NS_PER_MS, NS_PER_SECOND, ManualClock
from connectivity.core.timesync import ClockOffsetEstimator
from connectivity.errors import ConnectFailed
from connectivity.runtime import Supervisor


class FakeVenueClock:
    """The venue's time endpoint: ``skew_ns`` ahead; fails while ``down``."""

    def __init__(self, clock: ManualClock, skew_ns: int) -> None:
        self.clock, self.skew_ns, self.down, self.calls = clock, skew_ns, False, 0

    def __call__(self) -> int:
        self.calls += 1
        if self.down:
            raise ConnectFailed("venue unreachable")
        return self.clock.time_ns() + self.skew_ns


def test_supervised_sync_bursts_at_start_then_samples_every_interval() -> None:
    clock = ManualClock()
    venue = FakeVenueClock(clock, skew_ns=-750 * NS_PER_MS)
    sync = ClockSync(ClockOffsetEstimator(), venue, clock, interval_s=30, burst=3)
    supervisor = Supervisor("test")
    try:
        sync.start(supervisor.spawn)
        gevent.sleep(0)
        assert venue.calls == 3 and clock.sleepers == 1
        assert sync.estimator.offset_ns(clock.time_ns()) == -750 * NS_PER_MS
        clock.advance(29)
        assert venue.calls == 3
        clock.advance(1)
        assert venue.calls == 4 and sync.samples_taken == 4
    finally:
        supervisor.close()
    assert supervisor.failure_count == 0


def test_failed_samples_are_reported_and_retried_sooner() -> None:
    clock = ManualClock()
    venue = FakeVenueClock(clock, skew_ns=2 * NS_PER_SECOND)
    venue.down = True
    errors: list[BaseException] = []
    sync = ClockSync(
        ClockOffsetEstimator(), venue, clock, interval_s=60, retry_s=5, on_error=errors.append
    )
    supervisor = Supervisor("test")
    try:
        sync.start(supervisor.spawn)
        gevent.sleep(0)
        assert sync.failures == 1 and isinstance(errors[0], ConnectFailed)
        assert not sync.estimator.synced
        venue.down = False
        clock.advance(5)
        assert sync.estimator.offset_ns(clock.time_ns()) == 2 * NS_PER_SECOND
    finally:
        supervisor.close()


def test_concurrent_resyncs_share_one_burst() -> None:
    clock = ManualClock()
    gate = gevent.event.Event()

    def slow_venue() -> int:
        gate.wait(timeout=5)
        return clock.time_ns()

    sync = ClockSync(ClockOffsetEstimator(), slow_venue, clock, burst=2)
    callers = [gevent.spawn(sync.resync) for _ in range(5)]
    gevent.sleep(0)
    gate.set()
    gevent.joinall(callers, timeout=5, raise_error=True)
    assert sync.samples_taken == 2


def test_rtt_comes_from_the_monotonic_clock() -> None:
    clock = ManualClock()

    def venue() -> int:
        now = clock.time_ns()
        clock.advance(0.2)  # 200 ms round trip; the venue read its clock on arrival
        return now + 100 * NS_PER_MS

    sync = ClockSync(ClockOffsetEstimator(), venue, clock)
    sample = sync.sample()
    assert sample.rtt_ns == 200 * NS_PER_MS
    assert sample.offset_ns == 0  # read at the midpoint: send + 100 ms


def test_wait_samples_returns_once_enough_were_taken_or_false_on_timeout() -> None:
    clock = ManualClock()
    sync = ClockSync(ClockOffsetEstimator(), clock.time_ns, clock, burst=2)
    assert not sync.wait_samples(1, timeout=0.01)
    waiter = gevent.spawn(sync.wait_samples, 2, 5)
    gevent.sleep(0)
    sync.resync()
    assert waiter.get(timeout=5) is True
