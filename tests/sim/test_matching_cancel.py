"""The matching engine: cancel, cancel-replace outcomes, cancel all, amend, self-trade checks."""

from __future__ import annotations

import pytest

from connectivity.core.models import OrderStatus, Side, TimeInForce
from connectivity.sim.orders import (
    ExecType,
    ExecutionEvent,
    ExpireReason,
    RejectReason,
    ReplaceMode,
    ReplaceOutcome,
    StpMode,
)
from tests.sim.matching_helpers import SYMBOL, T0, d, engine, exec_types, limit

BUY, SELL = Side.BUY, Side.SELL


def test_cancel_by_venue_id_or_client_id_releases_the_funds_and_reports_canceled() -> None:
    venue = engine("alice")
    one = venue.place("alice", limit(BUY, "100", "1", cid="a"), T0).order
    venue.place("alice", limit(BUY, "99", "1", cid="b"), T0)
    assert venue.balances("alice")["USDT"] == (d("9801"), d("199"))
    assert venue.cancel("alice", SYMBOL, order_id=one.order_id, now_ns=T0 + 1).ok
    by_client = venue.cancel(
        "alice", SYMBOL, client_order_id="b", cancel_client_order_id="x", now_ns=T0 + 2
    )
    assert by_client.ok and by_client.order is not None
    assert by_client.order.status is OrderStatus.CANCELED and by_client.order.updated_ns == T0 + 2
    assert venue.balances("alice")["USDT"] == (d("10000"), 0)
    assert venue.books[SYMBOL].bids.totals == {}
    events = venue.take_events()
    assert exec_types(events, "alice", "b") == [ExecType.NEW, ExecType.CANCELED]
    canceled = [
        e for e in events if isinstance(e, ExecutionEvent) and e.order.client_order_id == "b"
    ]
    assert canceled[-1].cancel_client_order_id == "x"


@pytest.mark.parametrize(
    ("order_id", "client_order_id", "account"),
    [(999, None, "alice"), (None, "nope", "alice"), (1, None, "bob"), (1, "other", "alice")],
)
def test_cancel_of_no_such_open_order_is_rejected_as_unknown(
    order_id: int | None, client_order_id: str | None, account: str
) -> None:
    venue = engine("alice", "bob")
    venue.place("alice", limit(BUY, "100", "1", cid="mine"), T0)
    venue.place("alice", limit(BUY, "99", "1", cid="other"), T0)
    result = venue.cancel(
        account, SYMBOL, order_id=order_id, client_order_id=client_order_id, now_ns=T0
    )
    assert result.reject is RejectReason.UNKNOWN_ORDER
    assert len(venue.open_orders("alice")) == 2


def test_cancel_of_a_filled_order_is_rejected_but_returns_its_final_state() -> None:
    venue = engine("alice", "bob")
    order = venue.place("alice", limit(SELL, "100", "1"), T0).order
    venue.place("bob", limit(BUY, "100", "1"), T0)
    result = venue.cancel("alice", SYMBOL, order_id=order.order_id, now_ns=T0)
    assert result.reject is RejectReason.UNKNOWN_ORDER
    assert result.order is not None and result.order.status is OrderStatus.FILLED


def _replace_case(venue_mode: ReplaceMode, cancel_cid: str, new_qty: str) -> tuple[object, ...]:
    venue = engine("alice")
    venue.place("alice", limit(BUY, "100", "1", cid="old"), T0)
    result = venue.cancel_replace(
        "alice",
        limit(BUY, "101", new_qty, cid="new"),
        mode=venue_mode,
        client_order_id=cancel_cid,
        now_ns=T0 + 1,
    )
    open_ids = [o.client_order_id for o in venue.open_orders("alice")]
    return result.outcome, result.new is None, open_ids


@pytest.mark.parametrize(
    ("mode", "cancel_cid", "new_qty", "outcome", "not_attempted", "open_after"),
    [
        (ReplaceMode.STOP_ON_FAILURE, "old", "1", ReplaceOutcome.BOTH_OK, False, ["new"]),
        (ReplaceMode.STOP_ON_FAILURE, "gone", "1", ReplaceOutcome.CANCEL_FAILED, True, ["old"]),
        (
            ReplaceMode.ALLOW_FAILURE,
            "gone",
            "1",
            ReplaceOutcome.CANCEL_FAILED,
            False,
            ["old", "new"],
        ),
        (ReplaceMode.STOP_ON_FAILURE, "old", "500", ReplaceOutcome.NEW_FAILED, False, []),
        (ReplaceMode.ALLOW_FAILURE, "gone", "500", ReplaceOutcome.BOTH_FAILED, False, ["old"]),
    ],
)
def test_cancel_replace_reports_each_leg(
    mode: ReplaceMode,
    cancel_cid: str,
    new_qty: str,
    outcome: ReplaceOutcome,
    not_attempted: bool,
    open_after: list[str],
) -> None:
    assert _replace_case(mode, cancel_cid, new_qty) == (outcome, not_attempted, open_after)


