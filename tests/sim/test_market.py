"""The market generator: exact grid, contiguous update ids, never crossed, reproducible."""

from __future__ import annotations

from connectivity.sim.market import DepthDiff, Market, SymbolMarket, SymbolSpec, fmt

SPEC = SymbolSpec("BTCUSDT", "BTC", "USDT", tick_size="0.01", step_size="0.00001", mid="50000")


def _apply(book: dict[int, int], levels: tuple[tuple[int, int], ...]) -> None:
    for price, qty in levels:
        if qty:
            book[price] = qty
        else:
            book.pop(price, None)


def test_diffs_applied_on_a_snapshot_reproduce_the_true_book() -> None:
    market = SymbolMarket(SPEC, seed=7)
    last_id, bids, asks = market.snapshot()
    local_bids, local_asks = dict(bids), dict(asks)
    previous_u = last_id
    for i in range(2000):
        diff, _ = market.step(now_ms=i)
        assert diff.first_id == previous_u + 1
        assert diff.last_id >= diff.first_id
        previous_u = diff.last_id
        _apply(local_bids, diff.bids)
        _apply(local_asks, diff.asks)
    assert local_bids == market.bids
    assert local_asks == market.asks
    assert market.update_id == previous_u


def test_prices_and_quantities_stay_on_the_tick_and_step_grid_and_never_cross() -> None:
    market = SymbolMarket(SPEC, seed=3)
    for i in range(3000):
        diff, trades = market.step(now_ms=i)
        for price, qty in diff.bids + diff.asks:
            assert price % market.tick == 0
            assert qty % market.step_size == 0 and qty >= 0
        for trade in trades:
            assert trade.qty > 0 and trade.price % market.tick == 0
        best_bid, best_ask = market.best_bid(), market.best_ask()
        assert best_bid is not None and best_ask is not None
        assert best_bid[0] < best_ask[0]


def test_same_seed_gives_the_same_market_and_another_seed_differs() -> None:
    def run(seed: int) -> list[DepthDiff]:
        market = Market([SPEC], seed=seed)
        return [market.step(i)[0][0] for i in range(200)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_snapshot_limit_keeps_the_best_levels_in_order() -> None:
    market = SymbolMarket(SPEC, seed=1)
    last_id, bids, asks = market.snapshot(limit=5)
    assert last_id == market.update_id
    assert len(bids) == 5 and len(asks) == 5
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert bids[0][0] == max(market.bids) and asks[0][0] == min(market.asks)


def test_fmt_prints_eight_decimals_like_binance() -> None:
    assert fmt(1_00000000) == "1.00000000"
    assert fmt(1234) == "0.00001234"
