"""The matching engine: order types and time in force, price-time priority, partial fills."""

from __future__ import annotations

import pytest

from connectivity.core.models import OrderStatus, Side, TimeInForce
from connectivity.sim.orders import ExecType, ExpireReason, NewOrder, RejectReason
from tests.sim.matching_helpers import (
    SYMBOL,
    T0,
    d,
    engine,
    exec_types,
    limit,
    maker,
    market,
)

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
NEW, TRADE, EXPIRED = ExecType.NEW, ExecType.TRADE, ExecType.EXPIRED


# Bob offers 1 BTC at 100 and 1 BTC at 101; Alice sends the request; what happens to it.
CASES = [
    # (request, status, executed, quote spent, Alice's execution types, resting after)
    (limit(BUY, "100.5", "1.5"), OrderStatus.PARTIALLY_FILLED, "1", "100", [NEW, TRADE], "0.5"),
    (limit(BUY, "100.5", "1.5", IOC), OrderStatus.EXPIRED, "1", "100", [NEW, TRADE, EXPIRED], "0"),
    (limit(BUY, "100.5", "1.5", FOK), OrderStatus.EXPIRED, "0", "0", [NEW, EXPIRED], "0"),
    (limit(BUY, "101", "1.5", FOK), OrderStatus.FILLED, "1.5", "150.5", [NEW, TRADE, TRADE], "0"),
    (limit(BUY, "101", "2", FOK), OrderStatus.FILLED, "2", "201", [NEW, TRADE, TRADE], "0"),
    (limit(BUY, "101", "2.001", FOK), OrderStatus.EXPIRED, "0", "0", [NEW, EXPIRED], "0"),
    (limit(BUY, "99", "0.5"), OrderStatus.NEW, "0", "0", [NEW], "0.5"),
    (limit(BUY, "99", "0.5", IOC), OrderStatus.EXPIRED, "0", "0", [NEW, EXPIRED], "0"),
    (maker(BUY, "99.99", "0.5"), OrderStatus.NEW, "0", "0", [NEW], "0.5"),
    (market(BUY, qty="1.5"), OrderStatus.FILLED, "1.5", "150.5", [NEW, TRADE, TRADE], "0"),
    (market(BUY, qty="3"), OrderStatus.EXPIRED, "2", "201", [NEW, TRADE, TRADE, EXPIRED], "0"),
    (market(BUY, quote="150.5"), OrderStatus.FILLED, "1.5", "150.5", [NEW, TRADE, TRADE], "0"),
    (market(BUY, quote="50"), OrderStatus.FILLED, "0.5", "50", [NEW, TRADE], "0"),
    (market(BUY, quote="500"), OrderStatus.EXPIRED, "2", "201", [NEW, TRADE, TRADE, EXPIRED], "0"),
]


@pytest.mark.parametrize(("request_", "status", "executed", "spent", "types", "rests"), CASES)
def test_order_type_and_time_in_force_against_two_offers(
    request_: NewOrder,
    status: OrderStatus,
    executed: str,
    spent: str,
    types: list[ExecType],
    rests: str,
) -> None:
    venue = engine("alice", "bob")
    venue.place("bob", limit(SELL, "100", "1"), T0)
    venue.place("bob", limit(SELL, "101", "1"), T0)
    venue.take_events()
    result = venue.place("alice", request_, T0 + 1)
    assert result.ok
    order = result.order
    assert (order.status, order.executed, order.cum_quote) == (status, d(executed), d(spent))
    assert sum(f.quantity for f in result.fills) == d(executed)
    assert exec_types(venue.take_events(), "alice", order.client_order_id) == types
    assert venue.books[SYMBOL].bids.totals.get(order.price or 0, 0) == d(rests)
    free_usdt, locked_usdt = venue.balances("alice")["USDT"]
    assert free_usdt + locked_usdt == d("10000") - d(spent)  # no fees configured
    assert venue.balances("alice")["BTC"] == (d("10") + d(executed), 0)


def test_limit_maker_that_would_take_is_rejected_and_changes_nothing() -> None:
    venue = engine("alice", "bob")
    venue.place("bob", limit(SELL, "100", "1"), T0)
    before = (venue.books[SYMBOL].update_id, venue.balances("alice"))
    result = venue.place("alice", maker(BUY, "100", "0.5"), T0)
    assert result.reject is RejectReason.WOULD_TAKE
    assert result.order.status is OrderStatus.REJECTED and result.order.order_id == 0
    assert (venue.books[SYMBOL].update_id, venue.balances("alice")) == before
    assert exec_types(venue.take_events(), "alice", result.order.client_order_id) == [
        ExecType.REJECTED
    ]


