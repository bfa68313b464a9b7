"""ClockOffsetEstimator: round-trip midpoints, min-RTT filtering, drift, clock steps."""

from __future__ import annotations

import pytest

from connectivity.core.clock import NS_PER_MS, NS_PER_SECOND
from connectivity.core.timesync import ClockOffsetEstimator

T0 = 1_700_000_000 * NS_PER_SECOND


def trip(est: ClockOffsetEstimator, at: int, offset: int, up_ms: float, down_ms: float) -> None:
    """Send at local ``at``; the venue (``offset`` ahead) reads its clock after ``up_ms``."""
    up, down = round(up_ms * NS_PER_MS), round(down_ms * NS_PER_MS)
    est.add(at, at + up + offset, at + up + down)


def test_unsynced_estimator_reports_zero_offset() -> None:
    est = ClockOffsetEstimator()
    assert not est.synced and est.offset_ns(T0) == 0 and est.error_bound_ns is None


def test_symmetric_round_trip_gives_the_exact_offset_not_offset_plus_rtt() -> None:
    est = ClockOffsetEstimator()
    trip(est, T0, offset=-250 * NS_PER_MS, up_ms=200, down_ms=200)
    # The full RTT (400 ms) must not be added: that is what earns "1000ms ahead" -1021s.
    assert est.offset_ns(T0) == -250 * NS_PER_MS
    assert est.error_bound_ns == 200 * NS_PER_MS


def test_slow_asymmetric_round_trips_are_filtered_out_by_the_fast_ones() -> None:
    est = ClockOffsetEstimator(window=8, best=2)
    true_offset = 1_234 * NS_PER_MS
    trip(est, T0, true_offset, up_ms=5, down_ms=5)
    trip(est, T0 + NS_PER_SECOND, true_offset, up_ms=5, down_ms=5)
    for i in range(2, 8):  # congested: the answer is stuck on the way back
        trip(est, T0 + i * NS_PER_SECOND, true_offset, up_ms=2, down_ms=300)
    assert est.offset_ns(T0 + 8 * NS_PER_SECOND) == true_offset
    assert est.error_bound_ns == 5 * NS_PER_MS


def test_one_slow_sample_alone_is_off_by_at_most_half_its_rtt() -> None:
    est = ClockOffsetEstimator()
    trip(est, T0, 0, up_ms=0, down_ms=300)
    assert abs(est.offset_ns(T0)) <= 150 * NS_PER_MS == est.error_bound_ns


def test_drift_is_fitted_and_extrapolated_once_samples_span_long_enough() -> None:
    est = ClockOffsetEstimator(window=16, best=16, min_drift_span_s=60)
    drift_ppm = 50  # the venue clock gains 50 us per second on ours
    for i in range(7):
        at = T0 + i * 20 * NS_PER_SECOND
        trip(est, at, 10 * NS_PER_MS + (at - T0) * drift_ppm // 1_000_000, 1, 1)
    assert est.drift_ppb == pytest.approx(50_000, abs=10)
    later = T0 + 600 * NS_PER_SECOND  # ten minutes on: 30 ms of drift accumulated
    expected = 10 * NS_PER_MS + 600 * NS_PER_SECOND * drift_ppm // 1_000_000
    assert abs(est.offset_ns(later) - expected) < NS_PER_MS // 10


def test_no_drift_is_fitted_over_a_short_span() -> None:
    est = ClockOffsetEstimator(min_drift_span_s=60)
    trip(est, T0, 0, 1, 1)
    trip(est, T0 + NS_PER_SECOND, NS_PER_MS, 1, 1)
    assert est.drift_ppb == 0


def test_drift_is_clamped_to_a_sane_rate() -> None:
    est = ClockOffsetEstimator(best=2, min_drift_span_s=1, max_drift_ppm=100)
    trip(est, T0, 0, 1, 1)
    trip(est, T0 + 2 * NS_PER_SECOND, 400 * NS_PER_MS, 1, 1)  # 200 ms/s: not a crystal
    assert est.drift_ppb == 100_000


def test_a_local_clock_step_restarts_the_window() -> None:
    est = ClockOffsetEstimator(best=4)
    for i in range(4):
        trip(est, T0 + i * NS_PER_SECOND, 0, 1, 1)
    # NTP stepped our clock back 3 s: the venue now looks 3 s ahead.
    trip(est, T0 + 5 * NS_PER_SECOND, 3 * NS_PER_SECOND, 20, 20)
    assert est.steps == 1 and len(est.samples) == 1
    assert est.offset_ns(T0 + 5 * NS_PER_SECOND) == 3 * NS_PER_SECOND


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        ClockOffsetEstimator(window=2, best=3)
    with pytest.raises(ValueError, match="received before sent"):
        ClockOffsetEstimator().add(T0, T0, T0 - 1)


def test_reset_forgets_every_sample() -> None:
    est = ClockOffsetEstimator()
    trip(est, T0, NS_PER_SECOND, 1, 1)
    est.reset()
    assert not est.synced and est.offset_ns(T0) == 0 and est.venue_time_ns(T0) == T0
