"""Latency samples: a bounded window of recent values with nearest-rank percentiles.

One recorder per measured path (a REST endpoint, a symbol's feed): ``add`` is O(1) and
allocation-free in steady state; percentiles sort the window on demand (reporting, not the
hot path).
"""

from __future__ import annotations

import collections

__all__ = ["LatencyRecorder"]


class LatencyRecorder:
    """The last ``window`` samples (ns) of one path, with count, last and percentiles."""

    __slots__ = ("count", "last_ns", "samples")

    def __init__(self, window: int = 4096) -> None:
        self.count = 0
        self.last_ns = 0
        self.samples: collections.deque[int] = collections.deque(maxlen=window)

    def add(self, value_ns: int) -> None:
        """Record one sample."""
        self.count += 1
        self.last_ns = value_ns
        self.samples.append(value_ns)

    def percentile(self, q: float) -> int | None:
        """Return the nearest-rank ``q`` percentile (0-100) of the kept samples, or None."""
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        rank = max(1, -(-len(ordered) * q // 100))
        return ordered[min(len(ordered), int(rank)) - 1]

    def summary(self) -> dict[str, int | None]:
        """Return count, last, p50, p90 and p99 (ns)."""
        head: dict[str, int | None] = {"count": self.count, "last_ns": self.last_ns}
        return head | {f"p{q}_ns": self.percentile(q) for q in (50, 90, 99)}