def test_better_price_fills_first_then_earlier_order_at_the_same_price() -> None:
    venue = engine("alice", "bob", "carol", "dave")
    late = venue.place("bob", limit(SELL, "100", "1"), T0).order
    venue.place("carol", limit(SELL, "100", "1"), T0 + 1)
    best = venue.place("dave", limit(SELL, "99.99", "0.2"), T0 + 2).order
    result = venue.place("alice", limit(BUY, "100", "1.5"), T0 + 3)
    fills = [(f.price, f.quantity) for f in result.fills]
    assert fills == [(d("99.99"), d("0.2")), (d("100"), d("1")), (d("100"), d("0.3"))]
    assert venue.query("dave", SYMBOL, order_id=best.order_id).status is OrderStatus.FILLED
    assert venue.query("bob", SYMBOL, order_id=late.order_id).status is OrderStatus.FILLED
    carol = venue.open_orders("carol", SYMBOL)
    assert [(o.status, o.executed) for o in carol] == [(OrderStatus.PARTIALLY_FILLED, d("0.3"))]
    assert venue.books[SYMBOL].asks.totals == {d("100"): d("0.7")}


def test_partially_filled_maker_keeps_its_place_and_reports_cumulative_quantity() -> None:
    venue = engine("alice", "bob", "carol")
    first = venue.place("bob", limit(SELL, "100", "1"), T0).order
    venue.place("carol", limit(SELL, "100", "1"), T0)
    venue.take_events()
    venue.place("alice", limit(BUY, "100", "0.4", IOC), T0 + 1)
    venue.place("alice", limit(BUY, "100", "0.4", IOC), T0 + 2)
    bob_trades = venue.trades("bob", SYMBOL)
    assert [t.quantity for t in bob_trades] == [d("0.4"), d("0.4")]
    assert all(t.is_maker for t in bob_trades) and venue.trades("carol", SYMBOL) == []
    reported = [
        e.order.executed
        for e in venue.take_events()
        if getattr(e, "account", None) == "bob" and getattr(e, "exec_type", None) is TRADE
    ]
    assert reported == [d("0.4"), d("0.8")]
    assert venue.query("bob", SYMBOL, order_id=first.order_id).status is (
        OrderStatus.PARTIALLY_FILLED
    )


def test_trade_ids_are_monotone_per_symbol_and_shared_by_both_sides() -> None:
    venue = engine("alice", "bob")
    for _ in range(3):
        venue.place("bob", limit(SELL, "100", "1"), T0)
    venue.place("alice", market(BUY, qty="2.5"), T0)
    alice = [t.trade_id for t in venue.trades("alice", SYMBOL)]
    bob = [t.trade_id for t in venue.trades("bob", SYMBOL)]
    assert alice == bob == [1, 2, 3]
    assert [t.trade_id for t in venue.books[SYMBOL].take_trades()] == [1, 2, 3]


def test_market_order_into_an_empty_book_expires_for_lack_of_liquidity() -> None:
    venue = engine("alice")
    result = venue.place("alice", market(SELL, qty="1"), T0)
    assert result.ok and result.order.status is OrderStatus.EXPIRED
    expired = [e for e in venue.take_events() if getattr(e, "exec_type", None) is EXPIRED]
    assert [e.expire for e in expired] == [ExpireReason.NO_LIQUIDITY]  # type: ignore[union-attr]
    assert venue.balances("alice")["BTC"] == (d("10"), 0)


def test_market_sell_by_quote_quantity_sells_what_the_quote_buys_now() -> None:
    venue = engine("alice", "bob")
    venue.place("bob", limit(BUY, "100", "1"), T0)
    venue.place("bob", limit(BUY, "99", "1"), T0)
    result = venue.place("alice", market(SELL, quote="149.5"), T0)
    assert result.order.status is OrderStatus.FILLED
    assert (result.order.executed, result.order.cum_quote) == (d("1.5"), d("149.5"))
    assert venue.balances("alice")["USDT"] == (d("10149.5"), 0)


def test_public_depth_diff_reports_every_change_of_account_orders() -> None:
    venue = engine("alice", "bob")
    book = venue.books[SYMBOL]
    book.restart(500)
    venue.place("bob", limit(SELL, "100", "1"), T0)
    venue.place("bob", limit(SELL, "100", "2"), T0)
    venue.place("alice", limit(BUY, "100", "2.5"), T0)
    diff = book.take_diff(1)
    assert (diff.first_id, diff.last_id) == (501, book.update_id)
    assert dict(diff.asks) == {d("100"): d("0.5")}
    assert diff.bids == ()
    trades = book.take_trades()
    assert [(t.qty, t.buyer_is_maker) for t in trades] == [(d("1"), False), (d("1.5"), False)]
