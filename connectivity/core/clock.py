"""The one seam for time: wall clock, monotonic clock and sleeping.

No other module calls ``time.time()``, ``time.monotonic()`` or sleeps directly (a test
enforces it), so every timer, backoff and heartbeat can be driven by :class:`ManualClock`.

``core`` must not import gevent. :class:`SystemClock` sleeps with ``time.sleep`` and relies on
the entry point having run :func:`connectivity.runtime.patch` (gevent's monkey-patching), which
turns it into a cooperative sleep. :class:`ManualClock` parks sleepers on ``threading`` events,
which the same patching turns into gevent events.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["NS_PER_MS", "NS_PER_SECOND", "Clock", "ManualClock", "SystemClock"]

NS_PER_SECOND = 1_000_000_000
NS_PER_MS = 1_000_000


@runtime_checkable
class Clock(Protocol):
    """Source of time and of (cooperative) sleeping."""

    def time_ns(self) -> int:
        """Return wall-clock time in integer nanoseconds since the Unix epoch."""

    def monotonic_ns(self) -> int:
        """Return a monotonic time in integer nanoseconds (for intervals only)."""

    def sleep(self, seconds: float) -> None:
        """Block the calling greenlet for ``seconds``."""


class SystemClock:
    """The real clock; sleeping is cooperative once gevent has patched ``time``."""

    __slots__ = ()

    def time_ns(self) -> int:
        """Return wall-clock nanoseconds."""
        return time.time_ns()

    def monotonic_ns(self) -> int:
        """Return monotonic nanoseconds."""
        return time.monotonic_ns()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` (a gevent sleep under monkey-patching)."""
        time.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when a test calls :meth:`advance`.

    Greenlets that call :meth:`sleep` park until the clock has been advanced past their
    deadline; :meth:`advance` wakes them in deadline order, setting the time to each deadline
    as it goes, and yields so that each woken greenlet runs before the next one wakes.
    """

    def __init__(self, start_ns: int = 1_700_000_000 * NS_PER_SECOND) -> None:
        self._now = start_ns
        self._start = start_ns
        self._sleepers: list[tuple[int, int, threading.Event]] = []
        self._counter = itertools.count()

    def time_ns(self) -> int:
        """Return the manual wall-clock time."""
        return self._now

    def monotonic_ns(self) -> int:
        """Return nanoseconds since this clock was created (plus advances)."""
        return self._now - self._start

    def sleep(self, seconds: float) -> None:
        """Park until the clock is advanced by at least ``seconds``; ``0`` only yields."""
        if seconds <= 0:
            time.sleep(0)
            return
        event = threading.Event()
        deadline = self._now + int(seconds * NS_PER_SECOND)
        heapq.heappush(self._sleepers, (deadline, next(self._counter), event))
        event.wait()

    @property
    def sleepers(self) -> int:
        """Return how many greenlets are parked on this clock."""
        return len(self._sleepers)

    def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline is reached, in order."""
        target = self._now + int(seconds * NS_PER_SECOND)
        self._yield()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, event = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            event.set()
            self._yield()
        self._now = max(self._now, target)
        self._yield()

    @staticmethod
    def _yield() -> None:
        # A few hub turns so woken greenlets run (and may re-arm) before time moves on.
        for _ in range(3):
            time.sleep(0)

    def __repr__(self) -> str:
        return f"ManualClock(now_ns={self._now}, sleepers={len(self._sleepers)})"
