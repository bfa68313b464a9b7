"""Binance market data at startup: buffer bound, snapshot depth per symbol, startup progress."""

from __future__ import annotations

from typing import Any

import pytest

from connectivity.errors import ConfigError
from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig


def config(**overrides: Any) -> BinanceMarketDataConfig:
    overrides.setdefault("symbols", ("BTCUSDT", "ETHUSDT"))
    return BinanceMarketDataConfig(**overrides)


def test_buffered_deltas_per_waiting_symbol_are_bounded_by_the_config() -> None:
    md = BinanceMarketData.from_config(config(max_buffered_deltas=7))
    try:
        assert md.sync.max_buffer == 7
    finally:
        md.close()


@pytest.mark.parametrize("bound", [0, -1, True, 2.5])
def test_a_buffer_bound_below_one_delta_is_refused(bound: Any) -> None:
    with pytest.raises(ConfigError, match="max_buffered_deltas"):
        config(max_buffered_deltas=bound)
