"""StateManager merge rules, in-doubt settlement, balances and derived figures."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from connectivity.core.events import (
    BalanceChanged,
    OrderAccepted,
    OrderInDoubt,
    OrderRefused,
    OrderSettled,
)
from connectivity.core.models import Fill, OrderStatus, Side
from connectivity.core.order_rules import ClientOrderIds
from connectivity.errors import (
    AuthError,
    Banned,
    ConfigError,
    ConnectionLost,
    InsufficientFunds,
    OrderOutcomeUnknown,
    OrderRejected,
    ParseError,
    RateLimited,
    RequestTimeout,
    ServerError,
)
from tests.core.state_helpers import balance, fill, manager, request, upd

S = OrderStatus
CID = "botp1-1"


def _placed(status: S = S.NEW) -> tuple:  # type: ignore[type-arg]
    state, events = manager()
    state.register(request(CID), 0)
    if status is not S.PENDING_NEW:
        state.apply(upd(CID, status, ts=5, vid="v1"))
    events.clear()
    return state, events


def test_client_order_ids_carry_the_process_prefix_and_recognise_ours() -> None:
    ids = ClientOrderIds("bot", "p1-")
    assert [ids.next(), ids.next()] == ["botp1-1", "botp1-2"]
    assert ids.is_ours("botzz-9") and not ids.is_ours("web_123")
    assert ClientOrderIds.for_process("bot").prefix != ClientOrderIds.for_process("bot").prefix
    with pytest.raises(ConfigError):
        ClientOrderIds("bad id", "")


def test_older_rest_snapshot_never_overwrites_newer_stream_state() -> None:
    state, _events = _placed()
    state.apply(upd(CID, S.PARTIALLY_FILLED, "4", ts=9))
    assert state.apply(upd(CID, S.NEW, "0", ts=7, source="rest")) == []
    state.apply(upd(CID, S.CANCELED, "4", ts=12))
    assert state.apply(upd(CID, S.PARTIALLY_FILLED, "4", ts=9, source="rest")) == []
    order = state.order(CID)
    assert order is not None and order.status is S.CANCELED
    assert order.filled_quantity == Decimal(4) and state.stats["stale"] == 2


def test_same_time_same_source_orders_by_sequence() -> None:
    state, _ = _placed()
    state.apply(upd(CID, S.CANCELED, "0", ts=5, source="fix", seq=8))
    assert state.apply(upd(CID, S.NEW, "0", ts=5, source="fix", seq=7)) == []
    order = state.order(CID)
    assert order is not None and order.status is S.CANCELED


def test_cumulative_filled_quantity_never_decreases() -> None:
    state, _ = _placed()
    state.apply(upd(CID, S.PARTIALLY_FILLED, "6", ts=9))
    state.apply(upd(CID, S.PARTIALLY_FILLED, "3", ts=20, source="rest"))
    order = state.order(CID)
    assert order is not None and order.filled_quantity == Decimal(6)


def test_fill_counts_once_across_sources_and_emits_once() -> None:
    state, events = _placed()
    for source_vid in ("v1", None, "v1"):
        state.apply(fill(CID if source_vid is None else "", "t1", "4", vid=source_vid, ts=6))
    fills = [e for e in events if isinstance(e, Fill)]
    order = state.order(CID)
    assert len(fills) == 1 and order is not None
    assert order.filled_quantity == Decimal(4) and order.fees == (("BNB", Decimal("0.01")),)
    assert state.stats["duplicate_fill"] == 2


def test_fill_and_cumulative_update_of_the_same_trade_do_not_double_count() -> None:
    state, _ = _placed()
    state.apply(upd(CID, S.PARTIALLY_FILLED, "4", ts=6, quote="400"))
    state.apply(fill(CID, "t1", "4", price="100", ts=6))
    state.apply(fill(CID, "t2", "6", price="110", ts=8))
    state.apply(upd(CID, S.FILLED, "10", ts=8, quote="1060"))
    order = state.order(CID)
    assert order is not None and order.status is S.FILLED
    assert order.filled_quantity == Decimal(10) and order.average_price == Decimal("106")


def test_fill_before_its_order_is_parked_and_counted_when_the_order_appears() -> None:
    state, events = manager()
    state.apply(fill("", "t1", "2", vid="v77", ts=3))
    assert state.parked_fills() and not events
    state.apply(upd("web_1", S.NEW, ts=2, vid="v77"))
    order = state.order("web_1")
    assert order is not None and order.foreign and order.filled_quantity == Decimal(2)
    assert order.status is S.PARTIALLY_FILLED and not state.parked_fills()
    assert [type(e).__name__ for e in events] == [
        "OrderAccepted", "OrderPartiallyFilled", "Fill"
    ]  # fmt: skip


def test_foreign_order_is_tracked_and_never_confused_with_ours() -> None:
    state, events = manager()
    state.apply(upd("web_1", S.NEW, ts=2, vid="v9"))
    state.apply(upd("botp0-7", S.NEW, ts=2, vid="v10"))  # an earlier process of ours
    foreign, adopted = state.order("web_1"), state.order("botp0-7")
    assert foreign is not None and foreign.foreign
    assert adopted is not None and not adopted.foreign
    assert isinstance(events[0], OrderAccepted) and events[0].foreign


def test_update_for_unknown_order_without_details_is_a_parse_error() -> None:
    state, _ = manager()
    with pytest.raises(ParseError):
        state.apply(upd("web_1", S.NEW, qty=None))
    with pytest.raises(ParseError, match="lacks side, type or quantity"):
        state.apply(attrs.evolve(upd("web_1", S.NEW), order_type=None))  # never guessed
    assert state.order("web_1") is None


def test_canceled_then_a_proven_fill_completes_the_order() -> None:
    state, _ = _placed()
    state.apply(upd(CID, S.CANCELED, "0", ts=9))
    state.apply(fill(CID, "t1", "10", ts=8))
    order = state.order(CID)
    assert order is not None and order.status is S.FILLED and not state.errors


def test_canceled_then_a_partial_proven_fill_stays_canceled_with_the_quantity() -> None:
    state, _ = _placed()
    state.apply(upd(CID, S.CANCELED, "0", ts=9))
    state.apply(fill(CID, "t1", "3", ts=8))
    order = state.order(CID)
    assert order is not None and order.status is S.CANCELED
    assert order.filled_quantity == Decimal(3) and order.leaves_quantity == 0


def test_first_seen_through_a_fill() -> None:
    state, _events = _placed(S.PENDING_NEW)
    state.apply(fill(CID, "t1", "10", ts=4))
    order = state.order(CID)
    assert order is not None and order.status is S.FILLED


def test_illegal_transition_is_counted_logged_and_not_applied(caplog) -> None:  # type: ignore[no-untyped-def]
    state, _ = _placed()
    state.apply(upd(CID, S.FILLED, "10", ts=9))
    state.apply(upd(CID, S.REJECTED, "10", ts=11))
    order = state.order(CID)
    assert order is not None and order.status is S.FILLED
    assert state.errors["FILLED->REJECTED"] == 1
    assert "FILLED -> REJECTED" in caplog.text and "evidence" in caplog.text


# ---- in doubt -------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["timeout", "HTTP 503", "HTTP 429", "HTTP 418", "disconnect"])
def test_submit_without_definite_answer_is_in_doubt_never_rejected(reason: str) -> None:
    state, events = _placed(S.PENDING_NEW)
    state.outcome_unknown(CID, "submit", reason, 1)
    order = state.order(CID)
    assert order is not None and order.status is S.IN_DOUBT
    assert isinstance(events[-1], OrderInDoubt) and events[-1].reason == reason
    assert state.in_doubt() == [CID]


def _in_doubt() -> tuple:  # type: ignore[type-arg]
    state, events = _placed(S.PENDING_NEW)
    state.outcome_unknown(CID, "submit", "timeout", 1)
    events.clear()
    return state, events


def _settled(events: list) -> OrderSettled:  # type: ignore[type-arg]
    settled = [e for e in events if isinstance(e, OrderSettled)]
    assert len(settled) == 1
    return settled[0]


def test_in_doubt_settled_by_the_stream() -> None:
    state, events = _in_doubt()
    state.apply(upd(CID, S.NEW, ts=5, source="ws"))
    assert _settled(events).evidence == "NEW from ws" and state.in_doubt() == []


def test_in_doubt_settled_by_an_order_query() -> None:
    state, events = _in_doubt()
    state.apply(upd(CID, S.CANCELED, ts=5, source="rest-query"))
    settled = _settled(events)
    assert settled.status is S.CANCELED and settled.evidence == "CANCELED from rest-query"


def test_in_doubt_settled_by_a_late_fill() -> None:
    state, events = _in_doubt()
    state.apply(fill(CID, "t5", "4", ts=5))
    settled = _settled(events)
    assert settled.status is S.PARTIALLY_FILLED and settled.evidence == "fill t5"


def test_in_doubt_settled_by_duplicate_client_order_id_rejection() -> None:
    state, events = _in_doubt()
    state.duplicate_rejected(CID, "rest", 5)
    settled = _settled(events)
    assert settled.status is S.NEW and "duplicate client order id" in settled.evidence
    state.apply(upd(CID, S.FILLED, "10", ts=6))  # later evidence still refines it
    order = state.order(CID)
    assert order is not None and order.status is S.FILLED


def test_unknown_order_answers_prove_absence_only_after_configured_misses_and_time() -> None:
    state, events = _in_doubt()
    second = 1_000_000_000
    assert state.not_found(CID, "rest-query", 1 * second) == []
    assert state.not_found(CID, "rest-query", 2 * second) == []
    assert state.not_found(CID, "rest-query", 3 * second) == []  # 3 answers but over 2 s only
    order = state.order(CID)
    assert order is not None and order.status is S.IN_DOUBT
    state.not_found(CID, "rest-query", 4 * second + 1)
    order = state.order(CID)
    assert order is not None and order.status is S.REJECTED
    assert _settled(events).evidence.startswith("absent: 4 unknown-order answers")
    assert isinstance(events[-1], OrderRefused)


def test_existence_evidence_resets_the_unknown_order_count() -> None:
    state, _ = _in_doubt()
    state.not_found(CID, "rest-query", 0)
    state.not_found(CID, "rest-query", 5_000_000_000)
    state.outcome_unknown(CID, "submit", "timeout", 6_000_000_000)
    state.apply(upd(CID, S.NEW, ts=5))
    state.outcome_unknown(CID, "cancel", "timeout", 7_000_000_000)
    state.not_found(CID, "rest-query", 8_000_000_000)  # an acked order is never assumed gone
    order = state.order(CID)
    assert order is not None and order.status is S.IN_DOUBT


def test_in_doubt_cancel_settled_by_venue_canceled() -> None:
    state, events = _placed()
    state.cancel_requested(CID, 6)
    state.outcome_unknown(CID, "cancel", "HTTP 503", 7)
    state.apply(upd(CID, S.CANCELED, ts=8, source="ws"))
    settled = _settled(events)
    assert settled.operation == "cancel" and settled.status is S.CANCELED


# ---- balances and derived figures ---------------------------------------------------------


def test_balance_is_last_snapshot_plus_later_deltas_counted_once() -> None:
    state, events = manager()
    state.apply(balance("USDT", "100", "0", ts=10))
    state.apply(balance("USDT", delta="5", ts=12))
    state.apply(balance("USDT", delta="5", ts=12, source="rest"))  # same delta, other source
    state.apply(balance("USDT", delta="7", ts=9))  # older than the snapshot: inside it
    assert state.balance("USDT").free == Decimal(105)
    state.apply(balance("USDT", "103", "2", ts=11))  # newer snapshot, before the delta
    assert state.balance("USDT").free == Decimal(108)
    state.apply(balance("USDT", "50", "0", ts=8))  # older snapshot ignored
    assert state.balance("USDT").total == Decimal(110)
    assert sum(isinstance(e, BalanceChanged) for e in events) == 3


def test_reserved_and_available_follow_open_orders_and_pre_trade_check_refuses() -> None:
    state, _ = _placed()
    state.apply(balance("USDT", "1500", "0", ts=1))
    state.apply(upd(CID, S.PARTIALLY_FILLED, "4", ts=9))
    assert state.reserved("USDT") == Decimal(600)  # 6 left at 100
    assert state.available("USDT") == Decimal(900)
    state.check_funds(request("botp1-2", qty="9"))
    with pytest.raises(InsufficientFunds, match="needs 1000 USDT, 900 available"):
        state.register(request("botp1-2", qty="10"), 1, check_funds=True)
    assert state.order("botp1-2") is None


def test_working_quantity_per_symbol_and_side_and_open_orders() -> None:
    state, _ = _placed()
    state.register(request("botp1-2", qty="3", side=Side.SELL), 1)
    state.apply(upd(CID, S.PARTIALLY_FILLED, "4", ts=9))
    assert state.working_quantity("BTC-USDT", Side.BUY) == Decimal(6)
    assert state.working_quantity("BTC-USDT", Side.SELL) == Decimal(3)
    assert {o.client_order_id for o in state.open_orders("BTC-USDT")} == {CID, "botp1-2"}
    assert state.open_orders("ETH-USDT") == []


def test_registering_the_same_client_order_id_twice_is_refused() -> None:
    state, _ = _placed()
    with pytest.raises(ConfigError):
        state.register(request(CID), 1)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (RequestTimeout("no answer"), S.IN_DOUBT),
        (ConnectionLost("dropped"), S.IN_DOUBT),
        (ServerError("HTTP 503", status=503), S.IN_DOUBT),
        (RateLimited("HTTP 429", retry_after=1.0), S.IN_DOUBT),
        (Banned("HTTP 418", retry_after=60.0), S.IN_DOUBT),
        (ParseError("garbled answer"), S.IN_DOUBT),
        (OrderOutcomeUnknown("batch failed"), S.IN_DOUBT),
        (RuntimeError("unexpected"), S.IN_DOUBT),
        (OrderRejected("insufficient balance", code=-2010), S.REJECTED),
        (AuthError("bad signature"), S.REJECTED),
    ],
)
def test_failed_submit_is_rejected_only_on_a_definite_refusal(
    exc: BaseException, status: OrderStatus
) -> None:
    state, _ = _placed(S.PENDING_NEW)
    state.request_failed(CID, "submit", exc, 1)
    order = state.order(CID)
    assert order is not None and order.status is status


def test_failed_cancel_refused_returns_to_live_and_unknown_outcome_is_in_doubt() -> None:
    state, _ = _placed()
    state.cancel_requested(CID, 1)
    state.request_failed(CID, "cancel", OrderRejected("unknown order", code=-2011), 2)
    order = state.order(CID)
    assert order is not None and order.status is S.NEW
    state.cancel_requested(CID, 3)
    state.request_failed(CID, "cancel", RequestTimeout("no answer"), 4)
    order = state.order(CID)
    assert order is not None and order.status is S.IN_DOUBT
