"""The Connector base: lifecycle, greenlet ownership, clock, event sink and error counting.

A venue connector subclasses :class:`Connector` and implements :meth:`Connector._start` (open
its feeds) and optionally :meth:`Connector._close` (close what it opened). The base owns the
greenlets (one :class:`~connectivity.runtime.Supervisor`), guards the life cycle (start once,
close many times, nothing after close) and delivers events to the bot through one
:data:`EventSink`: a plain callback, or :class:`QueueSink` for a bot that prefers to pull.

Collaborators (clock, REST client, websocket factory, signer, limiter) arrive through
``__init__``; the venue's ``from_config`` is the one place that builds the real ones. An order
API (place / cancel / replace through limiter -> signer -> transport -> parser) is added by
subclasses on top of the same pieces: its REST client, its clock and :meth:`emit`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent
import gevent.queue

from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.counters import ErrorCounter
from connectivity.core.events import Event, EventSink
from connectivity.errors import ClosedError
from connectivity.runtime import Supervisor

__all__ = ["Connector", "EventSink", "QueueSink"]


class QueueSink:
    """An event sink backed by a bounded gevent queue (oldest events dropped when full)."""

    def __init__(self, maxsize: int = 100_000) -> None:
        self.queue: gevent.queue.Queue[Event] = gevent.queue.Queue(maxsize)
        self.dropped = 0

    def __call__(self, event: Event) -> None:
        """Put ``event``; a full queue drops its oldest event rather than block the feed."""
        queue = self.queue
        if queue.full():
            try:
                queue.get_nowait()
            except gevent.queue.Empty:
                pass
            self.dropped += 1
        queue.put_nowait(event)

    def get(self, timeout: float) -> Event | None:
        """Return the next event, or None after ``timeout`` seconds."""
        try:
            return self.queue.get(timeout=timeout)
        except gevent.queue.Empty:
            return None


class Connector:
    """Base of every venue connector: owned greenlets, clock, event sink, error counters."""

    venue = ""

    def __init__(self, *, clock: Clock, sink: EventSink | None = None, name: str = "") -> None:
        self.clock = clock
        self.name = name or self.venue or type(self).__name__
        self.errors = ErrorCounter(self.name, clock.monotonic_ns)
        self._sink = sink
        self._supervisor = Supervisor(self.name, on_failure=self._greenlet_failed)
        self._started = False
        self._closed = False

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the connector's feeds (once)."""
        if self._closed:
            raise ClosedError(f"connector {self.name} is closed")
        if self._started:
            return
        self._started = True
        self._start()

    def close(self) -> None:
        """Close feeds and kill and join every owned greenlet (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._close()
        finally:
            self._supervisor.close()

    @property
    def closed(self) -> bool:
        """Return True once :meth:`close` ran."""
        return self._closed

    def __enter__(self) -> Connector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        """Open the venue's feeds (subclasses)."""
        raise NotImplementedError

    def _close(self) -> None:
        """Close what :meth:`_start` opened (subclasses; greenlets are killed by the base)."""

    # -- services for subclasses -----------------------------------------------------------
    def spawn(self, func: Callable[..., Any], *args: Any, name: str | None = None) -> Any:
        """Run ``func(*args)`` in a greenlet owned by this connector."""
        return self._supervisor.spawn(func, *args, name=name)

    def every(self, interval_s: float, func: Callable[[], None], name: str) -> Any:
        """Run ``func`` every ``interval_s`` seconds (on the clock) until close."""

        def loop() -> None:
            while not self._closed:
                self.clock.sleep(interval_s)
                try:
                    func()
                except Exception as exc:  # a periodic task must survive one bad run
                    self.count_error(exc, f"periodic {name} failed")

        return self.spawn(loop, name=name)

    def emit(self, event: Event) -> None:
        """Hand ``event`` to the bot's sink (its exceptions are counted, never propagated)."""
        sink = self._sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception as exc:
            self.count_error(exc, "event sink raised")

    def count_error(self, exc: BaseException, what: str) -> None:
        """Count ``exc`` by type (see :class:`ErrorCounter` for how often it is logged)."""
        self.errors.count(exc, what)

    def _greenlet_failed(self, name: str, exc: BaseException) -> None:
        self.count_error(exc, f"greenlet {name} died")

    def now_s(self) -> float:
        """Return the clock's monotonic time in seconds (for rates in reports)."""
        return self.clock.monotonic_ns() / NS_PER_SECOND

    def __repr__(self) -> str:
        state = "closed" if self._closed else "started" if self._started else "new"
        return f"{type(self).__name__}({self.name!r}, {state})"
