"""The market generator trades in the matching engine's book: a quoting account gets filled."""

from __future__ import annotations

import hashlib

import attrs
import pytest

from connectivity.core.models import OrderStatus, OrderType, Side, TimeInForce
from connectivity.sim.market import Market, SymbolMarket, SymbolSpec
from connectivity.sim.orders import BalanceEvent, ExecType, ExecutionEvent, NewOrder
from exchanges.binance.sim import DEFAULT_SYMBOLS

SPEC = SymbolSpec("BTCUSDT", "BTC", "USDT", tick_size="0.01", step_size="0.00001", mid="50000")
MS = 1_000_000


def _fund(market: SymbolMarket, name: str = "bot") -> None:
    market.engine.open_account(name, {"BTC": 100 * 10**8, "USDT": 10_000_000 * 10**8})


def _quote(market: SymbolMarket, side: Side, price: int, qty: int, now_ms: int) -> NewOrder:
    request = NewOrder("BTCUSDT", side, OrderType.LIMIT, qty, price, None, TimeInForce.GTC)
    assert market.engine.place("bot", request, now_ms * MS).ok
    return request


def _apply(book: dict[int, int], levels: tuple[tuple[int, int], ...]) -> None:
    for price, qty in levels:
        if qty:
            book[price] = qty
        else:
            book.pop(price, None)


def test_without_account_orders_the_generator_gives_its_pre_engine_output() -> None:
    # The digest was taken from the generator before it traded in the engine (same seed).
    digest = hashlib.sha256()
    market = Market(DEFAULT_SYMBOLS, seed=11)
    for i in range(5000):
        for diff, trades in market.step(i):
            digest.update(repr(diff).encode())
            digest.update(repr(trades).encode())
    for symbol in market.symbols.values():
        digest.update(repr(symbol.snapshot()).encode())
    assert digest.hexdigest() == "00cf2f40fb9608006b2d3afe94d31f645317731e1b094cb94d546ef6386e8eec"


def test_a_bid_at_the_touch_is_filled_by_the_generators_takers() -> None:
    market = SymbolMarket(SPEC, seed=4)
    _fund(market)
    bid = market.best_bid()
    assert bid is not None
    _quote(market, Side.BUY, bid[0] + market.tick, 100_000, 0)  # improves the bid: first in line
    fills: list[ExecutionEvent] = []
    for i in range(1, 2000):
        market.step(i)
        events = market.engine.take_events()
        fills += [e for e in events if isinstance(e, ExecutionEvent) and e.trade is not None]
        if any(e.order.status is OrderStatus.FILLED for e in fills):
            break
    assert fills and fills[-1].order.status is OrderStatus.FILLED
    assert all(e.trade is not None and e.trade.is_maker for e in fills)
    free_btc, _ = market.engine.balances("bot")["BTC"]
    assert free_btc == 100 * 10**8 + 100_000


def test_depth_diffs_reproduce_the_true_book_with_accounts_quoting_between_steps() -> None:
    market = SymbolMarket(SPEC, seed=9)
    _fund(market)
    last_id, bids, asks = market.snapshot()
    local_bids, local_asks = dict(bids), dict(asks)
    previous_u = last_id
    for i in range(1, 1500):
        bid, ask = market.best_bid(), market.best_ask()
        assert bid is not None and ask is not None and bid[0] < ask[0]
        if i % 7 == 0:
            market.engine.cancel_all("bot", "BTCUSDT", i * MS)
            _quote(market, Side.BUY, bid[0], 50_000, i)
            _quote(market, Side.SELL, ask[0] + market.tick, 50_000, i)
        diff, _ = market.step(i)
        assert diff.first_id == previous_u + 1
        previous_u = diff.last_id
        _apply(local_bids, diff.bids)
        _apply(local_asks, diff.asks)
    assert (local_bids, local_asks) == (market.bids, market.asks)
    assert market.update_id == previous_u
    assert market.engine.trades("bot", "BTCUSDT")  # the quotes did trade


def test_the_same_seed_and_requests_give_the_same_events() -> None:
    def run() -> list[object]:
        market = SymbolMarket(SPEC, seed=2)
        _fund(market)
        bid = market.best_bid()
        assert bid is not None
        _quote(market, Side.BUY, bid[0], 10**8, 0)
        for i in range(300):
            market.step(i)
        return market.engine.take_events()

    first = run()
    assert first == run()
    assert any(isinstance(e, BalanceEvent) for e in first[1:])


def test_taker_rate_sets_how_often_the_generator_takes() -> None:
    def trades(rate: float) -> int:
        market = SymbolMarket(attrs.evolve(SPEC, taker_rate=rate), seed=5)
        return sum(len(market.step(i)[1]) for i in range(2000))

    assert trades(0.0) < trades(0.1) < trades(0.5)
    with pytest.raises(ValueError, match="taker_rate"):
        attrs.evolve(SPEC, taker_rate=0.9)


def test_house_liquidity_arriving_through_a_resting_order_trades_with_it() -> None:
    market = SymbolMarket(attrs.evolve(SPEC, band=3), seed=1)
    _fund(market)
    ask = market.best_ask()
    assert ask is not None
    # Take out every ask, then bid far above the mid: the next house ask at or below it fills.
    market.engine.house_take("BTCUSDT", Side.BUY, sum(market.asks.values()), None, 0)
    _quote(market, Side.BUY, ask[0] + 10 * market.tick, 10**8, 0)
    market.engine.take_events()
    for i in range(1, 500):
        market.step(i)
        if market.engine.trades("bot", "BTCUSDT"):
            break
    (first, *_) = market.engine.trades("bot", "BTCUSDT")
    assert first.is_maker and first.side is Side.BUY
    kinds = [e.exec_type for e in market.engine.take_events() if isinstance(e, ExecutionEvent)]
    assert ExecType.TRADE in kinds
