"""Weighted multi-bucket rate limiter, shared per venue scope and corrected from venue headers.

One :class:`RateLimiter` models the budget a venue meters for one scope (an IP, a key, an
account): several named :class:`Bucket` pools (request weight, order count, raw requests, ...)
that a single request draws from at once. Share the instance between everything that spends
that budget (REST and websocket order entry alike); which scope key maps to which instance is
the caller's business.

Waiting happens only through the injected :class:`~connectivity.core.clock.Clock`. A request
that cannot go now *reserves* its place in the earliest future window where every pool has room
and sleeps until then, so requests are served in arrival order and none starves; a later,
smaller request may still use room an earlier, larger one could not. The check and the
reservation run without yielding, which makes the draw atomic among greenlets of one hub (the
limiter is not meant to be shared across native threads).

Window shapes: ``"fixed"`` windows aligned to wall time (Binance counts per calendar minute,
10 s, day) and ``"gcra"`` (a smooth rolling budget for venues that meter that way).
:func:`fixed_window` is the one definition of a fixed window; the simulated venues meter with
it too, so client and simulator can never disagree on where a window starts.

Evidence that Binance's windows are fixed and aligned to wall time: its docs name them
``REQUEST_WEIGHT 6000 / 1 MINUTE`` (``intervalNum``/``interval``, not "the last 60 s") and
report the count per interval in ``X-MBX-USED-WEIGHT-1M``; users observe that header drop to
their next request's weight at every calendar minute ("it resets on each cron minute, e.g.
11:07, then at 11:08", JKorf/Binance.Net issue #288).
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.errors import Banned, ConfigError, RateLimited

__all__ = [
    "Bucket",
    "InFlightSlot",
    "LimiterStats",
    "RateLimiter",
    "WindowKind",
    "fixed_window",
]

WindowKind = Literal["fixed", "gcra"]


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{attribute.name} must be a positive number, got {value!r}")


def fixed_window(t_ns: int, interval_ns: int, origin_ns: int = 0) -> tuple[int, int]:
    """Return ``(index, end_ns)`` of the fixed window holding wall time ``t_ns``.

    Windows start at ``origin_ns + k * interval_ns`` (origin 0: aligned to the Unix epoch, so
    a 60 s window is a calendar minute in UTC).
    """
    index = (t_ns - origin_ns) // interval_ns
    return index, origin_ns + (index + 1) * interval_ns


@attrs.frozen
class Bucket:
    """One metered pool: at most ``limit`` units per ``interval_s`` seconds."""

    name: str
    limit: int = attrs.field(validator=_positive)
    interval_s: float = attrs.field(validator=_positive)
    kind: WindowKind = "fixed"
    #: Fixed windows start at ``origin_ns + k * interval``: 0 aligns them to the Unix epoch
    #: (UTC); the local-minus-venue clock offset aligns them to the venue's own boundaries.
    origin_ns: int = 0
    #: A fixed-window draw this close to its window's end also counts in the next window:
    #: the venue counts a request when it arrives, which may be after the boundary.
    edge_s: float = 0.0

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("fixed", "gcra"):
            raise ConfigError(f"bucket {self.name!r}: unknown window kind {self.kind!r}")
        if not 0 <= self.edge_s < self.interval_s:
            raise ConfigError(f"bucket {self.name!r}: edge_s must be in [0, interval_s)")
        if not isinstance(self.limit, int):
            raise ConfigError(f"bucket {self.name!r}: limit must be an int")


@attrs.define
class LimiterStats:
    """Counters for monitoring one limiter."""

    acquired: int = 0
    waited: int = 0
    refused: int = 0
    corrections: int = 0
    blocks: int = 0


class _FixedPool:
    """Fixed windows: usage per window index, including reservations not yet granted."""

    __slots__ = ("_edge", "_interval", "_pending", "_pruned", "_used", "bucket")

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self._interval = round(bucket.interval_s * NS_PER_SECOND)
        self._edge = round(bucket.edge_s * NS_PER_SECOND)
        self._used: dict[int, int] = {}
        self._pending: dict[int, int] = {}  # reserved for sleepers, not yet sent
        self._pruned = -1

    def _index(self, t: int) -> int:
        return fixed_window(t, self._interval, self.bucket.origin_ns)[0]

    def _straddles(self, t: int) -> bool:
        """Return True if a draw at ``t`` may reach the venue in the next window."""
        return (
            bool(self._edge)
            and fixed_window(t, self._interval, self.bucket.origin_ns)[1] - t <= self._edge
        )

    def prune(self, now: int) -> None:
        current = self._index(now)
        if current == self._pruned:
            return  # nothing below the current window can have appeared since
        self._pruned = current
        for index in [i for i in self._used if i < current]:
            del self._used[index]
            self._pending.pop(index, None)

    def earliest(self, cost: int, t: int) -> int:
        first = index = self._index(t)
        used, limit = self._used, self.bucket.limit
        if self._straddles(t) and used.get(index + 1, 0) + cost > limit:
            index += 1  # it would count in the next window too, which has no room now
        while used.get(index, 0) + cost > limit:
            index += 1  # terminates: only finitely many windows hold usage
        return t if index == first else index * self._interval + self.bucket.origin_ns

    def take(self, cost: int, t: int) -> int:
        index = self._index(t)
        used = self._used
        used[index] = used.get(index, 0) + cost
        if self._straddles(t):  # (a cancel gives back only the first: errs on the safe side)
            used[index + 1] = used.get(index + 1, 0) + cost
        return index

    def reserve(self, cost: int, t: int) -> int:
        index = self.take(cost, t)
        self._pending[index] = self._pending.get(index, 0) + cost
        return index

    def grant(self, key: int, cost: int) -> None:
        left = self._pending.get(key, 0) - cost
        if left > 0:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)

    def cancel(self, key: int, cost: int) -> None:
        self.grant(key, cost)
        if key in self._used:
            self._used[key] = max(0, self._used[key] - cost)

    def correct(self, used: int, ts_ns: int, now: int) -> bool:
        self.prune(now)  # headers may arrive for a bucket that no request draws from
        index = self._index(ts_ns)
        if index < self._index(now):
            return False  # the header speaks of a window that is already over
        # The venue has not seen our reserved-but-unsent requests; keep them on top.
        wanted = used + self._pending.get(index, 0)
        if wanted <= self._used.get(index, 0):
            return False
        self._used[index] = wanted
        return True

    def used(self, now: int) -> int:
        return self._used.get(self._index(now), 0)


class _GcraPool:
    """Generic cell rate algorithm; time is scaled by ``limit`` so all arithmetic is exact."""

    __slots__ = ("_interval", "_tat", "bucket")

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self._interval = round(bucket.interval_s * NS_PER_SECOND)
        self._tat = 0  # theoretical arrival time, in ns * limit

    def earliest(self, cost: int, t: int) -> int:
        limit = self.bucket.limit
        tat = max(self._tat, t * limit) + cost * self._interval
        return max(t, -((self._interval * limit - tat) // limit))  # ceil division

    def take(self, cost: int, t: int) -> int:
        self._tat = max(self._tat, t * self.bucket.limit) + cost * self._interval
        return 0

    reserve = take

    def grant(self, key: int, cost: int) -> None:
        return None

    def prune(self, now: int) -> None:
        return None

    def cancel(self, key: int, cost: int) -> None:
        self._tat -= cost * self._interval

    def correct(self, used: int, ts_ns: int, now: int) -> bool:
        floor = ts_ns * self.bucket.limit + used * self._interval
        if floor <= self._tat:
            return False
        self._tat = floor
        return True

    def used(self, now: int) -> int:
        ahead = self._tat - now * self.bucket.limit
        return max(0, -(-ahead // self._interval))


_Pool = _FixedPool | _GcraPool


@attrs.define
class _Cap:
    limit: int
    count: int = 0
    queue: collections.deque[int] = attrs.field(factory=collections.deque)


class InFlightSlot:
    """One held in-flight slot; :meth:`release` (or leaving the ``with`` block) frees it."""

    __slots__ = ("_held", "_limiter", "name")

    def __init__(self, limiter: RateLimiter, name: str) -> None:
        self._limiter = limiter
        self.name = name
        self._held = True

    def release(self) -> None:
        """Free the slot; calling it again does nothing."""
        if self._held:
            self._held = False
            self._limiter._release(self.name)

    def __enter__(self) -> InFlightSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"InFlightSlot({self.name!r}, held={self._held})"


def _seconds(delta_ns: int) -> float:
    """Convert ns to seconds such that ``int(s * 1e9) >= delta_ns`` (clocks truncate)."""
    seconds = delta_ns / NS_PER_SECOND
    while int(seconds * NS_PER_SECOND) < delta_ns:
        seconds = math.nextafter(seconds, math.inf)
    return seconds


class RateLimiter:
    """Atomic weighted draws from several pools, venue blocks, and separate in-flight caps.

    ``max_wait`` (seconds) decides between waiting and raising: a call whose earliest start is
    more than ``max_wait`` away raises :class:`~connectivity.errors.RateLimited` (or
    :class:`~connectivity.errors.Banned` while a ban governs) with ``retry_after`` set to that
    wait; ``0`` means never wait, ``math.inf`` means wait however long it takes.
    """

    def __init__(
        self,
        clock: Clock,
        buckets: Iterable[Bucket],
        *,
        in_flight: Mapping[str, int] | None = None,
        max_wait: float = 10.0,
        poll_interval: float = 0.001,
        name: str = "",
    ) -> None:
        self._clock = clock
        self.name = name
        self._pools: dict[str, _Pool] = {}
        for bucket in buckets:
            if bucket.name in self._pools:
                raise ConfigError(f"duplicate bucket {bucket.name!r}")
            pool = _FixedPool(bucket) if bucket.kind == "fixed" else _GcraPool(bucket)
            self._pools[bucket.name] = pool
        self._caps: dict[str, _Cap] = {}
        for cap_name, limit in (in_flight or {}).items():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
                raise ConfigError(f"in-flight cap {cap_name!r} must be a positive int")
            self._caps[cap_name] = _Cap(limit)
        self.max_wait = self._budget(max_wait)
        self.poll_interval = poll_interval
        self._tickets = itertools.count()
        self._blocked_until = 0
        self._block_reason = ""
        self._banned = False
        self.stats = LimiterStats()

    # -- rate budget -------------------------------------------------------------------------

    def acquire(self, costs: Mapping[str, int], *, max_wait: float | None = None) -> int:
        """Draw ``costs`` from all named pools at once (waits <= ``max_wait``); return ns waited."""
        demands = self._demands(costs)
        clock = self._clock
        began = clock.time_ns()
        budget = self.max_wait if max_wait is None else self._budget(max_wait)
        deadline = None if math.isinf(budget) else began + round(budget * NS_PER_SECOND)
        while True:
            now = clock.time_ns()
            start = self._earliest(demands, now)
            if start <= now:
                for pool, cost in demands:
                    pool.take(cost, now)
                self.stats.acquired += 1
                return now - began
            if deadline is not None and start > deadline:
                self.stats.refused += 1
                raise self._refusal(start - now, budget)
            held = [(pool, pool.reserve(cost, start), cost) for pool, cost in demands]
            try:
                while (now := clock.time_ns()) < start:
                    clock.sleep(_seconds(start - now))
            except BaseException:  # killed while parked: give the reserved room back
                for pool, key, cost in held:
                    pool.cancel(key, cost)
                raise
            if self._blocked_until > now:  # a 429/418 arrived while we slept: plan again
                for pool, key, cost in held:
                    pool.cancel(key, cost)
                continue
            for pool, key, cost in held:
                pool.grant(key, cost)
            self.stats.acquired += 1
            self.stats.waited += 1
            return now - began

    def update_usage(self, bucket: str, used: int, ts_ns: int) -> bool:
        """Raise ``bucket``'s count in the window of ``ts_ns`` to the venue's ``used``; True if so.

        Other processes on the same IP or key spend the same budget, so the venue's usage
        headers can only add to what we counted; a lower figure is ignored.
        """
        pool = self._pools.get(bucket)
        if pool is None:
            raise ConfigError(f"unknown rate-limit bucket {bucket!r}")
        corrected = pool.correct(used, ts_ns, self._clock.time_ns())
        if corrected:
            self.stats.corrections += 1
        return corrected

    def block_until(self, until_ns: int, reason: str, *, banned: bool = False) -> None:
        """Hold every draw until wall time ``until_ns`` (HTTP 429 ``Retry-After``; 418 = ban)."""
        if until_ns >= self._blocked_until:
            self._blocked_until = until_ns
            self._block_reason = reason
            self._banned = banned
            self.stats.blocks += 1

    @property
    def blocked_until_ns(self) -> int:
        """Wall time in ns until which the venue told us to hold off (0 if never)."""
        return self._blocked_until

    def usage(self, bucket: str) -> int:
        """Units of ``bucket`` counted in its current window (GCRA: units still draining)."""
        pool = self._pools.get(bucket)
        if pool is None:
            raise ConfigError(f"unknown rate-limit bucket {bucket!r}")
        return pool.used(self._clock.time_ns())

    def buckets(self) -> list[Bucket]:
        """Return the configured buckets."""
        return [pool.bucket for pool in self._pools.values()]

    def _demands(self, costs: Mapping[str, int]) -> list[tuple[_Pool, int]]:
        demands: list[tuple[_Pool, int]] = []
        for name, cost in costs.items():
            pool = self._pools.get(name)
            if pool is None:
                raise ConfigError(f"unknown rate-limit bucket {name!r}")
            if isinstance(cost, bool) or not isinstance(cost, int) or cost < 0:
                raise ConfigError(f"cost for bucket {name!r} must be an int >= 0, got {cost!r}")
            if cost > pool.bucket.limit:
                raise ConfigError(
                    f"cost {cost} exceeds bucket {name!r} limit {pool.bucket.limit}: never sendable"
                )
            if cost:
                demands.append((pool, cost))
        return demands

    def _earliest(self, demands: list[tuple[_Pool, int]], now: int) -> int:
        for pool, _ in demands:
            pool.prune(now)  # by *now*: windows before the candidate start may still count
        start = max(now, self._blocked_until)
        moved = True
        while moved:  # each pass only moves the start later, and every pool frees up eventually
            moved = False
            for pool, cost in demands:
                candidate = pool.earliest(cost, start)
                if candidate > start:
                    start, moved = candidate, True
        return start

    def _refusal(self, wait_ns: int, budget: float) -> RateLimited:
        retry_after = wait_ns / NS_PER_SECOND
        venue = self.name or None
        if self._blocked_until > self._clock.time_ns():
            cls = Banned if self._banned else RateLimited
            return cls(
                f"venue told us to hold off: {self._block_reason}",
                retry_after=retry_after,
                venue=venue,
            )
        return RateLimited(
            f"local rate budget needs {retry_after:.3f}s, more than max_wait {budget}s",
            retry_after=retry_after,
            venue=venue,
        )

    @staticmethod
    def _budget(max_wait: float) -> float:
        if isinstance(max_wait, bool) or not max_wait >= 0:  # also rejects NaN
            raise ConfigError(f"max_wait must be >= 0 seconds, got {max_wait!r}")
        return float(max_wait)

    # -- in-flight caps ----------------------------------------------------------------------

    def in_flight(self, name: str, *, max_wait: float | None = None) -> InFlightSlot:
        """Take a slot of in-flight cap ``name`` now (FIFO), waiting up to ``max_wait``."""
        cap = self._caps.get(name)
        if cap is None:
            raise ConfigError(f"unknown in-flight cap {name!r}")
        if cap.count < cap.limit and not cap.queue:
            cap.count += 1
            return InFlightSlot(self, name)
        budget = self.max_wait if max_wait is None else self._budget(max_wait)
        clock = self._clock
        deadline = None if math.isinf(budget) else clock.time_ns() + round(budget * NS_PER_SECOND)
        ticket = next(self._tickets)
        cap.queue.append(ticket)
        try:
            # A release cannot wake a Clock sleeper, so waiters poll; only the head may take.
            while not (cap.queue[0] == ticket and cap.count < cap.limit):
                pause = self.poll_interval
                if deadline is not None:
                    left = deadline - clock.time_ns()
                    if left <= 0:
                        self.stats.refused += 1
                        raise RateLimited(
                            f"in-flight cap {name!r} full ({cap.limit}) for {budget}s",
                            venue=self.name or None,
                        )
                    pause = min(pause, _seconds(left))
                clock.sleep(pause)
            cap.queue.popleft()
            cap.count += 1
        finally:
            if ticket in cap.queue:
                cap.queue.remove(ticket)
        return InFlightSlot(self, name)

    def in_flight_count(self, name: str) -> int:
        """Return how many slots of cap ``name`` are held."""
        cap = self._caps.get(name)
        if cap is None:
            raise ConfigError(f"unknown in-flight cap {name!r}")
        return cap.count

    def _release(self, name: str) -> None:
        self._caps[name].count -= 1

    def __repr__(self) -> str:
        pools = ", ".join(f"{b.name}={b.limit}/{b.interval_s}s" for b in self.buckets())
        return f"RateLimiter({self.name!r}, {pools}, blocked_until_ns={self._blocked_until})"