def test_cancel_replace_may_reuse_the_canceled_orders_client_id() -> None:
    venue = engine("alice")
    venue.place("alice", limit(BUY, "100", "1", cid="q"), T0)
    result = venue.cancel_replace(
        "alice", limit(BUY, "101", "1", cid="q"), client_order_id="q", now_ns=T0
    )
    assert result.outcome is ReplaceOutcome.BOTH_OK
    assert [o.price for o in venue.open_orders("alice")] == [d("101")]


def test_cancel_all_cancels_only_that_accounts_orders_on_that_symbol() -> None:
    venue = engine("alice", "bob")
    for price in ("97", "98", "99"):
        venue.place("alice", limit(BUY, price, "1"), T0)
    venue.place("bob", limit(BUY, "96", "1"), T0)
    results = venue.cancel_all("alice", SYMBOL, T0)
    assert [r.order.price for r in results if r.order] == [d("97"), d("98"), d("99")]
    assert venue.open_orders("alice") == [] and len(venue.open_orders("bob")) == 1
    assert venue.cancel_all("alice", SYMBOL, T0) == []


def test_amend_down_keeps_priority_releases_funds_and_reports_replaced() -> None:
    venue = engine("alice", "bob", "carol")
    first = venue.place("alice", limit(BUY, "100", "2"), T0).order
    venue.place("bob", limit(BUY, "100", "1"), T0)
    amended = venue.amend("alice", SYMBOL, d("1"), order_id=first.order_id, now_ns=T0)
    assert amended.ok and venue.balances("alice")["USDT"] == (d("9900"), d("100"))
    assert venue.amend("alice", SYMBOL, d("3"), order_id=first.order_id, now_ns=T0).reject is (
        RejectReason.INVALID_ORDER
    )
    venue.place("carol", limit(SELL, "100", "1"), T0)
    assert venue.query("alice", SYMBOL, order_id=first.order_id).status is OrderStatus.FILLED
    assert ExecType.REPLACED in exec_types(venue.take_events(), "alice", first.client_order_id)


STP_CASES = [
    # (mode, Alice's taker status, Alice's resting bid status, Bob's bid executed)
    (StpMode.NONE, OrderStatus.FILLED, OrderStatus.FILLED, "0"),
    (StpMode.EXPIRE_TAKER, OrderStatus.EXPIRED, OrderStatus.NEW, "0"),
    (StpMode.EXPIRE_MAKER, OrderStatus.FILLED, OrderStatus.EXPIRED, "1"),
    (StpMode.EXPIRE_BOTH, OrderStatus.EXPIRED, OrderStatus.EXPIRED, "0"),
]


@pytest.mark.parametrize(("mode", "taker", "resting", "bob_executed"), STP_CASES)
def test_self_trade_prevention_applies_the_takers_mode(
    mode: StpMode, taker: OrderStatus, resting: OrderStatus, bob_executed: str
) -> None:
    venue = engine("alice", "bob")
    bid = venue.place("alice", limit(BUY, "100", "1"), T0).order
    bob = venue.place("bob", limit(BUY, "100", "1"), T0 + 1).order
    result = venue.place("alice", limit(SELL, "100", "1", TimeInForce.IOC, stp=mode), T0 + 2)
    assert result.order.status is taker
    assert venue.query("alice", SYMBOL, order_id=bid.order_id).status is resting
    assert venue.query("bob", SYMBOL, order_id=bob.order_id).executed == d(bob_executed)
    expired = [e for e in venue.take_events() if getattr(e, "exec_type", None) is ExecType.EXPIRED]
    assert all(e.expire is ExpireReason.SELF_TRADE for e in expired)  # type: ignore[union-attr]
    assert venue.balances("alice")["USDT"][1] == (d("100") if resting is OrderStatus.NEW else 0)
