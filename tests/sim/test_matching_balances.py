"""The matching engine's funds: locks, releases, fees, and conservation under any operations."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.core.models import OrderType, Side, TimeInForce
from connectivity.sim.accounts import FeeAsset, FeeSchedule
from connectivity.sim.engine import MatchingEngine
from connectivity.sim.orders import BalanceEvent, NewOrder, ReplaceMode, StpMode
from tests.sim.matching_helpers import SYMBOL, T0, d, engine, limit, market

BUY, SELL = Side.BUY, Side.SELL
RECEIVED = FeeSchedule(Decimal("0.001"), Decimal("0.002"))
IN_QUOTE = FeeSchedule(Decimal("0.001"), Decimal("0.002"), FeeAsset.QUOTE)


def test_limit_orders_lock_what_they_may_spend_and_fills_move_it() -> None:
    venue = engine("alice", "bob")
    venue.place("alice", limit(BUY, "100", "2"), T0)
    venue.place("bob", limit(SELL, "101", "1"), T0)
    assert venue.balances("alice") == {"BTC": (d("10"), 0), "USDT": (d("9800"), d("200"))}
    assert venue.balances("bob") == {"BTC": (d("9"), d("1")), "USDT": (d("10000"), 0)}
    venue.place("bob", market(SELL, qty="0.5"), T0)
    assert venue.balances("alice") == {"BTC": (d("10.5"), 0), "USDT": (d("9800"), d("150"))}
    assert venue.balances("bob") == {"BTC": (d("8.5"), d("1")), "USDT": (d("10050"), 0)}


def test_a_buy_that_fills_below_its_limit_gets_the_difference_back() -> None:
    venue = engine("alice", "bob")
    venue.place("bob", limit(SELL, "99", "1"), T0)
    venue.place("alice", limit(BUY, "100", "1"), T0)
    assert venue.balances("alice")["USDT"] == (d("9901"), 0)


def test_fees_in_the_received_asset_go_to_the_pool_at_maker_and_taker_rates() -> None:
    venue = engine("alice", "bob", fees=RECEIVED)
    venue.place("bob", limit(SELL, "100", "1"), T0)
    result = venue.place("alice", limit(BUY, "100", "1"), T0)
    (fill,) = result.fills
    assert (fill.commission, fill.commission_asset, fill.is_maker) == (d("0.002"), "BTC", False)
    assert venue.balances("alice") == {"BTC": (d("10.998"), 0), "USDT": (d("9900"), 0)}
    assert venue.balances("bob")["USDT"] == (d("10099.9"), 0)
    assert venue.ledger.fees_collected == {"BTC": d("0.002"), "USDT": d("0.1")}


def test_fees_in_quote_are_locked_on_top_of_a_buy_and_the_unused_part_released() -> None:
    venue = engine("alice", "bob", fees=IN_QUOTE)
    venue.place("alice", limit(BUY, "100", "1"), T0)
    assert venue.balances("alice")["USDT"] == (d("9899.8"), d("100.2"))  # taker rate held
    venue.place("bob", limit(SELL, "100", "1"), T0)  # Alice is the maker: 0.1 fee
    assert venue.balances("alice") == {"BTC": (d("11"), 0), "USDT": (d("9899.9"), 0)}
    assert venue.balances("bob")["USDT"] == (d("10099.8"), 0)


def test_each_operation_reports_the_changed_balances_once_per_account() -> None:
    venue = engine("alice", "bob")
    venue.place("bob", limit(SELL, "100", "1"), T0)
    venue.take_events()
    venue.place("alice", limit(BUY, "100", "1"), T0 + 5)
    balances = [e for e in venue.take_events() if isinstance(e, BalanceEvent)]
    assert [(e.account, e.balances) for e in balances] == [
        ("alice", (("BTC", d("11"), 0), ("USDT", d("9900"), 0))),
        ("bob", (("BTC", d("9"), 0), ("USDT", d("10100"), 0))),
    ]
    venue.deposit("alice", "USDT", d("5"), T0 + 6)
    (deposit,) = venue.take_events()
    assert isinstance(deposit, BalanceEvent) and deposit.delta == ("USDT", d("5"))


# -- conservation under random operations -----------------------------------------------------
PRICES = ["99.98", "99.99", "100", "100.01", "100.02"]
QTYS = ["0.001", "0.05", "0.3", "1", "4"]
_order = st.tuples(
    st.sampled_from(["alice", "bob"]),
    st.sampled_from([BUY, SELL]),
    st.sampled_from(["LIMIT", "IOC", "FOK", "MAKER", "MARKET", "MARKET_QUOTE"]),
    st.sampled_from(PRICES),
    st.sampled_from(QTYS),
    st.sampled_from(list(StpMode)),
)
_op = st.one_of(
    st.tuples(st.just("place"), _order),
    st.tuples(st.just("cancel"), st.integers(1, 40)),
    st.tuples(st.just("replace"), st.tuples(st.integers(1, 40), _order)),
    st.tuples(st.just("house"), st.tuples(st.sampled_from([BUY, SELL]), st.sampled_from(QTYS))),
)


def _request(spec: tuple[str, Side, str, str, str, StpMode]) -> tuple[str, NewOrder]:
    account, side, kind, price, qty, stp = spec
    p, q = d(price), d(qty)
    if kind == "MARKET":
        return account, NewOrder(SYMBOL, side, OrderType.MARKET, q, stp=stp)
    if kind == "MARKET_QUOTE":
        return account, NewOrder(SYMBOL, side, OrderType.MARKET, None, None, q * 100, stp=stp)
    if kind == "MAKER":
        return account, NewOrder(SYMBOL, side, OrderType.LIMIT_MAKER, q, p, stp=stp)
    tif = TimeInForce.GTC if kind == "LIMIT" else TimeInForce[kind]
    return account, NewOrder(SYMBOL, side, OrderType.LIMIT, q, p, None, tif, stp=stp)


def _apply(venue: MatchingEngine, op: tuple[str, object], now: int) -> None:
    kind, arg = op
    if kind == "place":
        venue.place(*_request(arg), now)  # type: ignore[arg-type]
    elif kind == "cancel":
        for account in ("alice", "bob"):
            venue.cancel(account, SYMBOL, order_id=arg, now_ns=now)  # type: ignore[arg-type]
    elif kind == "replace":
        order_id, spec = arg  # type: ignore[misc]
        account, request = _request(spec)
        venue.cancel_replace(
            account, request, mode=ReplaceMode.ALLOW_FAILURE, order_id=order_id, now_ns=now
        )
    else:
        side, qty = arg  # type: ignore[misc]
        venue.house_take(SYMBOL, side, d(qty), None, now)


def _check_book(venue: MatchingEngine) -> None:
    book = venue.books[SYMBOL]
    for side in (book.bids, book.asks):
        for price, queue in side.queues.items():
            assert side.totals[price] == sum(o.remaining for o in queue.values()) > 0
    bid, ask = book.bids.best(), book.asks.best()
    assert bid is None or ask is None or bid < ask


@settings(max_examples=80, derandomize=True, deadline=None)
@given(st.lists(_op, max_size=40))
def test_funds_are_conserved_and_locks_released_whatever_the_operations(
    ops: list[tuple[str, object]],
) -> None:
    venue = MatchingEngine([engine().rules[SYMBOL]])
    venue.open_account("alice", {"BTC": d("10"), "USDT": d("1000")}, fees=RECEIVED)
    venue.open_account("bob", {"BTC": d("10"), "USDT": d("1000")}, fees=IN_QUOTE)
    for price in PRICES:  # the house offers both sides around the accounts' prices
        venue.house_set(SYMBOL, BUY, d(price) - d("0.05"), d("2"), T0)
        venue.house_set(SYMBOL, SELL, d(price) + d("0.05"), d("2"), T0)
    totals = {asset: venue.ledger.total(asset) for asset in ("BTC", "USDT")}
    for step, op in enumerate(ops):
        _apply(venue, op, T0 + step)
        assert {asset: venue.ledger.total(asset) for asset in totals} == totals
        for account in ("alice", "bob"):
            assert all(f >= 0 and lk >= 0 for f, lk in venue.balances(account).values())
        _check_book(venue)
    for account in ("alice", "bob"):
        venue.cancel_all(account, SYMBOL, T0 + len(ops))
        assert all(locked == 0 for _, locked in venue.balances(account).values())
