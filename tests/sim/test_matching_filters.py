"""The matching engine's request checks: filters, shapes, duplicates, limits, funds."""

from __future__ import annotations

import attrs
import pytest

from connectivity.core.models import OrderStatus, OrderType, Side, TimeInForce
from connectivity.sim.orders import FilterKind, NewOrder, RejectReason
from tests.sim.matching_helpers import SYMBOL, T0, d, engine, limit, market

BUY, SELL = Side.BUY, Side.SELL
R = RejectReason

CASES = [
    (limit(BUY, "100.001", "1"), R.PRICE_NOT_ON_TICK, FilterKind.PRICE),
    (limit(BUY, "0", "1"), R.INVALID_ORDER, None),
    (limit(BUY, "1000000.01", "0.001"), R.PRICE_TOO_HIGH, FilterKind.PRICE),
    (limit(BUY, "100", "0.0015"), R.QTY_NOT_ON_STEP, FilterKind.LOT),
    (limit(BUY, "5000", "0"), R.INVALID_ORDER, None),
    (limit(BUY, "100", "100.001"), R.QTY_TOO_HIGH, FilterKind.LOT),
    (limit(BUY, "4.99", "1"), R.NOTIONAL_TOO_LOW, FilterKind.NOTIONAL),
    (limit(SELL, "999999", "2"), R.NOTIONAL_TOO_HIGH, FilterKind.NOTIONAL),
    (market(SELL, quote="4.99"), R.NOTIONAL_TOO_LOW, FilterKind.NOTIONAL),
    (NewOrder(SYMBOL, BUY, OrderType.LIMIT, d("1"), d("100")), R.INVALID_ORDER, None),
    (NewOrder(SYMBOL, BUY, OrderType.MARKET, d("1"), None, d("5")), R.INVALID_ORDER, None),
    (NewOrder(SYMBOL, BUY, OrderType.MARKET, d("1"), d("100")), R.INVALID_ORDER, None),
    (NewOrder(SYMBOL, BUY, OrderType.STOP_LOSS, d("1")), R.INVALID_ORDER, None),
    (
        NewOrder(SYMBOL, BUY, OrderType.LIMIT_MAKER, d("1"), d("100"), None, TimeInForce.GTC),
        R.INVALID_ORDER,
        None,
    ),
    (NewOrder("ETHUSDT", BUY, OrderType.MARKET, d("1")), R.UNKNOWN_SYMBOL, None),
    (limit(BUY, "100.01", "100"), R.INSUFFICIENT_BALANCE, None),
    (limit(SELL, "100", "10.001"), R.INSUFFICIENT_BALANCE, None),
]


@pytest.mark.parametrize(("request_", "reason", "family"), CASES)
def test_request_failing_a_check_is_rejected_with_its_reason(
    request_: NewOrder, reason: RejectReason, family: FilterKind | None
) -> None:
    venue = engine("alice")
    before = venue.balances("alice")
    result = venue.place("alice", request_, T0)
    assert result.reject is reason and reason.filter is family
    assert result.order.status is OrderStatus.REJECTED
    assert venue.balances("alice") == before and venue.open_orders("alice") == []


def test_qty_below_the_minimum_is_rejected_by_the_lot_filter() -> None:
    venue = engine("alice")
    venue.rules[SYMBOL] = attrs.evolve(venue.rules[SYMBOL], min_qty=d("0.01"))
    assert venue.place("alice", limit(BUY, "100", "0.005"), T0).reject is R.QTY_TOO_LOW


def test_price_below_the_minimum_is_rejected_by_the_price_filter() -> None:
    venue = engine("alice")
    venue.rules[SYMBOL] = attrs.evolve(venue.rules[SYMBOL], min_price=d("10"))
    assert venue.place("alice", limit(BUY, "9.99", "1"), T0).reject is R.PRICE_TOO_LOW


def test_market_notional_uses_the_last_trade_price_when_applied_to_market() -> None:
    venue = engine("alice", "bob")
    venue.place("bob", limit(SELL, "10", "1"), T0)
    venue.place("alice", limit(BUY, "10", "0.5"), T0)  # last price 10
    assert venue.place("alice", market(BUY, qty="0.4"), T0).reject is R.NOTIONAL_TOO_LOW
    assert venue.place("alice", market(BUY, qty="0.5"), T0).ok


def test_unknown_account_is_rejected() -> None:
    venue = engine()
    assert venue.place("nobody", limit(BUY, "100", "1"), T0).reject is R.UNKNOWN_ACCOUNT
    assert venue.place("house", limit(BUY, "100", "1"), T0).reject is R.UNKNOWN_ACCOUNT


def test_duplicate_client_order_id_among_open_orders_is_rejected_until_it_closes() -> None:
    venue = engine("alice", "bob")
    first = venue.place("alice", limit(BUY, "100", "1", cid="q1"), T0)
    assert first.ok
    again = venue.place("alice", limit(BUY, "99", "1", cid="q1"), T0)
    assert again.reject is R.DUPLICATE_CLIENT_ORDER_ID
    assert venue.place("bob", limit(BUY, "99", "1", cid="q1"), T0).ok  # another account
    assert venue.cancel("alice", SYMBOL, client_order_id="q1", now_ns=T0).ok
    reused = venue.place("alice", limit(BUY, "98", "1", cid="q1"), T0)
    assert reused.ok and reused.order.order_id != first.order.order_id
    assert venue.query("alice", SYMBOL, client_order_id="q1") == reused.order


def test_more_open_orders_than_the_symbol_allows_are_rejected() -> None:
    venue = engine("alice")
    for i in range(5):
        assert venue.place("alice", limit(BUY, str(90 + i), "0.1"), T0).ok
    assert venue.place("alice", limit(BUY, "80", "0.1"), T0).reject is R.TOO_MANY_ORDERS
    venue.cancel_all("alice", SYMBOL, T0)
    assert venue.place("alice", limit(BUY, "80", "0.1"), T0).ok


def test_filled_orders_leave_the_open_order_count() -> None:
    venue = engine("alice", "bob")
    for _ in range(5):
        venue.place("alice", limit(SELL, "100", "0.1"), T0)
    venue.place("bob", market(BUY, qty="0.5"), T0)
    assert venue.open_orders("alice") == []
    assert venue.place("alice", limit(SELL, "100", "0.1"), T0).ok


def test_a_generated_client_id_never_duplicates_an_open_one_chosen_by_the_caller() -> None:
    venue = engine("alice")
    assert venue.place("alice", limit(BUY, "100", "1", cid="sim-1"), T0).ok
    generated = venue.place("alice", limit(BUY, "99", "1"), T0)
    assert generated.ok and generated.order.client_order_id != "sim-1"
    assert venue.query("alice", SYMBOL, client_order_id="sim-1").price == d("100")
