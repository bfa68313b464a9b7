from connectivity.core.latency import LatencyRecorder


def test_percentiles_are_nearest_rank_over_the_window() -> None:
    rec = LatencyRecorder(window=100)
    for value in range(1, 101):
        rec.add(value)
    assert rec.percentile(50) == 50 and rec.percentile(99) == 99 and rec.percentile(100) == 100
    assert rec.summary() == {"count": 100, "last_ns": 100, "p50_ns": 50, "p90_ns": 90, "p99_ns": 99}


def test_window_keeps_only_the_most_recent_samples() -> None:
    rec = LatencyRecorder(window=3)
    for value in (1000, 1, 2, 3):
        rec.add(value)
    assert list(rec.samples) == [1, 2, 3] and rec.count == 4 and rec.percentile(100) == 3


def test_empty_recorder_has_no_percentile() -> None:
    assert LatencyRecorder().percentile(50) is None
