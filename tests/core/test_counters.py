"""ErrorCounter: every error counted, the log spared (first one, then one per interval)."""

from __future__ import annotations

import pytest

from connectivity.core.clock import ManualClock
from connectivity.core.counters import ErrorCounter
from connectivity.errors import ParseError


def test_every_error_is_counted_but_logged_once_per_interval_with_the_suppressed_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    errors = ErrorCounter("feed", clock.monotonic_ns, log_interval_ns=1_000)
    with caplog.at_level("WARNING", logger="connectivity.core.counters"):
        for _ in range(5):
            errors.count(ParseError("bad"), "bad frame")
        clock.advance(0.001)
        errors.count(ParseError("bad"), "bad frame")
        errors.count(ValueError("odd"), "odd value", key="Odd")
    assert errors == {"ParseError": 6, "Odd": 1}
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and "(+4 suppressed)" in lines[1] and "Odd" in lines[2]


def test_a_copy_is_an_independent_snapshot() -> None:
    errors = ErrorCounter("feed", lambda: 0)
    errors.count(ParseError("bad"), "bad frame")
    snapshot = errors.copy()
    errors.count(ParseError("bad"), "bad frame")
    assert snapshot == {"ParseError": 1} and snapshot.owner == "feed"
