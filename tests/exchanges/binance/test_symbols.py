from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from connectivity.errors import ConfigError, ParseError, UnknownEnumValue
from exchanges.binance.constants import depth_weight
from exchanges.binance.symbols import (
    SymbolMap,
    parse_exchange_info,
    parse_instrument,
    to_stream_symbol,
    to_venue_symbol,
)

FIXTURE = Path(__file__).parent / "fixtures" / "exchange_info.json"


def load() -> tuple[list, list]:
    return parse_exchange_info(FIXTURE.read_bytes())


def test_exchange_info_with_notional_filter_gives_exact_trading_rules() -> None:
    instruments, _ = load()
    btc = instruments[0]
    assert (btc.symbol, btc.venue_symbol, btc.base, btc.quote) == (
        "BTC-USDT",
        "BTCUSDT",
        "BTC",
        "USDT",
    )
    assert btc.tick_size == Decimal("0.01")
    assert btc.step_size == Decimal("0.00001")
    assert btc.min_qty == Decimal("0.00001")
    assert btc.max_qty == Decimal("9000")
    assert btc.min_notional == Decimal("5")
    assert btc.max_notional == Decimal("9000000")
    assert (btc.price_scale, btc.qty_scale, btc.status, btc.venue) == (8, 8, "TRADING", "binance")


def test_older_min_notional_filter_is_read_and_zero_max_means_no_limit() -> None:
    instruments, _ = load()
    bnb = instruments[1]
    assert bnb.min_notional == Decimal("0.0001")
    assert bnb.max_notional is None
    assert bnb.max_qty is None  # maxQty "0.00000000" disables the rule
    assert bnb.status == "BREAK"


def test_bad_symbols_are_reported_and_the_rest_stay_usable() -> None:
    instruments, errors = load()
    assert [i.venue_symbol for i in instruments] == ["BTCUSDT", "BNBBTC"]
    assert isinstance(errors[0], UnknownEnumValue) and "SOMETHING_NEW" in str(errors[0])
    assert isinstance(errors[1], ParseError) and "PRICE_FILTER" in str(errors[1])


def test_symbol_without_notional_filter_has_zero_min_notional() -> None:
    data = orjson.loads(FIXTURE.read_bytes())["symbols"][0]
    data["filters"] = [f for f in data["filters"] if f["filterType"] != "NOTIONAL"]
    instrument = parse_instrument(data)
    assert instrument.min_notional == 0 and instrument.max_notional is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("baseAsset"),
        lambda d: d["filters"][0].pop("tickSize"),
        lambda d: d["filters"][1].__setitem__("stepSize", 0.001),
        lambda d: d["filters"][0].__setitem__("tickSize", "1e-2"),
        lambda d: d.__setitem__("filters", None),
    ],
)
def test_malformed_symbol_entries_raise_parse_error(mutate: Callable[[dict], object]) -> None:
    data = orjson.loads(FIXTURE.read_bytes())["symbols"][0]
    mutate(data)
    with pytest.raises(ParseError):
        parse_instrument(data)


def test_exchange_info_without_symbols_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_exchange_info({"timezone": "UTC"})
    with pytest.raises(ParseError):
        parse_exchange_info(b"not json")


def test_symbol_map_translates_both_ways() -> None:
    symbols = SymbolMap(load()[0])
    assert symbols.to_venue("BTC-USDT") == "BTCUSDT"
    assert symbols.to_stream("BTC-USDT") == "btcusdt"
    assert symbols.from_venue("BTCUSDT") == "BTC-USDT"
    assert symbols.from_venue("btcusdt") == "BTC-USDT"
    assert symbols.venue_instrument("bnbbtc").symbol == "BNB-BTC"
    assert "BTC-USDT" in symbols and len(symbols) == 2
    assert symbols.symbols() == ["BTC-USDT", "BNB-BTC"]


def test_unknown_symbols_raise_typed_errors() -> None:
    symbols = SymbolMap(load()[0])
    with pytest.raises(UnknownEnumValue):
        symbols.from_venue("DOGEUSDT")
    with pytest.raises(ConfigError):
        symbols.to_venue("DOGE-USDT")


@pytest.mark.parametrize(
    ("canonical", "venue", "stream"),
    [("BTC-USDT", "BTCUSDT", "btcusdt"), ("eth-btc", "ETHBTC", "ethbtc")],
)
def test_canonical_symbols_map_without_exchange_info(
    canonical: str, venue: str, stream: str
) -> None:
    assert to_venue_symbol(canonical) == venue
    assert to_stream_symbol(canonical) == stream


@pytest.mark.parametrize("bad", ["BTCUSDT", "-USDT", "BTC-", "A-B-C"])
def test_non_canonical_symbols_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        to_venue_symbol(bad)


@pytest.mark.parametrize(
    ("limit", "weight"), [(5, 5), (100, 5), (101, 25), (1000, 50), (5000, 250), (9999, 250)]
)
def test_depth_snapshot_weight_follows_the_documented_bands(limit: int, weight: int) -> None:
    assert depth_weight(limit) == weight
