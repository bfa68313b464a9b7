"""Venue clock-offset estimation: pure arithmetic over (send, server time, receive) samples.

One sample is a request for the venue's time: sent at local ``t0``, answered with server time
``S``, received at local ``t1``. Assuming the two legs take equally long, the server read its
clock at the local midpoint ``t0 + rtt/2``, so ``offset = S - (t0 + rtt/2)``. Its error is at
most ``rtt/2`` (all of the trip on one leg). Adding the *whole* RTT instead, as one library did,
pushes timestamps ahead of the server and earns Binance's "1000ms ahead" -1021 rejections
(``specs/binance.md`` 7.1): the midpoint is the unbiased choice.

Filtering: a slow round trip (queueing, GC, a busy hub) widens the error bound and usually
skews the legs, so only the samples with the smallest RTTs in the window count. Drift: two
crystals disagree by tens of ppm, i.e. milliseconds per minute; the offset is fitted as a line
over the filtered samples once they span long enough, and extrapolated to "now". A local clock
step (NTP slew or jump) shows as a sample far off the prediction: the window restarts.

Everything is integer nanoseconds; nothing here reads a clock or sleeps.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import attrs

from connectivity.core.clock import NS_PER_MS, NS_PER_SECOND

__all__ = ["ClockOffsetEstimator", "OffsetSample", "OffsetSource"]

PPB = 1_000_000_000  # drift is carried in parts per billion


class OffsetSource(Protocol):
    """Anything that tells how far the venue's clock is ahead of ours."""

    def offset_ns(self, local_ns: int) -> int:
        """Return ``venue time - local time`` (ns) at local wall time ``local_ns``."""


@attrs.frozen
class OffsetSample:
    """One round trip: the local midpoint, its RTT and the offset it implies."""

    local_mid_ns: int
    rtt_ns: int
    offset_ns: int


class ClockOffsetEstimator:
    """Estimate ``venue clock - local clock`` from round trips; min-RTT filtered, drift fitted.

    ``window`` samples are kept; the ``best`` of them by RTT (ties: newest first) give the
    estimate. Drift is fitted once the chosen samples span ``min_drift_span_s`` and is clamped
    to ``max_drift_ppm``. A sample further than ``step_ns`` (plus the error bounds) from the
    prediction means a clock step: older samples are dropped.
    """

    def __init__(
        self,
        *,
        window: int = 16,
        best: int = 4,
        min_drift_span_s: float = 60.0,
        max_drift_ppm: int = 500,
        step_ns: int = 500 * NS_PER_MS,
    ) -> None:
        if window < 1 or not 1 <= best <= window:
            raise ValueError(f"need window >= 1 and 1 <= best <= window, got {window}, {best}")
        self._samples: deque[OffsetSample] = deque(maxlen=window)
        self._best = best
        self._min_span_ns = round(min_drift_span_s * NS_PER_SECOND)
        self._max_drift_ppb = max_drift_ppm * 1000
        self._step_ns = step_ns
        self._base_ns = 0  # offset at _ref_ns
        self._ref_ns = 0
        self._drift_ppb = 0
        self._error_ns: int | None = None
        self.steps = 0  # clock steps detected (window restarts)

    def add(self, sent_ns: int, server_ns: int, received_ns: int) -> OffsetSample:
        """Record one round trip (local send, venue time, local receive) and refit."""
        if received_ns < sent_ns:
            raise ValueError(f"received before sent: {sent_ns} > {received_ns}")
        rtt = received_ns - sent_ns
        mid = sent_ns + rtt // 2
        sample = OffsetSample(mid, rtt, server_ns - mid)
        if self._samples and self._error_ns is not None:
            miss = abs(sample.offset_ns - self.offset_ns(mid))
            if miss > self._step_ns + self._error_ns + rtt // 2:
                self._samples.clear()  # a clock step: the old samples describe another clock
                self.steps += 1
        self._samples.append(sample)
        self._refit()
        return sample

    def _refit(self) -> None:
        chosen = sorted(self._samples, key=lambda s: (s.rtt_ns, -s.local_mid_ns))[: self._best]
        n = len(chosen)
        ref = sum(s.local_mid_ns for s in chosen) // n
        base = sum(s.offset_ns for s in chosen) // n
        drift = 0
        span = max(s.local_mid_ns for s in chosen) - min(s.local_mid_ns for s in chosen)
        if n >= 2 and span >= self._min_span_ns:
            # Least squares of offset on local time around the means, in exact integers.
            num = sum((s.local_mid_ns - ref) * (s.offset_ns - base) for s in chosen)
            den = sum((s.local_mid_ns - ref) ** 2 for s in chosen)
            drift = num * PPB // den if den else 0
            drift = max(-self._max_drift_ppb, min(self._max_drift_ppb, drift))
        self._ref_ns, self._base_ns, self._drift_ppb = ref, base, drift
        self._error_ns = min(s.rtt_ns for s in chosen) // 2

    def offset_ns(self, local_ns: int) -> int:
        """Return the estimated ``venue - local`` offset at local time ``local_ns`` (0 unsynced)."""
        if self._error_ns is None:
            return 0
        return self._base_ns + (local_ns - self._ref_ns) * self._drift_ppb // PPB

    def venue_time_ns(self, local_ns: int) -> int:
        """Return the venue's clock reading that corresponds to local time ``local_ns``."""
        return local_ns + self.offset_ns(local_ns)

    @property
    def synced(self) -> bool:
        """Return True once at least one sample was taken."""
        return self._error_ns is not None

    @property
    def error_bound_ns(self) -> int | None:
        """Return the worst-case error of the best sample (half its RTT), None unsynced."""
        return self._error_ns

    @property
    def drift_ppb(self) -> int:
        """Return the fitted drift of the venue clock against ours, in parts per billion."""
        return self._drift_ppb

    @property
    def samples(self) -> list[OffsetSample]:
        """Return the samples in the window, oldest first."""
        return list(self._samples)

    def reset(self) -> None:
        """Forget every sample (the next one starts afresh)."""
        self._samples.clear()
        self._error_ns = None
        self._drift_ppb = 0

    def __repr__(self) -> str:
        return (
            f"ClockOffsetEstimator(offset_ns={self._base_ns}, drift_ppb={self._drift_ppb}, "
            f"error_ns={self._error_ns}, samples={len(self._samples)})"
        )
