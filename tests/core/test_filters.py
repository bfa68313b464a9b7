"""Pre-trade filter checks: every rule, its boundary, and the typed error it raises."""

from __future__ import annotations

from decimal import Decimal as D

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectivity.core.filters import check_order, checked_values, conform_order, order_notional
from connectivity.core.models import Instrument, OrderRequest, OrderType, Side, TimeInForce
from connectivity.errors import FilterViolation, InvalidOrder

BTC = Instrument(
    venue="v",
    symbol="BTC-USDT",
    venue_symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    step_size=D("0.00001"),
    min_qty=D("0.00001"),
    max_qty=D("9000"),
    min_notional=D("5"),
    max_notional=D("9000000"),
    min_price=D("0.01"),
    max_price=D("1000000"),
    market_step_size=D(0),
    market_min_qty=D(0),
    market_max_qty=D("98.5"),
    min_notional_market=True,
    max_notional_market=False,
    avg_price_mins=5,
    max_num_orders=200,
)


def limit(price: str, qty: str, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest("c1", "BTC-USDT", side, OrderType.LIMIT, D(qty), D(price), TimeInForce.GTC)


def market(qty: str = "0", quote: str | None = None) -> OrderRequest:
    q = D(quote) if quote is not None else None
    return OrderRequest("c1", "BTC-USDT", Side.BUY, OrderType.MARKET, D(qty), quote_quantity=q)


def violation(request: OrderRequest, **kwargs: object) -> FilterViolation:
    with pytest.raises(FilterViolation) as info:
        check_order(BTC, request, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_an_order_on_every_grid_and_within_every_bound_passes() -> None:
    check_order(BTC, limit("65000.01", "0.00100"))
    check_order(BTC, limit("0.01", "9000"))  # the bounds themselves are allowed
    check_order(BTC, market("1.5"), reference_price=D("65000"))
    check_order(BTC, market(quote="10"))


@pytest.mark.parametrize(
    ("request_", "filter_name", "field", "value", "limit_"),
    [
        (limit("65000.015", "0.001"), "PRICE_FILTER", "price", D("65000.015"), D("0.01")),
        (limit("1000000.01", "0.001"), "PRICE_FILTER", "price", D("1000000.01"), D("1000000")),
        (limit("0", "0.001"), "PRICE_FILTER", "price", D("0"), D("0")),
        (limit("65000", "0.000015"), "LOT_SIZE", "quantity", D("0.000015"), D("0.00001")),
        (limit("65000", "9000.00001"), "LOT_SIZE", "quantity", D("9000.00001"), D("9000")),
        (limit("65000", "0"), "LOT_SIZE", "quantity", D("0"), D("0")),
        (limit("100", "0.04999"), "NOTIONAL", "notional", D("4.99900"), D("5")),
        (limit("1000000", "9.00001"), "NOTIONAL", "notional", D("9000010.00000"), D("9000000")),
        (market("98.50001"), "MARKET_LOT_SIZE", "quantity", D("98.50001"), D("98.5")),
    ],
)
def test_each_broken_rule_names_its_filter_field_value_and_bound(
    request_: OrderRequest, filter_name: str, field: str, value: D, limit_: D
) -> None:
    err = violation(request_)
    assert (err.filter_name, err.field, err.value, err.limit) == (filter_name, field, value, limit_)
    assert filter_name in str(err) and isinstance(err, InvalidOrder) and isinstance(err, ValueError)


def test_price_below_min_price_is_refused_with_the_bound() -> None:
    instrument = attrs.evolve(BTC, min_price=D("1"), min_notional=D(0))
    with pytest.raises(FilterViolation, match="minPrice 1"):
        check_order(instrument, limit("0.99", "1"))


def test_stop_price_is_checked_like_a_price() -> None:
    request = attrs.evolve(limit("65000", "0.001"), stop_price=D("64000.005"))
    assert violation(request).field == "stop_price"


def test_tick_rule_is_price_modulo_tick_not_offset_from_min_price() -> None:
    # Binance changed this in 2022: 0.015 is off a 0.01 grid even with minPrice 0.005.
    instrument = attrs.evolve(BTC, min_price=D("0.005"), min_notional=D(0))
    check_order(instrument, limit("0.02", "1"))
    with pytest.raises(FilterViolation, match="tickSize"):
        check_order(instrument, limit("0.015", "1"))


def test_market_notional_uses_the_reference_price_and_the_market_flags() -> None:
    small = market("0.0001")
    check_order(BTC, small)  # no reference price: only the venue can tell
    assert violation(small, reference_price=D("40000")).filter_name == "NOTIONAL"
    check_order(attrs.evolve(BTC, min_notional_market=False), small, reference_price=D("40000"))
    big = market("98")
    check_order(BTC, big, reference_price=D("1000000"))  # applyMaxToMarket false
    strict = attrs.evolve(BTC, max_notional_market=True)
    with pytest.raises(FilterViolation, match="maxNotional"):
        check_order(strict, big, reference_price=D("1000000"))


def test_market_by_quote_quantity_checks_the_quote_amount_not_the_lot() -> None:
    assert violation(market(quote="4.99")).value == D("4.99")
    assert order_notional(market(quote="7")) == D("7")


def test_max_num_orders_counts_the_new_order() -> None:
    check_order(BTC, limit("65000", "0.001"), open_orders=199)
    err = violation(limit("65000", "0.001"), open_orders=200)
    assert (err.filter_name, err.value, err.limit) == ("MAX_NUM_ORDERS", 201, 200)


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        (OrderRequest("c", "BTC-USDT", Side.BUY, OrderType.LIMIT, D("1")), "needs a price"),
        (attrs.evolve(limit("65000", "1"), quote_quantity=D("10")), "quote quantity"),
        (market("1", quote="10"), "not both"),
    ],
)
def test_impossible_parameter_combinations_are_invalid_orders(
    request_: OrderRequest, needle: str
) -> None:
    with pytest.raises(InvalidOrder, match=needle) as info:
        check_order(BTC, request_)
    assert not isinstance(info.value, FilterViolation)


