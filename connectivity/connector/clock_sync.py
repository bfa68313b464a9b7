"""Keep a venue clock-offset estimate fresh: periodic server-time samples on the Clock seam.

:class:`ClockSync` asks the venue for its time (a callable the venue supplies, e.g. Binance's
``GET /api/v3/time``), feeds each round trip to a pure
:class:`~connectivity.core.timesync.ClockOffsetEstimator`, and runs as one greenlet owned by
a connector or a :class:`~connectivity.runtime.Supervisor` (:meth:`ClockSync.start`). A
venue's "your timestamp is off" rejection calls :meth:`ClockSync.resync`: a short burst of
samples, shared by every greenlet that asks while one is running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock

from connectivity.core.clock import Clock
from connectivity.core.timesync import ClockOffsetEstimator, OffsetSample
from connectivity.errors import ConnectivityError

__all__ = ["ClockSync"]

ServerTime = Callable[[], int]  # one request: the venue's clock reading in ns


class ClockSync:
    """Sample a venue's clock every ``interval_s`` (``retry_s`` after a failure) into ``estimator``.

    ``burst`` samples are taken at start and on :meth:`resync`; the estimator keeps the ones
    with the smallest round trips, so a burst gives it a good sample quickly. A failed sample
    goes to ``on_error`` (the owner counts it) and the loop carries on.
    """

    def __init__(
        self,
        estimator: ClockOffsetEstimator,
        server_time: ServerTime,
        clock: Clock,
        *,
        interval_s: float = 60.0,
        retry_s: float = 5.0,
        burst: int = 3,
        resync_timeout_s: float = 30.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.estimator = estimator
        self._server_time = server_time
        self._clock = clock
        self.interval_s = interval_s
        self.retry_s = retry_s
        self.burst = burst
        self._resync_timeout_s = resync_timeout_s
        self._on_error = on_error
        self._resyncing = gevent.lock.Semaphore()
        self._sampled = gevent.event.Event()  # replaced after each sample: wakes every waiter
        self.samples_taken = 0
        self.failures = 0

    def sample(self) -> OffsetSample:
        """Take one round trip now and add it to the estimator."""
        clock = self._clock
        sent, started = clock.time_ns(), clock.monotonic_ns()
        server = self._server_time()
        # The RTT comes from the monotonic clock: a wall-clock step mid-request cannot fake it.
        sample = self.estimator.add(sent, server, sent + clock.monotonic_ns() - started)
        self.samples_taken += 1
        self._sampled.set()
        self._sampled = gevent.event.Event()
        return sample

    def wait_samples(self, count: int, timeout: float) -> bool:
        """Block until ``count`` samples were taken in all; False if ``timeout`` s pass first.

        A connector calls ``wait_samples(1, ...)`` after :meth:`start` so its first signed
        request already carries a synced timestamp.
        """
        with gevent.Timeout(timeout, False):
            while self.samples_taken < count:
                self._sampled.wait()
        return self.samples_taken >= count

    def resync(self) -> None:
        """Take a burst of samples now; callers arriving meanwhile wait for that burst instead."""
        if self._resyncing.locked():
            self._resyncing.wait(timeout=self._resync_timeout_s)
            return
        with self._resyncing:
            for _ in range(self.burst):
                self.sample()

    def run(self) -> None:
        """Resync, then sample every ``interval_s`` for ever (the owner kills the greenlet)."""
        first = True
        while True:
            try:
                self.resync() if first else self.sample()
                first, pause = False, self.interval_s
            except ConnectivityError as exc:  # the venue or the network: try again soon
                self.failures += 1
                pause = self.retry_s
                if self._on_error is not None:
                    self._on_error(exc)
            self._clock.sleep(pause)

    def start(self, spawn: Callable[..., Any], name: str = "clock-sync") -> Any:
        """Run :meth:`run` in a greenlet from the owner's ``spawn`` (Connector or Supervisor)."""
        return spawn(self.run, name=name)

    def __repr__(self) -> str:
        return f"ClockSync({self.estimator!r}, samples={self.samples_taken})"
