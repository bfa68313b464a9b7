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

Deepening: once a book is valid, a deeper snapshot (``deep_limits``) can be queued with
:meth:`SnapshotPlanner.deepen`; those jobs come after every book still waiting to become
valid, one at a time, and the book stays valid while it is deepened (``BookSync.deepen``).

:class:`SnapshotRunner` drives a planner with worker greenlets spawned through an injected
``spawn`` (the connector's owned spawn), one per in-flight slot, each exiting when nothing is
left. :func:`budget_schedule` says when the last snapshot can start at the earliest.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from connectivity.core.clock import NS_PER_SECOND
from connectivity.core.ratelimit import RateLimiter, fixed_window
from connectivity.errors import ConfigError

__all__ = [
    "SnapshotJob",
    "SnapshotPlanner",
    "SnapshotRunner",
    "budget_schedule",
    "cheapest_limit",
    "spare_budget_wait",
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
    """One snapshot to fetch now: the symbol, its limit, its weight, and whether it deepens."""

    symbol: str
    limit: int
    weight: int
    deepen: bool = False  # a deeper snapshot for a book that is already valid


class SnapshotPlanner:
    """Pending snapshots handed out most important first, at most ``max_in_flight`` at once.

    A snapshot that makes a book valid (first sync, resync) always goes before any deepening
    of a valid book (``deep_limits``): those come last, one at a time, so they spend spare
    budget and never hold every slot while books wait to become valid.
    """

    def __init__(
        self,
        order: Iterable[str],
        limits: Mapping[str, int],
        tiers: Tiers,
        *,
        max_in_flight: int = 8,
        deep_limits: Mapping[str, int] | None = None,
    ) -> None:
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int):
            raise ConfigError(f"max_in_flight must be an int, got {max_in_flight!r}")
        if max_in_flight < 1:
            raise ConfigError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self._rank = {symbol: rank for rank, symbol in enumerate(order)}
        self._limits = dict(limits)
        self._deep_limits = dict(deep_limits or {})
        self._tiers = tuple(tiers)
        self.max_in_flight = max_in_flight
        self._heap: list[tuple[int, str, bool]] = []  # (rank, symbol, deepen)
        self._pending: dict[str, bool] = {}  # symbol -> its queued job deepens
        self._in_flight: dict[str, bool] = {}
        self._deepening = 0  # deepen jobs in flight
        self._again: set[str] = set()  # requested again while in flight
        self._deepen_after: set[str] = set()  # deepen once the in-flight snapshot is done
        self.handed_out = 0

    @classmethod
    def for_depths(
        cls,
        order: Sequence[str],
        tiers: Tiers,
        *,
        depth: int,
        depths: Mapping[str, int] | None = None,
        limit: int | None = None,
        deep_depth: int | None = None,
        max_in_flight: int = 8,
    ) -> SnapshotPlanner:
        """Plan from the depths a bot asked for: ``depth`` levels, or ``depths[symbol]``.

        Each symbol's snapshot is the cheapest tier covering its depth unless ``limit`` forces
        one; ``deep_depth`` deepens a valid book later where that tier is deeper.
        """
        depths = depths or {}
        limits = {
            symbol: cheapest_limit(depths.get(symbol, depth), tiers) if limit is None else limit
            for symbol in order
        }
        deep = 0 if deep_depth is None else cheapest_limit(deep_depth, tiers)
        return cls(
            order,
            limits,
            tiers,
            max_in_flight=max_in_flight,
            deep_limits={symbol: deep for symbol in order if deep > limits[symbol]},
        )

    def add(self, symbol: str, limit: int, deep_limit: int | None = None) -> None:
        """Plan ``symbol`` (e.g. subscribed after start): ranked after every symbol before it."""
        self._rank.setdefault(symbol, len(self._rank))
        self._limits[symbol] = limit
        if deep_limit is not None and deep_limit > limit:
            self._deep_limits[symbol] = deep_limit

    def limit(self, symbol: str) -> int:
        """Return the snapshot limit planned for ``symbol``."""
        limit = self._limits.get(symbol)
        if limit is None:
            raise ConfigError(f"no snapshot limit planned for {symbol!r}")
        return limit

    def deep_limit(self, symbol: str) -> int | None:
        """Return the limit ``symbol`` is deepened to once valid (None: never)."""
        return self._deep_limits.get(symbol)

    def request(self, symbol: str) -> bool:
        """Queue a snapshot that makes ``symbol``'s book valid; False if already queued."""
        self.limit(symbol)  # refuse unknown symbols at once, not in a worker
        if symbol in self._in_flight:
            # Asked again while being fetched (that snapshot was too old, or a gap came):
            # queue it once the current fetch is done, never lose the request.
            if symbol in self._again:
                return False
            self._again.add(symbol)
            return True
        if self._pending.get(symbol) is False:
            return False
        self._push(symbol, deepen=False)  # supersedes a queued deepening of it
        return True

    def deepen(self, symbol: str) -> bool:
        """Queue a deeper snapshot of ``symbol``'s valid book; False if none is planned."""
        if symbol not in self._deep_limits or symbol in self._pending:
            return False
        if symbol in self._in_flight:
            if self._in_flight[symbol] or symbol in self._deepen_after:
                return False
            # Valid just now, by the snapshot still in flight: deepen once it is done.
            self._deepen_after.add(symbol)
            return True
        self._push(symbol, deepen=True)
        return True

    def _push(self, symbol: str, *, deepen: bool) -> None:
        rank = self._rank.get(symbol, len(self._rank))  # unlisted: after every listed one
        if deepen:
            rank += len(self._rank) + 1  # after every book still waiting to be valid
        heapq.heappush(self._heap, (rank, symbol, deepen))
        self._pending[symbol] = deepen

    def next(self) -> SnapshotJob | None:
        """Hand out the most important pending snapshot, or None (none, or all slots busy)."""
        heap = self._heap
        while heap and len(self._in_flight) < self.max_in_flight:
            _, symbol, deepen = heap[0]
            if self._pending.get(symbol) is not deepen:
                heapq.heappop(heap)  # superseded by a later request for the same symbol
                continue
            if deepen and self._deepening:
                return None  # deepening sorts last: nothing else is waiting
            heapq.heappop(heap)
            del self._pending[symbol]
            self._in_flight[symbol] = deepen
            self._deepening += deepen
            self.handed_out += 1
            limit = self._deep_limits[symbol] if deepen else self._limits[symbol]
            return SnapshotJob(symbol, limit, tier_weight(limit, self._tiers), deepen)
        return None

    def done(self, symbol: str) -> None:
        """Free ``symbol``'s in-flight slot (fetched, failed or abandoned)."""
        deepen = self._in_flight.pop(symbol, None)
        if deepen:
            self._deepening -= 1
        if symbol in self._again:
            self._again.discard(symbol)
            self._deepen_after.discard(symbol)  # valid first; deepened when valid again
            self._push(symbol, deepen=False)
        elif symbol in self._deepen_after:
            self._deepen_after.discard(symbol)
            self._push(symbol, deepen=True)

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
        self.planner.request(symbol)
        self._staff()

    def deepen(self, symbol: str) -> None:
        """Queue a deeper snapshot of ``symbol``'s valid book, if one is planned."""
        if self.planner.deepen(symbol):
            self._staff()

    def _staff(self) -> None:
        planner = self.planner
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


def spare_budget_wait(
    limiter: RateLimiter, bucket: str, weight: int, share: float, now_ns: int
) -> float:
    """Return seconds until ``weight`` fits in ``share`` of ``bucket``'s window (0.0: now).

    Deepening a valid book is optional work: it may spend only what startup and resyncs leave
    over, so a resync never waits a whole window behind a deep snapshot.
    """
    if not 0 < share <= 1:
        raise ConfigError(f"budget share must be in (0, 1], got {share!r}")
    spec = next((b for b in limiter.buckets() if b.name == bucket), None)
    if spec is None:
        raise ConfigError(f"unknown rate-limit bucket {bucket!r}")
    if limiter.usage(bucket) + weight <= spec.limit * share:
        return 0.0
    interval = round(spec.interval_s * NS_PER_SECOND)
    return (fixed_window(now_ns, interval, spec.origin_ns)[1] - now_ns) / NS_PER_SECOND
