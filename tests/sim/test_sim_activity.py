"""The simulated Binance venue can step a rotating subset of its symbols per tick."""

from __future__ import annotations

from exchanges.binance.sim import DEFAULT_SYMBOLS, BinanceSimVenue


def test_active_per_tick_steps_that_many_symbols_in_rotation() -> None:
    venue = BinanceSimVenue(DEFAULT_SYMBOLS, seed=1)  # never started: on_tick runs directly
    venue.active_per_tick = 2
    ids = {s: venue.market[s].update_id for s in venue.specs}
    stepped = []
    for _ in range(3):
        before = {s: venue.market[s].update_id for s in venue.specs}
        venue.on_tick()
        stepped.append([s for s in venue.specs if venue.market[s].update_id != before[s]])
    assert stepped == [["BTCUSDT", "ETHUSDT"], ["BTCUSDT", "BNBBTC"], ["ETHUSDT", "BNBBTC"]]
    assert all(venue.market[s].update_id > ids[s] for s in venue.specs)


def test_without_a_subset_every_symbol_steps_every_tick() -> None:
    venue = BinanceSimVenue(DEFAULT_SYMBOLS, seed=1)
    before = {s: venue.market[s].update_id for s in venue.specs}
    venue.on_tick()
    assert all(venue.market[s].update_id > before[s] for s in venue.specs)
