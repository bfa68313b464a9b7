"""Test-wide setup: gevent patched first; no greenlet outlives its test, no test hangs."""

from connectivity.runtime import patch

patch()  # before anything imports socket, ssl, threading or time

import signal  # noqa: E402
import traceback  # noqa: E402
import weakref  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import greenlet  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# No timed assertions: hypothesis's per-example deadline and its too-slow health check both fail
# a correct test when a loaded machine runs it slowly. Speed is measured in benchmarks/.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

DATA = Path(__file__).resolve().parent / "data"
"""Third-party test data kept in the repository; origins and licences in ``data/SOURCES.md``."""

# Every gevent greenlet that ever runs is switched into at least once: record it on the way.
# (A gc scan per test finds the same set but costs ~35 ms; this costs a call per switch.)
_seen: weakref.WeakSet[gevent.Greenlet] = weakref.WeakSet()


def _trace(event: str, args: tuple[object, object]) -> None:
    if event in ("switch", "throw") and isinstance(args[1], gevent.Greenlet):
        _seen.add(args[1])


greenlet.settrace(_trace)


def _live_greenlets() -> set[gevent.Greenlet]:
    gevent.sleep(0)  # let just-spawned greenlets run once, so the trace sees them
    return {g for g in list(_seen) if g}


@pytest.fixture(autouse=True)
def no_leaked_greenlets() -> Iterator[None]:
    """Fail any test that leaves a started greenlet alive (owners must close and join)."""
    before = _live_greenlets()
    yield
    leaked: set[gevent.Greenlet] = set()
    for _ in range(20):  # a short grace period for greenlets that are already exiting
        leaked = _live_greenlets() - before
        if not leaked:
            return
        gevent.sleep(0.01)
    names = sorted(str(getattr(g, "name", g)) for g in leaked)
    gevent.killall(list(leaked), timeout=2)
    pytest.fail(f"test leaked {len(leaked)} live greenlet(s): {names}")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """Time a test out with SIGALRM and raise in the test's greenlet, whichever one is running.

    pytest-timeout's own signal handler raises in whatever runs when the alarm fires: the hub
    (a hang waiting on I/O) or, when a spawned greenlet spins without yielding, that greenlet,
    whose death then lets the test go on as if nothing happened. Its 'thread' method is no
    better under gevent: the timer thread is a greenlet that never runs while the hub is stuck.
    """
    from pytest_timeout import is_debugging

    if settings.method != "signal":
        return None
    test = greenlet.getcurrent()

    def expire(signum: int, frame: FrameType | None) -> None:
        if not settings.disable_debugger_detection and is_debugging():
            return  # someone is stepping through the test
        current = greenlet.getcurrent()
        stacks = "".join(
            f"\n--- {g!r}\n" + "".join(traceback.format_stack(g.gr_frame or frame))
            for g in list(_seen)
            if g
        )  # the running greenlet has no gr_frame: its stack is the interrupted frame's
        failure = pytest.fail.Exception(f"Timeout (>{settings.timeout}s); live greenlets:{stacks}")
        if current is test:
            raise failure
        test.throw(failure)  # from the hub or a spinning greenlet: unwind the test itself

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # read by pytest-timeout
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True
