"""Record live traffic in the neutral format, replay it through the dialect: the same books."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from connectivity.connector.market_data import MarketDataConfig, MarketDataConnector
from connectivity.connector.recording import RecordWriter, read_recording, venue_of
from connectivity.connector.replay import replay
from connectivity.sim.venue import SimVenue
from connectivity.testing.market_data_contract import assert_books_equal_truth
from exchanges._template.connector import TemplateMarketDataConfig, template_market_data
from exchanges._template.dialect import TemplateDialect
from exchanges._template.sim import TEMPLATE_SIM_SETTINGS, TemplateSimVenue
from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig
from exchanges.binance.dialect import BinanceDialect
from exchanges.binance.sim import BINANCE_SIM_SETTINGS, BinanceSimVenue
from tests.connector.venues.checksum import ChecksumDialect, checksum_market_data
from tests.connector.venues.checksum_sim import CHECKSUM_SIM_SETTINGS, ChecksumSimVenue
from tests.connector.venues.sequence import SequenceDialect, sequence_market_data
from tests.connector.venues.sequence_sim import SEQUENCE_SIM_SETTINGS, SequenceSimVenue


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


def _sequence(recorder: RecordWriter) -> tuple[SimVenue, Any, Any, tuple[str, ...]]:
    sim = SequenceSimVenue(seed=4, settings=attrs.evolve(SEQUENCE_SIM_SETTINGS, tick_s=0.005))
    sim.start()
    config = MarketDataConfig(symbols=("BTC-USD", "ETH-USD"), ws_url=sim.ws_url)
    md = sequence_market_data(config, lambda event: None, recorder=recorder)
    return sim, md, SequenceDialect(), config.symbols


def _checksum(recorder: RecordWriter) -> tuple[SimVenue, Any, Any, tuple[str, ...]]:
    sim = ChecksumSimVenue(seed=4, settings=attrs.evolve(CHECKSUM_SIM_SETTINGS, tick_s=0.005))
    sim.start()
    config = MarketDataConfig(symbols=("BTC/USD", "ETH/USD"), ws_url=sim.ws_url)
    md = checksum_market_data(config, lambda event: None, recorder=recorder)
    return sim, md, ChecksumDialect(), config.symbols


@pytest.mark.parametrize(
    "setup",
    [_template, _binance, _sequence, _checksum],
    ids=["template", "binance", "connection-sequence", "checksum"],
)
def test_a_recording_replays_to_the_books_the_connector_had(setup: Any, tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = RecordWriter(path, venue="recorded")
    sim, md, dialect, symbols = setup(recorder)
    connector: MarketDataConnector = md
    update_ids = setup in (_template, _binance)  # the other two send none
    try:
        connector.start()
        assert connector.wait_valid(timeout=10.0)
        assert_books_equal_truth(sim, connector, symbols, update_ids=update_ids)
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
