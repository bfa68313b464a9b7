"""Book snapshots planned against a venue's weight budget: which one next, how deep, how many.

A bot watching thousands of symbols needs one REST snapshot per book before it is valid, and
the venue meters them by weight (Binance: 6,000 per calendar minute; limit 100 costs 5, limit
5,000 costs 250). Three rules make books valid fast without a 429:

- depth: :func:`cheapest_limit` picks, for the depth a bot asked for, the largest limit of
  the cheapest weight tier that covers it (``DEPTH_WEIGHTS``-style tables of the venue);
- order: :class:`SnapshotPlanner` hands out pending snapshots most important first (the
  order the bot listed its symbols), whenever they were requested, and never more than
  ``max_in_flight`` at once;
- budget: every fetch draws its weight from the shared limiter (waiting for the next window
  is the plan, not an error), so the venue never sees more than its budget.

:class:`SnapshotRunner` drives a planner with worker greenlets spawned through an injected
``spawn`` (the connector's owned spawn), one per in-flight slot, each exiting when nothing is
left. :func:`budget_schedule` says when the last snapshot can start at the earliest.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from connectivity.core.ratelimit import fixed_window
from connectivity.errors import ConfigError

__all__ = [
    "SnapshotJob",
    "SnapshotPlanner",
    "SnapshotRunner",
    "budget_schedule",
    "cheapest_limit",
    "tier_weight",
]

Tiers = Sequence[tuple[int, int]]  # (largest limit in the band, weight), ascending


def cheapest_limit(depth: int, tiers: Tiers) -> int:
    """Return the largest limit of the cheapest tier covering ``depth`` levels per side."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ConfigError(f"book depth must be an int >= 1, got {depth!r}")
    if not tiers:
        raise ConfigError("no snapshot weight tiers")
    for top, _ in tiers:
        if depth <= top:
            return top
    return tiers[-1][0]  # deeper than the venue serves: its deepest snapshot


def tier_weight(limit: int, tiers: Tiers) -> int:
    """Return the weight of a snapshot of ``limit`` levels."""
    for top, weight in tiers:
        if limit <= top:
            return weight
    return tiers[-1][1]


@attrs.frozen
class SnapshotJob:
    """One snapshot to fetch now: the symbol, its limit and the weight that costs."""

    symbol: str
    limit: int
    weight: int


class SnapshotPlanner:
    """Pending snapshots handed out most important first, at most ``max_in_flight`` at once."""

    def __init__(
        self,
        order: Iterable[str],
        limits: Mapping[str, int],
        tiers: Tiers,
        *,
        max_in_flight: int = 8,
    ) -> None:
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int):
            raise ConfigError(f"max_in_flight must be an int, got {max_in_flight!r}")
        if max_in_flight < 1:
            raise ConfigError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self._rank = {symbol: rank for rank, symbol in enumerate(order)}
        self._limits = dict(limits)
        self._tiers = tuple(tiers)
        self.max_in_flight = max_in_flight
        self._heap: list[tuple[int, str]] = []
        self._pending: set[str] = set()
        self._in_flight: set[str] = set()
        self._again: set[str] = set()  # requested again while in flight
        self.handed_out = 0

    def limit(self, symbol: str) -> int:
        """Return the snapshot limit planned for ``symbol``."""
        limit = self._limits.get(symbol)
        if limit is None:
            raise ConfigError(f"no snapshot limit planned for {symbol!r}")
        return limit

    def set_limit(self, symbol: str, limit: int) -> None:
        """Plan ``limit`` levels for ``symbol``'s next snapshot (e.g. to deepen it)."""
        self._limits[symbol] = limit

    def request(self, symbol: str) -> bool:
        """Queue a snapshot of ``symbol``; False if it is already queued."""
        self.limit(symbol)  # refuse unknown symbols at once, not in a worker
        if symbol in self._in_flight:
            # Asked again while being fetched (that snapshot was too old, or a gap came):
            # queue it once the current fetch is done, never lose the request.
            if symbol in self._again:
                return False
            self._again.add(symbol)
            return True
        if symbol in self._pending:
            return False
        self._push(symbol)
        return True

    def _push(self, symbol: str) -> None:
        rank = self._rank.get(symbol, len(self._rank))  # unlisted: after every listed one
        heapq.heappush(self._heap, (rank, symbol))
        self._pending.add(symbol)

    def next(self) -> SnapshotJob | None:
        """Hand out the most important pending snapshot, or None (none, or all slots busy)."""
        if len(self._in_flight) >= self.max_in_flight or not self._heap:
            return None
        _, symbol = heapq.heappop(self._heap)
        self._pending.discard(symbol)
        self._in_flight.add(symbol)
        self.handed_out += 1
        limit = self._limits[symbol]
        return SnapshotJob(symbol, limit, tier_weight(limit, self._tiers))

    def done(self, symbol: str) -> None:
        """Free ``symbol``'s in-flight slot (fetched, failed or abandoned)."""
        self._in_flight.discard(symbol)
        if symbol in self._again:
            self._again.discard(symbol)
            self._push(symbol)

    @property
    def pending(self) -> int:
        """Return how many snapshots wait for a slot."""
        return len(self._pending)

    @property
    def in_flight(self) -> int:
        """Return how many snapshots are being fetched."""
        return len(self._in_flight)


class SnapshotRunner:
    """Run a planner's jobs on at most ``max_in_flight`` worker greenlets (spawned lazily)."""

    def __init__(
        self,
        planner: SnapshotPlanner,
        fetch: Callable[[SnapshotJob], None],
        spawn: Callable[..., Any],
    ) -> None:
        self.planner = planner
        self._fetch = fetch
        self._spawn = spawn
        self._workers = 0

    def request(self, symbol: str) -> None:
        """Queue ``symbol``'s snapshot and make sure a worker will fetch it."""
        planner = self.planner
        planner.request(symbol)
        wanted = min(planner.max_in_flight, planner.in_flight + planner.pending)
        while self._workers < wanted:
            self._workers += 1
            self._spawn(self._work, name=f"snapshots-{self._workers}")

    def _work(self) -> None:
        planner = self.planner
        try:
            while (job := planner.next()) is not None:
                try:
                    self._fetch(job)
                finally:
                    planner.done(job.symbol)
        finally:
            self._workers -= 1


def budget_schedule(
    weights: Sequence[int], limit: int, interval_ns: int, start_ns: int, used: int = 0
) -> list[int]:
    """Return the earliest wall time each snapshot can start within fixed-window budgets.

    ``weights`` in the order they are fetched; ``used`` is weight already spent in the
    window holding ``start_ns``. With calendar windows the answer depends on where in the
    window the start falls: 3,000 snapshots of weight 5 under 6,000 a minute need three
    windows, so the last batch can start at the second boundary after the start.
    """
    end = fixed_window(start_ns, interval_ns)[1]
    spent, now, starts = used, start_ns, []
    for weight in weights:
        if weight > limit:
            raise ConfigError(f"a weight of {weight} never fits a budget of {limit}")
        if spent + weight > limit:
            now, spent = end, 0
            end += interval_ns
        spent += weight
        starts.append(now)
    return starts
