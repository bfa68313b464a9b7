"""Every allowed and every refused status change, driven through the StateManager."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from connectivity.core.journal import MemoryJournal
from connectivity.core.models import OrderStatus
from connectivity.core.order_record import OrderRecord
from connectivity.core.order_rules import TRANSITIONS, Edge
from connectivity.core.state import StateManager
from tests.core.state_helpers import manager, request, upd

S = OrderStatus
LIVE = (S.NEW, S.PARTIALLY_FILLED, S.PENDING_CANCEL)

# The specification of the table, written independently of its construction.
EXPECTED_LEGAL = (
    (
        {(start, end) for start in (S.PENDING_NEW, S.IN_DOUBT) for end in S}
        - {(S.PENDING_NEW, S.PENDING_NEW), (S.IN_DOUBT, S.IN_DOUBT), (S.IN_DOUBT, S.PENDING_NEW)}
    )
    | {
        (start, end)
        for start in LIVE
        for end in (
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELED,
            S.EXPIRED,
            S.IN_DOUBT,
            S.PENDING_CANCEL,
        )
        if start is not end
    }
    | {
        (S.PENDING_CANCEL, S.NEW),
        (S.CANCELED, S.FILLED),
        (S.CANCELED, S.PARTIALLY_FILLED),
        (S.EXPIRED, S.FILLED),
        (S.EXPIRED, S.PARTIALLY_FILLED),
    }
)


def test_transition_table_holds_exactly_the_specified_edges() -> None:
    assert set(TRANSITIONS) == EXPECTED_LEGAL
    assert TRANSITIONS[S.CANCELED, S.FILLED] is Edge.FILL_PROVEN
    assert TRANSITIONS[S.CANCELED, S.PARTIALLY_FILLED] is Edge.KEEP_STATUS
    for status in (S.FILLED, S.REJECTED):
        assert not [end for (start, end) in TRANSITIONS if start is status], "absorbing"


def _in_status(status: OrderStatus, filled: str) -> StateManager:
    """Return a manager whose journal holds order ``botp1-1`` in ``status`` at ts 10."""
    rec = OrderRecord.from_request("sim", request("botp1-1"))
    rec.status, rec.upd_filled, rec.ts, rec.source = status, Decimal(filled), 10, "ws"
    journal = MemoryJournal()
    journal.append(rec.record())
    state, _ = manager(journal)
    return state


VENUE_REPORTED = (S.NEW, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED)
FILLED_BEFORE = {S.PARTIALLY_FILLED: "2", S.CANCELED: "2", S.EXPIRED: "2", S.PENDING_CANCEL: "2"}


@pytest.mark.parametrize(("start", "end"), list(itertools.product(S, VENUE_REPORTED)))
def test_newer_venue_evidence_applies_legal_changes_and_refuses_illegal_ones(
    start: OrderStatus, end: OrderStatus
) -> None:
    before = FILLED_BEFORE.get(start, "0")
    # A fill status reports more quantity; others keep it (a newer venue time makes it newer).
    filled = {S.PARTIALLY_FILLED: "5", S.FILLED: "10"}.get(end, before)
    state = _in_status(start, before)
    state.apply(upd("botp1-1", end, filled, ts=20))
    order = state.order("botp1-1")
    assert order is not None
    rule = TRANSITIONS.get((start, end))
    if start is end:
        assert order.status is end and not state.errors
    elif start is S.PENDING_CANCEL and end in (S.NEW, S.PARTIALLY_FILLED):
        # The venue has not processed our cancel yet: still pending, quantity merged.
        assert order.status is S.PENDING_CANCEL and order.filled_quantity == Decimal(filled)
    elif rule is None or (rule is not Edge.ANY and Decimal(filled) <= Decimal(before)):
        assert order.status is start and order.filled_quantity == Decimal(before)
        assert state.errors[f"{start.value}->{end.value}"] == 1
    elif rule is Edge.KEEP_STATUS:
        assert order.status is start and order.filled_quantity == Decimal(filled)
    else:
        assert order.status is end and not state.errors


@pytest.mark.parametrize("start", list(S))
def test_outcome_unknown_moves_only_live_orders_in_doubt_never_rejected(
    start: OrderStatus,
) -> None:
    state = _in_status(start, "0")
    events = state.outcome_unknown("botp1-1", "cancel", "timeout", 30)
    order = state.order("botp1-1")
    assert order is not None
    if start.is_terminal or start is S.IN_DOUBT:
        assert events == [] and order.status is start
    else:
        assert order.status is S.IN_DOUBT and not state.errors
        assert [type(e).__name__ for e in events] == ["OrderInDoubt"]


@pytest.mark.parametrize("start", list(S))
def test_cancel_request_moves_only_live_orders_to_pending_cancel(
    start: OrderStatus,
) -> None:
    state = _in_status(start, "0")
    state.cancel_requested("botp1-1", 30)
    order = state.order("botp1-1")
    assert order is not None
    keeps = start.is_terminal or start is S.IN_DOUBT  # in doubt: nothing proven to cancel
    expected = start if keeps else S.PENDING_CANCEL
    assert order.status is expected and not state.errors


@pytest.mark.parametrize(("filled", "back_to"), [("0", S.NEW), ("2", S.PARTIALLY_FILLED)])
def test_failed_cancel_returns_to_new_or_partially_filled(
    filled: str, back_to: OrderStatus
) -> None:
    state = _in_status(S.PENDING_CANCEL, filled)
    state.cancel_failed("botp1-1", "unknown order", 30)
    order = state.order("botp1-1")
    assert order is not None and order.status is back_to


def test_venue_can_never_report_an_order_back_to_pending_new() -> None:
    state = _in_status(S.NEW, "0")
    state.apply(upd("botp1-1", S.PENDING_NEW, "0", ts=20))
    assert state.errors["NEW->PENDING_NEW"] == 1
