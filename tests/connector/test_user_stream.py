"""UserStream: events merged into the state manager, bad ones counted, health reported."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import gevent
import gevent.event
import pytest

from connectivity.connector.reconciler import Reconciler, ReconcilerConfig
from connectivity.connector.user_stream import StreamTerminated, UserItem, UserStream
from connectivity.core.clock import ManualClock
from connectivity.core.counters import ErrorCounter
from connectivity.core.models import OrderStatus
from connectivity.errors import ConnectionLost, ParseError
from connectivity.runtime import Supervisor
from tests.connector.test_reconciler import FakeAccount
from tests.core.state_helpers import balance, fill, manager, request, upd

S = OrderStatus
BOUND_S = 5.0
TERMINATED = StreamTerminated(1, 2)


class Health:
    """Records what the stream reported, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def stream_connected(self) -> None:
        self.calls.append("up")

    def stream_disconnected(self) -> None:
        self.calls.append("down")

    def stream_event(self) -> None:
        self.calls.append("event")


def parse(payload: Any, ts_recv: int) -> Sequence[UserItem]:
    """The test's 'venue parser': payloads are already parsed items; "bad" is malformed."""
    if payload == "bad":
        raise ParseError("malformed test event")
    return list(payload)


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    owner = Supervisor("test-user-stream")
    yield owner
    owner.close()


def make(supervisor: Supervisor, **kw: Any) -> tuple[UserStream, Health]:
    state, _ = manager()
    health = Health()
    stream = UserStream(
        state, parse, clock=ManualClock(), supervisor=supervisor, health=health, **kw
    )
    return stream, health


def test_events_are_merged_into_the_state_manager_and_duplicates_count_once(
    supervisor: Supervisor,
) -> None:
    stream, health = make(supervisor)
    stream.state.register(request("botp1-1", qty="10"), 0)
    trade = fill("botp1-1", "t1", qty="4")
    stream.on_event([upd("botp1-1", S.NEW, ts=1)], 1)
    stream.on_event([upd("botp1-1", S.PARTIALLY_FILLED, "4", ts=2), trade], 2)
    stream.on_event([trade], 3)  # the same trade again
    stream.on_event([balance("USDT", free="5", ts=3)], 4)
    order = stream.state.order("botp1-1")
    assert order is not None and order.status is S.PARTIALLY_FILLED
    assert order.filled_quantity == Decimal("4")
    assert stream.state.stats["duplicate_fill"] == 1
    assert stream.state.balance("USDT").free == Decimal("5")
    assert health.calls == ["event"] * 4
    assert stream.stats["events"] == 4


def test_malformed_event_is_counted_in_the_shared_counter_and_the_stream_goes_on(
    supervisor: Supervisor,
) -> None:
    shared = ErrorCounter("account", lambda: 0)
    stream, health = make(supervisor, errors=shared)
    stream.state.register(request("botp1-1"), 0)
    stream.on_event("bad", 1)
    stream.on_event([upd("botp1-1", S.NEW, ts=1)], 2)
    assert shared["ParseError"] == 1
    assert health.calls == ["event"]  # a malformed frame is no sign of life
    order = stream.state.order("botp1-1")
    assert order is not None and order.status is S.NEW


def test_update_the_state_manager_refuses_is_counted_not_raised(supervisor: Supervisor) -> None:
    stream, _ = make(supervisor)
    foreign_without_side = upd("other-1", S.NEW, ts=1, qty=None, side=None)  # unknown order
    stream.on_event([foreign_without_side], 1)
    assert stream.errors["ParseError"] == 1


def test_values_the_state_manager_does_not_merge_go_to_on_other(supervisor: Supervisor) -> None:
    seen: list[UserItem] = []
    stream, _ = make(supervisor, on_other=seen.append)
    stream.on_event([("list status", 1)], 1)
    assert seen == [("list status", 1)]
    assert stream.stats["not_merged"] == 1


def test_subscription_and_disconnect_are_reported_to_the_health_listener(
    supervisor: Supervisor,
) -> None:
    stream, health = make(supervisor)
    stream.subscribed(lambda: None)
    assert stream.is_subscribed
    stream.disconnected("reset by peer")
    assert not stream.is_subscribed
    assert health.calls == ["up", "down"]


def test_stream_terminated_resubscribes_on_the_same_connection_then_reports_up(
    supervisor: Supervisor,
) -> None:
    stream, health = make(supervisor)
    renewed = gevent.event.Event()
    stream.subscribed(renewed.set)
    stream.on_event([TERMINATED], 1)
    assert not stream.is_subscribed and health.calls == ["up", "event", "down"]
    assert renewed.wait(BOUND_S)
    assert supervisor.join(BOUND_S)
    assert stream.is_subscribed and health.calls[-1] == "up"
    assert stream.stats["resubscribed"] == 1


def test_failed_resubscription_is_counted_and_leaves_the_stream_down(
    supervisor: Supervisor,
) -> None:
    stream, health = make(supervisor)

    def refuse() -> None:
        raise ConnectionLost("dropped", venue="test")

    stream.subscribed(refuse)
    stream.on_event([TERMINATED], 1)
    assert supervisor.join(BOUND_S)
    assert stream.errors["ConnectionLost"] == 1
    assert not stream.is_subscribed and health.calls[-1] == "down"


def test_renewal_finishing_after_a_disconnect_does_not_mark_the_stream_up(
    supervisor: Supervisor,
) -> None:
    stream, health = make(supervisor)
    started, release = gevent.event.Event(), gevent.event.Event()

    def slow_renewal() -> None:
        started.set()
        release.wait(BOUND_S)

    stream.subscribed(slow_renewal)
    stream.on_event([TERMINATED], 1)
    assert started.wait(BOUND_S)
    stream.disconnected("reset")
    release.set()
    assert supervisor.join(BOUND_S)
    assert not stream.is_subscribed and health.calls[-1] == "down"


def test_reconciler_as_health_goes_fast_on_disconnect_and_termination_slow_once_subscribed(
    supervisor: Supervisor,
) -> None:
    clock = ManualClock()
    state, _ = manager()
    config = ReconcilerConfig(fast_s=2, slow_s=60, silent_after_s=30)
    reconciler = Reconciler(state, FakeAccount(), clock=clock, config=config)
    stream = UserStream(state, parse, clock=clock, supervisor=supervisor, health=reconciler)
    stream.subscribed(lambda: None)
    assert reconciler.interval() == 60
    clock.advance(31)
    assert reconciler.interval() == 2  # silent: reconcile fast, but nothing reconnects
    stream.on_event([], 1)
    assert reconciler.interval() == 60
    stream.disconnected("reset")
    assert reconciler.interval() == 2
    stream.subscribed(lambda: None)
    stream.on_event([TERMINATED], 2)
    assert reconciler.interval() == 2
    assert supervisor.join(BOUND_S)
    assert reconciler.interval() == 60
