"""Record live traffic in the neutral format, replay it through the dialect: the same books."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from connectivity.connector.market_data import MarketDataConnector
from connectivity.connector.recording import RecordWriter, read_recording, venue_of
from connectivity.connector.replay import replay
from connectivity.sim.venue import SimVenue
from connectivity.testing.market_data_contract import wait_for
from exchanges._template.connector import TemplateMarketDataConfig, template_market_data
from exchanges._template.dialect import TemplateDialect
from exchanges._template.sim import TEMPLATE_SIM_SETTINGS, TemplateSimVenue
from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig
from exchanges.binance.dialect import BinanceDialect
from exchanges.binance.sim import BINANCE_SIM_SETTINGS, BinanceSimVenue


def _template(recorder: RecordWriter) -> tuple[SimVenue, Any, Any, tuple[str, ...]]:
    sim = TemplateSimVenue(seed=4, settings=attrs.evolve(TEMPLATE_SIM_SETTINGS, tick_s=0.005))
    sim.start()
    config = TemplateMarketDataConfig(
        symbols=("BTCUSD", "ETHUSD"), rest_url=sim.rest_url, ws_url=sim.ws_url
    )
    md = template_market_data(config, recorder=recorder)
    return sim, md, TemplateDialect(), config.symbols


def _binance(recorder: RecordWriter) -> tuple[SimVenue, Any, Any, tuple[str, ...]]:
    sim = BinanceSimVenue(seed=4, settings=attrs.evolve(BINANCE_SIM_SETTINGS, tick_s=0.005))
    sim.start()
    config = BinanceMarketDataConfig(
        symbols=("BTCUSDT", "ETHUSDT"), rest_url=sim.rest_url, ws_url=sim.ws_url
    )
    md = BinanceMarketData.from_config(config, recorder=recorder)
    return sim, md, BinanceDialect(), config.symbols


@pytest.mark.parametrize("setup", [_template, _binance], ids=["template", "binance"])
def test_a_recording_replays_to_the_books_the_connector_had(setup: Any, tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = RecordWriter(path, venue="recorded")
    sim, md, dialect, symbols = setup(recorder)
    connector: MarketDataConnector = md
    try:
        connector.start()
        assert connector.wait_valid(timeout=10.0)
        sim.freeze()
        for symbol in symbols:
            target = sim.true_book(symbol).update_id  # type: ignore[attr-defined]
            wait_for(lambda s=symbol, t=target: connector.book(s).update_id >= t)  # type: ignore[misc]
        expected = {s: (connector.book(s).bids(), connector.book(s).asks()) for s in symbols}
    finally:
        connector.close()
        sim.close()
        recorder.close()
    venue, records = venue_of(read_recording(path))
    result = replay(records, dialect)
    assert venue == "recorded" and result.frames > 0 and result.snapshots == len(symbols)
    assert result.errors == {}
    for symbol in symbols:
        assert result.sync.is_valid(symbol)
        book = result.sync.book(symbol)
        assert (book.bids(), book.asks()) == expected[symbol]
