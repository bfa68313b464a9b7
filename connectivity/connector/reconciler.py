"""The reconcile loop: a supervised greenlet comparing our state with the venue's, adaptively.

Each round asks an :class:`~connectivity.connector.orders.AccountSource` for open orders,
fills since the previous round (with an overlap) and balances, then queries one by one the
orders that need it (in doubt, rebuilt from the journal, or open here but absent there),
and feeds everything through :func:`~connectivity.core.reconcile.reconcile`. Every request
first draws its cost from the venue's rate limiter.

The interval adapts: ``fast_s`` while any order is in doubt or awaits start-up
reconciliation, or while the user stream is down or has been silent for ``silent_after_s``;
``slow_s`` otherwise (hummingbot's 5 s / 120 s lesson, driven by our own state); a stream
going down during a slow wait brings the next round forward to ``fast_s`` after the last.
A failed round is counted and logged and the loop goes on at the fast interval.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from connectivity.connector.orders import AccountSource
from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.counters import ErrorCounter
from connectivity.core.models import OrderUpdate
from connectivity.core.ratelimit import RateLimiter
from connectivity.core.reconcile import ReconcileResult, VenueSnapshot, reconcile
from connectivity.core.state import StateManager
from connectivity.errors import ClosedError, ConnectivityError
from connectivity.runtime import Supervisor

__all__ = ["Reconciler", "ReconcilerConfig"]


@attrs.frozen
class ReconcilerConfig:
    """Intervals and request costs of the reconcile loop."""

    fast_s: float = 2.0
    slow_s: float = 60.0
    silent_after_s: float = 30.0  # a user stream quiet this long is treated as down
    fills_overlap_s: float = 5.0  # re-ask this much before the last round (venue lag)
    fills_lookback_s: float = 3600.0  # how far back the first round asks for fills
    max_queries: int = 20  # single-order queries per round (the rest wait for the next)
    # Limiter costs per request kind, e.g. {"open_orders": {"weight": 6}}; missing = free.
    costs: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)


class Reconciler:
    """Drive reconciliation of one account on an adaptive interval."""

    def __init__(
        self,
        state: StateManager,
        source: AccountSource,
        *,
        clock: Clock,
        limiter: RateLimiter | None = None,
        config: ReconcilerConfig | None = None,
    ) -> None:
        self.state = state
        self.source = source
        self.clock = clock
        self.limiter = limiter
        self.config = config or ReconcilerConfig()
        self.errors = ErrorCounter("reconciler", clock.time_ns)
        self.rounds = 0
        self.last: ReconcileResult | None = None
        self._stream_up = False
        self._stream_drops = 0
        self._stream_seen_ns = clock.monotonic_ns()
        self._fills_from_ns = 0
        self._to_query: list[str] = []
        self._supervisor: Supervisor | None = None

    # ---- user-stream health (called by the connector) -------------------------------------

    def stream_connected(self) -> None:
        """Note that the user stream is (re)connected."""
        self._stream_up = True
        self._stream_seen_ns = self.clock.monotonic_ns()

    def stream_disconnected(self) -> None:
        """Note that the user stream is down (a slow wait under way is cut to ``fast_s``)."""
        self._stream_up = False
        self._stream_drops += 1

    def stream_event(self) -> None:
        """Note a message on the user stream (it is alive)."""
        self._stream_seen_ns = self.clock.monotonic_ns()

    # ---- the loop --------------------------------------------------------------------------

    def interval(self) -> float:
        """Return the seconds until the next round."""
        cfg = self.config
        silent = self.clock.monotonic_ns() - self._stream_seen_ns
        urgent = (
            not self._stream_up
            or silent >= cfg.silent_after_s * NS_PER_SECOND
            or self._to_query
            or self.state.in_doubt()
            or self.state.pending_reconcile()
        )
        return cfg.fast_s if urgent else cfg.slow_s

    def start(self, supervisor: Supervisor) -> None:
        """Run the loop in a greenlet owned by ``supervisor`` (closed and joined by it)."""
        if self._supervisor is not None:
            raise ClosedError("reconciler already started")
        self._supervisor = supervisor
        supervisor.spawn(self._loop, name="reconciler")

    def _loop(self) -> None:
        while True:
            try:
                self.run_once()
                failed = False
            except ConnectivityError as exc:
                self.errors.count(exc, "reconcile round failed")
                failed = True
            self._pause(failed)

    def _pause(self, failed: bool) -> None:
        """Sleep until the next round, cut short (to ``fast_s``) if the stream drops meanwhile."""
        cfg = self.config
        began, drops = self.clock.monotonic_ns(), self._stream_drops
        wait = cfg.fast_s if failed else self.interval()
        while True:
            if self._stream_drops != drops:
                wait = min(wait, cfg.fast_s)  # events may be lost from here: catch up soon
            left = wait - (self.clock.monotonic_ns() - began) / NS_PER_SECOND
            if left <= 0:
                return
            self.clock.sleep(min(left, cfg.fast_s))

    def run_once(self) -> ReconcileResult:
        """Run one round now; return what it changed."""
        cfg = self.config
        began = self.clock.time_ns()
        if self._fills_from_ns == 0:
            self._fills_from_ns = began - int(cfg.fills_lookback_s * NS_PER_SECOND)
        self._draw("open_orders")
        open_orders = self.source.open_orders()
        self._draw("fills")
        fills = self.source.fills_since(self._fills_from_ns)
        self._draw("balances")
        balances = self.source.balances()
        wanted = self._to_query + self.state.in_doubt() + self.state.pending_reconcile()
        queries: dict[str, OrderUpdate | None] = {}
        for cid in list(dict.fromkeys(wanted))[: cfg.max_queries]:
            order = self.state.order(cid)
            if order is not None:
                self._draw("order")
                queries[cid] = self.source.order(cid, order.symbol)
        snapshot = VenueSnapshot(began, self.clock.time_ns(), open_orders, queries, fills, balances)
        result = reconcile(self.state, snapshot)
        self._to_query = [cid for cid in wanted if cid not in queries] + result.to_query
        self._fills_from_ns = max(
            self._fills_from_ns, began - int(cfg.fills_overlap_s * NS_PER_SECOND)
        )
        self.rounds += 1
        self.last = result
        return result

    def _draw(self, kind: str) -> None:
        cost = self.config.costs.get(kind)
        if self.limiter is not None and cost:
            self.limiter.acquire(cost)

    def __repr__(self) -> str:
        return f"Reconciler(rounds={self.rounds}, state={self.state!r})"