def test_checks_are_exact_for_long_decimals() -> None:
    wide = attrs.evolve(BTC, tick_size=D("0.00000001"), max_price=None, max_notional=None)
    check_order(wide, limit("12345678901234567890.12345678", "0.00001"))
    with pytest.raises(FilterViolation):
        check_order(wide, limit("12345678901234567890.123456781", "0.00001"))


def test_conform_rounds_bids_down_asks_up_and_quantities_down() -> None:
    bid = conform_order(BTC, limit("65000.019", "0.0012345"))
    ask = conform_order(BTC, limit("65000.011", "0.0012345", Side.SELL))
    assert (bid.price, ask.price) == (D("65000.01"), D("65000.02"))
    assert bid.quantity == ask.quantity == D("0.00123")
    check_order(BTC, bid)


@given(
    price=st.decimals(min_value=D("0.01"), max_value=D("99999"), places=4),
    qty=st.decimals(min_value=D("0.001"), max_value=D("100"), places=7),
    side=st.sampled_from(Side),
)
def test_conformed_orders_always_sit_on_the_grids(price: D, qty: D, side: Side) -> None:
    out = conform_order(BTC, limit(str(price), str(qty), side))
    assert out.price is not None
    assert out.price % BTC.tick_size == 0 and out.quantity % BTC.step_size == 0
    assert (out.price <= price) if side is Side.BUY else (out.price >= price)
    assert out.quantity <= qty


def test_checked_values_are_plain_strings_for_the_wire() -> None:
    assert checked_values(BTC, limit("65000.10", "0.00100")) == {
        "price": "65000.1",
        "quantity": "0.001",
    }
    assert checked_values(BTC, market(quote="10.50")) == {"quote_quantity": "10.5"}
    tiny = attrs.evolve(BTC, min_qty=D(0), step_size=D("1E-8"), min_notional=D(0))
    sent = checked_values(tiny, limit("65000", "1E-8"))
    assert sent == {"price": "65000", "quantity": "0.00000001"}
    with pytest.raises(FilterViolation):
        checked_values(BTC, limit("65000.001", "1"))
