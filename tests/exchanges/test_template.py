"""The copy-me template works: it satisfies the dialect protocol and passes the contract suite."""

from __future__ import annotations

from typing import Any

import attrs
import orjson
import pytest

import exchanges
from connectivity.connector.dialect import Ack, MarketDataDialect, Refused, Shutdown
from connectivity.connector.market_data import MarketDataConnector
from connectivity.core.book import BookDelta
from connectivity.core.events import EventSink, PublicTrade, TopOfBook
from connectivity.errors import ParseError, UnknownEnumValue
from connectivity.testing.market_data_contract import MarketDataContract
from connectivity.transport.wsclient import WebSocketSettings
from exchanges._template.connector import TemplateMarketDataConfig, template_market_data
from exchanges._template.dialect import TEMPLATE_WS_SETTINGS, TemplateDialect
from exchanges._template.parsers import parse_message
from exchanges._template.sim import TEMPLATE_SIM_SETTINGS, TemplateSimVenue
from exchanges.binance.dialect import BinanceDialect
from tests.connector.venues.checksum import ChecksumDialect
from tests.connector.venues.sequence import SequenceDialect


@pytest.mark.parametrize(
    "dialect_type", [TemplateDialect, BinanceDialect, SequenceDialect, ChecksumDialect]
)
def test_dialects_provide_every_member_of_the_protocol(dialect_type: type) -> None:
    members = set(MarketDataDialect.__annotations__)
    members |= {name for name in vars(MarketDataDialect) if not name.startswith("_")}
    dialect = dialect_type()
    assert sorted(m for m in members if not hasattr(dialect, m)) == []


def test_template_dialect_satisfies_the_protocol_and_is_never_registered() -> None:
    dialect: MarketDataDialect = TemplateDialect()  # mypy checks the protocol here
    assert dialect.stream_name("BTCUSD", dialect.channels[0]) == "book.BTCUSD"
    assert "template" not in exchanges.REGISTRY
    assert all(not name.startswith("_") for name in exchanges.REGISTRY)


def test_template_parsers_turn_the_wire_into_neutral_values() -> None:
    book = {"ch": "book.BTCUSD", "first": 3, "last": 4, "ts": 1, "bids": [["1.5", "2"]]}
    book["asks"] = []
    delta = parse_message(orjson.dumps(book), 9)
    assert isinstance(delta, BookDelta) and delta.bids == [(150_000_000, 200_000_000)]
    ticker = {"ch": "ticker.BTCUSD", "u": 4, "ts": 1, "bid": ["1", "2"], "ask": ["3", "4"]}
    assert isinstance(parse_message(orjson.dumps(ticker), 9), TopOfBook)
    trade = {"ch": "trades.BTCUSD", "id": 7, "px": "1", "qty": "2", "side": "sell", "ts": 1}
    assert isinstance(parse_message(orjson.dumps(trade), 9), PublicTrade)
    assert parse_message(b'{"id": 5, "ok": true}', 9) == Ack(5)
    refused = b'{"id": 5, "error": {"code": 429, "msg": "too many"}}'
    assert parse_message(refused, 9) == Refused(5, 429, "too many")
    assert parse_message(b'{"event": "maintenance", "ts": 2}', 9) == Shutdown(2_000_000)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"{nope", ParseError),
        (b'{"ch": "book.BTCUSD", "first": "3", "last": 4}', ParseError),
        (b'{"ch": "candles.BTCUSD"}', UnknownEnumValue),
        (b'{"hello": 1}', UnknownEnumValue),
        (b"[1, 2]", ParseError),
    ],
)
def test_template_parsers_refuse_bad_input_with_typed_errors(
    payload: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        parse_message(payload, 0)


class TestTemplateMarketDataContract(MarketDataContract):
    """The template passes the same contract as a real venue."""

    SYMBOLS = ("BTCUSD", "ETHUSD")
    EXTRA_SYMBOL = "SOLUSD"

    def make_venue(self) -> TemplateSimVenue:
        """The template's simulator with fast ticks."""
        fast = attrs.evolve(TEMPLATE_SIM_SETTINGS, tick_s=0.005, shutdown_grace_s=0.3)
        return TemplateSimVenue(seed=11, settings=fast)

    def make_connector(
        self, venue: TemplateSimVenue, sink: EventSink, **config: Any
    ) -> MarketDataConnector:
        """The template connector pointed at its simulator."""
        settings = TemplateMarketDataConfig(rest_url=venue.rest_url, ws_url=venue.ws_url, **config)
        return template_market_data(settings, sink=sink)

    def base_ws_settings(self) -> WebSocketSettings:
        """The template venue's limits."""
        return TEMPLATE_WS_SETTINGS
