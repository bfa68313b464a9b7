from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectivity.core.decimal import (
    Rounding,
    decimal_to_fixed,
    fixed_to_decimal,
    format_decimal,
    format_fixed,
    parse_decimal,
    parse_fixed,
    round_price,
    round_qty,
    round_to_increment,
    scale_of,
)
from connectivity.errors import ParseError

VENUE_REGEX = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("0.01000000", 8, 1_000_000),
        ("123", 2, 12300),
        ("0", 8, 0),
        ("-1.5", 1, -15),
        (b"43210.12", 2, 4321012),
        ("1.23000000000000000000", 2, 123),  # trailing zeros beyond the scale are exact
        ("0.000000000000000001", 18, 1),
    ],
)
def test_parse_fixed_is_exact(text: str, scale: int, expected: int) -> None:
    assert parse_fixed(text, scale) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".",
        "1.",
        ".5",
        "1e-5",
        "1,5",
        " 1",
        "1 ",
        "+1",
        "1_000",
        "--1",
        "NaN",
        "inf",
        "١٢",
        "1.2.3",
    ],
)
def test_parse_fixed_rejects_malformed_strings_with_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_fixed(text, 8)


def test_parse_fixed_rejects_precision_beyond_scale() -> None:
    with pytest.raises(ParseError, match="significant decimals"):
        parse_fixed("0.123", 2)


def test_parse_fixed_rejects_non_ascii_bytes() -> None:
    with pytest.raises(ParseError):
        parse_fixed("1.5".encode("utf-16"), 2)


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [
        (1_000_000, 8, "0.01"),
        (0, 8, "0"),
        (-15, 1, "-1.5"),
        (123456789, 0, "123456789"),
        (10**20, 18, "100"),
        (-0, 4, "0"),
    ],
)
def test_format_fixed_is_plain(value: int, scale: int, expected: str) -> None:
    assert format_fixed(value, scale) == expected


def test_format_fixed_keeps_min_decimals() -> None:
    assert format_fixed(1_000_000, 8, min_decimals=8) == "0.01000000"
    assert format_fixed(5, 0, min_decimals=2) == "5.00"


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(min_value=0, max_value=18))
def test_fixed_round_trips_through_text(value: int, scale: int) -> None:
    assert parse_fixed(format_fixed(value, scale), scale) == value


@given(st.integers(min_value=0, max_value=10**20 - 1), st.integers(min_value=0, max_value=18))
def test_formatted_values_match_the_venue_parameter_regex(value: int, scale: int) -> None:
    import re

    assert re.match(VENUE_REGEX, format_fixed(value, scale))


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=8, min_value=-(10**12), max_value=10**12
    )
)
def test_decimal_and_fixed_round_trip(value: Decimal) -> None:
    assert fixed_to_decimal(decimal_to_fixed(value, 8), 8) == value


def test_decimal_to_fixed_refuses_to_round() -> None:
    with pytest.raises(ParseError):
        decimal_to_fixed(Decimal("0.123"), 2)
    with pytest.raises(ParseError):
        decimal_to_fixed(Decimal("NaN"), 2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("3e-06"), "0.000003"),
        (Decimal("1.50000"), "1.5"),
        (Decimal("-0.0"), "0"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0"), "0"),
    ],
)
def test_format_decimal_never_uses_exponent_notation(value: Decimal, expected: str) -> None:
    assert format_decimal(value) == expected


def test_parse_decimal_accepts_only_plain_strings() -> None:
    assert parse_decimal("0.00100000") == Decimal("0.001")
    assert parse_decimal(b"-2.5") == Decimal("-2.5")
    for bad in ("1e5", "NaN", "", "1.", " 1", "1,0"):
        with pytest.raises(ParseError):
            parse_decimal(bad)


def test_scale_of_counts_significant_decimals() -> None:
    assert scale_of("0.01000000") == 2
    assert scale_of("100") == 0
    assert scale_of("1.00000000") == 0


def test_quantity_rounds_down_to_step() -> None:
    assert round_qty(Decimal("1.23456"), Decimal("0.001")) == Decimal("1.234")
    assert round_qty(Decimal("0.0009"), Decimal("0.001")) == Decimal("0")
    assert format_decimal(round_qty(Decimal("5"), Decimal("0.01000000"))) == "5"


def test_price_rounds_to_tick_in_each_mode() -> None:
    tick = Decimal("0.05")
    assert round_price(Decimal("1.07"), tick) == Decimal("1.05")
    assert round_price(Decimal("1.08"), tick) == Decimal("1.10")
    assert round_price(Decimal("1.07"), tick, Rounding.CEILING) == Decimal("1.10")
    assert round_price(Decimal("1.09"), tick, Rounding.FLOOR) == Decimal("1.05")
    assert round_price(Decimal("-1.07"), tick, Rounding.FLOOR) == Decimal("-1.10")


def test_zero_increment_disables_rounding() -> None:
    assert round_to_increment(Decimal("1.2345"), Decimal(0), Rounding.DOWN) == Decimal("1.2345")


def test_rounding_is_exact_for_huge_values() -> None:
    value = Decimal("123456789012345678901234567890.123456789")
    assert round_qty(value, Decimal("0.00000001")) == Decimal(
        "123456789012345678901234567890.12345678"
    )


@given(
    st.decimals(min_value=0, max_value=10**9, places=10, allow_nan=False),
    st.sampled_from([Decimal("0.00000001"), Decimal("0.001"), Decimal("0.5"), Decimal("10")]),
)
def test_rounded_quantity_is_on_grid_and_never_exceeds_input(qty: Decimal, step: Decimal) -> None:
    rounded = round_qty(qty, step)
    assert rounded <= qty
    assert rounded % step == 0
    assert qty - rounded < step
