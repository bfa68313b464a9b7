"""The Connector base: life cycle, owned greenlets, periodic tasks, sinks, error counting."""

from __future__ import annotations

import gevent
import pytest

from connectivity.connector.base import Connector, QueueSink
from connectivity.core.clock import ManualClock
from connectivity.errors import ClosedError


class _Probe(Connector):
    venue = "probe"

    def __init__(self, clock: ManualClock, sink: QueueSink | None = None) -> None:
        super().__init__(clock=clock, sink=sink)
        self.starts = 0
        self.closes = 0

    def _start(self) -> None:
        self.starts += 1

    def _close(self) -> None:
        self.closes += 1


def test_start_runs_once_close_is_idempotent_and_nothing_starts_after_close() -> None:
    probe = _Probe(ManualClock())
    with probe:
        probe.start()
    probe.close()
    assert (probe.starts, probe.closes) == (1, 1) and probe.closed
    with pytest.raises(ClosedError):
        probe.start()


def test_periodic_task_survives_a_failing_run_and_dies_with_the_connector() -> None:
    clock = ManualClock()
    probe = _Probe(clock)
    runs: list[int] = []

    def task() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ValueError("bad run")

    greenlet = probe.every(1.0, task, "probe-task")
    gevent.sleep(0)
    clock.advance(3.0)
    assert runs == [0, 1, 2]
    assert probe.errors["ValueError"] == 1
    probe.close()
    assert greenlet.dead


def test_queue_sink_drops_the_oldest_event_when_full_and_a_raising_sink_is_counted() -> None:
    sink = QueueSink(maxsize=2)
    for event in ("a", "b", "c"):
        sink(event)
    assert [sink.get(timeout=0), sink.get(timeout=0), sink.get(timeout=0)] == ["b", "c", None]
    assert sink.dropped == 1

    def broken(event: object) -> None:
        raise RuntimeError("bot bug")

    probe = Connector(clock=ManualClock(), sink=broken, name="x")
    probe.emit("event")
    assert probe.errors["RuntimeError"] == 1
    probe.close()
