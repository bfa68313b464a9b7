import gevent

from connectivity.core.clock import NS_PER_SECOND, Clock, ManualClock, SystemClock


def test_system_clock_is_a_clock_and_moves_forward() -> None:
    clock = SystemClock()
    assert isinstance(clock, Clock)
    a = clock.monotonic_ns()
    clock.sleep(0.001)
    assert clock.monotonic_ns() > a
    assert clock.time_ns() > 1_600_000_000 * NS_PER_SECOND


def test_manual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = ManualClock()
    woke: list[tuple[str, int]] = []

    def sleeper(name: str, seconds: float) -> None:
        clock.sleep(seconds)
        woke.append((name, clock.monotonic_ns()))

    greenlets = [gevent.spawn(sleeper, "late", 5), gevent.spawn(sleeper, "early", 1)]
    gevent.sleep(0)
    assert clock.sleepers == 2
    clock.advance(0.5)
    assert woke == []
    clock.advance(1)
    assert woke == [("early", 1 * NS_PER_SECOND)]
    clock.advance(10)
    assert woke == [("early", NS_PER_SECOND), ("late", 5 * NS_PER_SECOND)]
    assert clock.monotonic_ns() == int(11.5 * NS_PER_SECOND)
    gevent.joinall(greenlets, timeout=1)


def test_manual_clock_drives_a_periodic_timer_without_real_waiting() -> None:
    clock = ManualClock()
    ticks: list[int] = []

    def timer() -> None:
        for _ in range(5):
            clock.sleep(2)
            ticks.append(clock.monotonic_ns() // NS_PER_SECOND)

    g = gevent.spawn(timer)
    gevent.sleep(0)
    clock.advance(100)
    assert ticks == [2, 4, 6, 8, 10]
    g.join(timeout=1)
    assert g.dead


def test_manual_clock_zero_sleep_only_yields() -> None:
    clock = ManualClock()
    clock.sleep(0)
    assert clock.monotonic_ns() == 0
