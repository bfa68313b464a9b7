"""The user-data stream of one account: venue events parsed and merged, its health reported.

:class:`UserStream` is venue-neutral. The transport hands it each event object
(:meth:`UserStream.on_event`, in the reader greenlet) and tells it when a connection's
subscription is in place (:meth:`UserStream.subscribed`) and when the connection is lost
(:meth:`UserStream.disconnected`); the venue's pure parser turns an event into values:

- :class:`~connectivity.core.models.OrderUpdate`, ``Fill`` and ``BalanceUpdate`` go through
  :meth:`StateManager.apply <connectivity.core.state.StateManager.apply>` (its merge rules make
  duplicates and reordering harmless);
- :class:`StreamTerminated` (the venue ended the subscription, the connection lives on) renews
  the subscription on the same connection, from a greenlet of its own: the answer comes back
  through the reader that delivered the event;
- anything else (a venue value the state manager does not merge) is counted and handed to
  ``on_other``.

A malformed event, or one the state manager refuses, is counted in the shared
:class:`~connectivity.core.counters.ErrorCounter` and the stream goes on.

Health goes to a :class:`StreamHealth` (the :class:`~connectivity.connector.reconciler.Reconciler`),
which owns the staleness rule: a stream down, terminated or silent for its ``silent_after_s``
makes reconciliation fast. Silence alone never reconnects (an idle account is legitimately
quiet); the connection's own ping liveness decides that.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias

import attrs

from connectivity.core.clock import Clock
from connectivity.core.counters import ErrorCounter
from connectivity.core.models import BalanceUpdate, Fill, OrderUpdate
from connectivity.core.state import StateManager
from connectivity.errors import ConnectivityError, ParseError
from connectivity.runtime import Supervisor

__all__ = ["StreamHealth", "StreamTerminated", "UserItem", "UserStream"]


@attrs.frozen
class StreamTerminated:
    """The venue ended the user-data subscription (the connection stays): subscribe again."""

    ts_event: int
    ts_recv: int


UserItem: TypeAlias = object
"""A parsed user-data value: OrderUpdate, Fill, BalanceUpdate, StreamTerminated or a venue's own."""

_MERGED = (OrderUpdate, Fill, BalanceUpdate)


class StreamHealth(Protocol):
    """Who wants to know whether the user stream is alive (the reconcile loop)."""

    def stream_connected(self) -> None:
        """The stream is subscribed on a live connection."""

    def stream_disconnected(self) -> None:
        """The stream is down (events may be missed until it is back)."""

    def stream_event(self) -> None:
        """An event arrived."""


class UserStream:
    """Merge one account's user-data events into a StateManager and report the stream's health."""

    def __init__(
        self,
        state: StateManager,
        parse: Callable[[Any, int], Sequence[UserItem]],
        *,
        clock: Clock,
        supervisor: Supervisor,
        health: StreamHealth | None = None,
        errors: ErrorCounter | None = None,
        on_other: Callable[[UserItem], None] | None = None,
    ) -> None:
        self.state = state
        self._parse = parse
        self._clock = clock
        self._supervisor = supervisor
        self._health = health
        self.errors = errors if errors is not None else ErrorCounter("user-stream", clock.time_ns)
        self._on_other = on_other
        self.stats: collections.Counter[str] = collections.Counter()
        self.is_subscribed = False
        self.last_event_ns: int | None = None  # monotonic time of the last well-formed event
        self._resubscribe: Callable[[], None] | None = None

    # ---- connection state (called by the transport's hooks) -------------------------------

    def subscribed(self, resubscribe: Callable[[], None]) -> None:
        """Note a subscription in place on a new connection; ``resubscribe`` renews it there."""
        self.stats["subscribed"] += 1
        self._resubscribe = resubscribe
        self._up()

    def disconnected(self, reason: str) -> None:
        """Note that the connection carrying the stream is lost (a reconnect will resubscribe)."""
        self.stats["disconnected"] += 1
        self._resubscribe = None
        self._down()

    # ---- events (reader greenlet) ---------------------------------------------------------

    def on_event(self, payload: Any, ts_recv: int) -> None:
        """Parse one event and merge what it says; count it if malformed or refused."""
        try:
            items = self._parse(payload, ts_recv)
        except ParseError as exc:
            self.errors.count(exc, "malformed user event")
            return
        self.stats["events"] += 1
        self.last_event_ns = self._clock.monotonic_ns()
        if self._health is not None:
            self._health.stream_event()
        for item in items:
            self._handle(item)

    def _handle(self, item: UserItem) -> None:
        if isinstance(item, _MERGED):
            try:
                self.state.apply(item)
            except ConnectivityError as exc:
                self.errors.count(exc, "user event refused by the state manager")
        elif isinstance(item, StreamTerminated):
            self._terminated()
        else:
            self.stats["not_merged"] += 1
            if self._on_other is not None:
                self._on_other(item)

    def _terminated(self) -> None:
        self.stats["terminated"] += 1
        self._down()  # events are missed until renewed: reconcile fast meanwhile
        resubscribe = self._resubscribe
        if resubscribe is not None:
            # Not in the reader greenlet: the answer to the request comes back through it.
            self._supervisor.spawn(self._renew, resubscribe, name="resubscribe")

    def _renew(self, resubscribe: Callable[[], None]) -> None:
        try:
            resubscribe()
        except ConnectivityError as exc:
            # Left down: reconciliation stays fast, and the next connection subscribes anew.
            self.errors.count(exc, "user-data resubscription failed")
            return
        if self._resubscribe is resubscribe:  # the connection it ran on is still the current one
            self.stats["resubscribed"] += 1
            self._up()

    def _up(self) -> None:
        self.is_subscribed = True
        if self._health is not None:
            self._health.stream_connected()

    def _down(self) -> None:
        self.is_subscribed = False
        if self._health is not None:
            self._health.stream_disconnected()

    def __repr__(self) -> str:
        return f"UserStream(subscribed={self.is_subscribed}, stats={dict(self.stats)})"
