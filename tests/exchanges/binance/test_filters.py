"""Binance filters from exchangeInfo, checked locally instead of a venue -1013."""

from __future__ import annotations

import copy
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectivity.core.filters import check_order
from connectivity.core.models import OrderRequest, OrderType, Side, TimeInForce
from connectivity.errors import FilterViolation, ParseError
from exchanges.binance.symbols import parse_exchange_info, parse_instrument

FIXTURE = Path(__file__).parent / "fixtures" / "exchange_info.json"


def entry(symbol: str) -> dict[str, Any]:
    data = orjson.loads(FIXTURE.read_bytes())
    return copy.deepcopy(next(s for s in data["symbols"] if s["symbol"] == symbol))


def test_every_checked_filter_is_read_from_exchange_info() -> None:
    (btc, bnb), _ = parse_exchange_info(FIXTURE.read_bytes())
    assert (btc.min_price, btc.max_price) == (D("0.01"), D("1000000"))
    assert (btc.market_min_qty, btc.market_max_qty, btc.market_step_size) == (0, D("98.5"), 0)
    assert (btc.min_notional_market, btc.max_notional_market, btc.avg_price_mins) == (
        True,
        False,
        5,
    )
    # The older MIN_NOTIONAL: no maximum, its applyToMarket flag, no MARKET_LOT_SIZE.
    assert (bnb.min_notional, bnb.min_notional_market) == (D("0.0001"), True)
    assert bnb.max_notional is None
    assert (bnb.market_max_qty, bnb.max_num_orders) == (None, None)


def test_max_num_orders_and_min_notional_market_flag_are_read() -> None:
    data = entry("BNBBTC")
    data["status"] = "TRADING"
    data["filters"].append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 25})
    data["filters"][2]["applyToMarket"] = False
    bnb = parse_instrument(data)
    assert (bnb.max_num_orders, bnb.min_notional_market) == (25, False)


@pytest.mark.parametrize(
    ("filter_type", "field", "value"),
    [
        ("NOTIONAL", "applyMinToMarket", "yes"),
        ("NOTIONAL", "avgPriceMins", "5"),
        ("PRICE_FILTER", "minPrice", "-1"),
        ("MARKET_LOT_SIZE", "maxQty", 98.5),
    ],
)
def test_malformed_filter_fields_are_parse_errors(filter_type: str, field: str, value: Any) -> None:
    data = entry("BTCUSDT")
    next(f for f in data["filters"] if f["filterType"] == filter_type)[field] = value
    with pytest.raises(ParseError):
        parse_instrument(data)


def test_an_order_binance_would_answer_1013_is_refused_locally_with_the_filter_named() -> None:
    (btc, _), _ = parse_exchange_info(FIXTURE.read_bytes())
    order = OrderRequest(
        "c1", "BTC-USDT", Side.SELL, OrderType.LIMIT, D("0.00012"), D("30000.005"), TimeInForce.GTC
    )
    with pytest.raises(FilterViolation) as info:
        check_order(btc, order)
    assert info.value.filter_name == "PRICE_FILTER" and info.value.venue == "binance"
    assert "30000.005" in str(info.value) and "0.01" in str(info.value)
