"""Reconciliation of our state with a venue snapshot: adopt, query, count, correct."""

from __future__ import annotations

from decimal import Decimal

import attrs

from connectivity.core.events import Correction
from connectivity.core.models import OrderStatus
from connectivity.core.reconcile import VenueSnapshot, reconcile
from tests.core.state_helpers import balance, fill, manager, request, upd

S = OrderStatus


def _snapshot(**kw: object) -> VenueSnapshot:
    return VenueSnapshot(ts_request=100, ts_recv=110, **kw)  # type: ignore[arg-type]


def test_venue_open_order_unknown_here_is_adopted_or_tracked_as_foreign_and_reported() -> None:
    state, events = manager()
    result = reconcile(
        state,
        _snapshot(open_orders=[
            upd("botp0-5", S.NEW, ts=50, source="rest-open", vid="a"),
            upd("web_1", S.PARTIALLY_FILLED, "2", ts=50, source="rest-open", vid="b"),
        ]),
    )  # fmt: skip
    ours, foreign = state.order("botp0-5"), state.order("web_1")
    assert ours is not None and not ours.foreign
    assert foreign is not None and foreign.foreign and foreign.filled_quantity == 2
    assert [(c.key, c.field, c.ours, c.theirs) for c in result.corrections] == [
        ("botp0-5", "known", "absent", "NEW"),
        ("web_1", "known", "absent", "PARTIALLY_FILLED"),
    ]
    assert [e for e in events if isinstance(e, Correction)] == result.corrections


def test_order_open_here_but_missing_there_is_queried_never_assumed_canceled() -> None:
    state, _ = manager()
    state.register(request("botp1-1"), 10)
    state.apply(upd("botp1-1", S.NEW, ts=20))
    state.register(request("botp1-2"), 105)  # after the request went out: not judged yet
    result = reconcile(state, _snapshot(open_orders=[]))
    assert result.to_query == ["botp1-1"]
    order = state.order("botp1-1")
    assert order is not None and order.status is S.NEW
    later = reconcile(
        state, _snapshot(queries={"botp1-1": upd("botp1-1", S.CANCELED, ts=90, source="rest")})
    )
    order = state.order("botp1-1")
    assert order is not None and order.status is S.CANCELED
    assert [(c.field, c.ours, c.theirs) for c in later.corrections] == [
        ("status", "NEW", "CANCELED")
    ]


def test_unknown_order_query_answers_count_towards_absence() -> None:
    state, _ = manager(absent_after_misses=2, absent_after_ns=10)
    state.register(request("botp1-1"), 0)
    state.outcome_unknown("botp1-1", "submit", "timeout", 1)
    reconcile(state, attrs.evolve(_snapshot(queries={"botp1-1": None}), ts_recv=100))
    order = state.order("botp1-1")
    assert order is not None and order.status is S.IN_DOUBT
    reconcile(state, attrs.evolve(_snapshot(queries={"botp1-1": None}), ts_recv=200))
    order = state.order("botp1-1")
    assert order is not None and order.status is S.REJECTED


def test_missing_fill_is_counted_once_and_reported() -> None:
    state, _ = manager()
    state.register(request("botp1-1"), 0)
    state.apply(upd("botp1-1", S.NEW, ts=5, vid="v1"))
    state.apply(fill("botp1-1", "t1", "2", ts=6))
    result = reconcile(
        state, _snapshot(fills=[fill("", "t1", "2", vid="v1"), fill("", "t2", "3", vid="v1")])
    )
    assert [(c.subject, c.key) for c in result.corrections] == [("fill", "t2")]
    order = state.order("botp1-1")
    assert order is not None and order.filled_quantity == Decimal(5)


def test_balance_drift_is_corrected_and_reported_but_a_first_report_is_not_a_drift() -> None:
    state, _ = manager()
    first = reconcile(
        state, _snapshot(balances=[balance("USDT", "100", "0", ts=10, source="rest")])
    )
    assert first.corrections == []
    state.apply(balance("USDT", delta="5", ts=11))
    drift = reconcile(state, _snapshot(balances=[balance("USDT", "98", "1", ts=20, source="rest")]))
    assert [(c.key, c.ours, c.theirs) for c in drift.corrections] == [("USDT", "105/0", "98/1")]
    assert state.balance("USDT").free == Decimal(98)


def test_older_snapshot_changes_nothing_and_reports_nothing() -> None:
    state, _ = manager()
    state.register(request("botp1-1"), 0)
    state.apply(upd("botp1-1", S.PARTIALLY_FILLED, "4", ts=50))
    result = reconcile(
        state, _snapshot(open_orders=[upd("botp1-1", S.NEW, ts=40, source="rest-open")])
    )
    assert result.corrections == [] and result.to_query == []
