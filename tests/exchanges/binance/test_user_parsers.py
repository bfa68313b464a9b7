"""Binance user-data events -> state values: every event type, status and error case."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectivity.connector.user_stream import StreamTerminated
from connectivity.core.models import (
    BalanceUpdate,
    Fill,
    Instrument,
    Liquidity,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
)
from connectivity.errors import ParseError, UnknownEnumValue
from exchanges.binance.symbols import SymbolMap
from exchanges.binance.user_parsers import (
    EXECUTION_TYPES,
    BinanceListStatus,
    parse_balance_update,
    parse_execution_report,
    parse_user_event,
)

FIXTURES = Path(__file__).parent / "fixtures"
MS = 1_000_000
RECV = 42
SYMBOLS = SymbolMap(
    [
        Instrument(
            "binance", "ETH-BTC", "ETHBTC", "ETH", "BTC", Decimal("0.00000001"), Decimal("0.0001")
        )
    ]
)
to_symbol = SYMBOLS.from_venue


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / name).read_bytes())
    return data


def parse(data: Any) -> tuple[object, ...]:
    return parse_user_event(data, RECV, to_symbol)


def test_documented_new_order_becomes_a_new_order_update_without_fill() -> None:
    (update,) = parse(fixture("execution_report_new.json"))
    assert update == OrderUpdate(
        "binance", "ETH-BTC", "mUvoqJxFIILMdfAW5iGSOW", OrderStatus.NEW, Decimal(0), "ws-api",
        1499405658657 * MS, RECV,
        venue_order_id="4293153", quantity=Decimal("1"), price=Decimal("0.10264410"),
        filled_quote=Decimal(0), side=Side.BUY, order_type=OrderType.LIMIT, reason=None,
        sequence=8641984,
    )  # fmt: skip


def test_trade_execution_gives_the_cumulative_update_and_one_fill_with_fee_and_maker_flag() -> None:
    update, fill = parse(fixture("execution_report_trade.json"))
    assert isinstance(update, OrderUpdate)
    assert update.status is OrderStatus.PARTIALLY_FILLED
    assert update.filled_quantity == Decimal("0.4")
    assert update.filled_quote == Decimal("0.04105764")
    assert str(update.filled_quote) == "0.04105764"  # exact, from the string
    assert fill == Fill(
        "binance", "ETH-BTC", "mUvoqJxFIILMdfAW5iGSOW", "2771", Side.BUY,
        Decimal("0.10264410"), Decimal("0.40000000"), Decimal("0.00040000"), "ETH",
        Liquidity.MAKER, 1499405658699 * MS, RECV, venue_order_id="4293153",
    )  # fmt: skip


def test_taker_trade_is_marked_taker() -> None:
    data = {**fixture("execution_report_trade.json"), "m": False}
    _, fill = parse(data)
    assert isinstance(fill, Fill) and fill.liquidity is Liquidity.TAKER


def test_cancel_names_the_original_client_order_id_not_the_cancel_requests() -> None:
    (update,) = parse(fixture("execution_report_canceled.json"))
    assert isinstance(update, OrderUpdate)
    assert update.client_order_id == "mUvoqJxFIILMdfAW5iGSOW"
    assert update.status is OrderStatus.CANCELED
    assert update.filled_quantity == Decimal("0.4")


@pytest.mark.parametrize(
    ("venue_status", "status"),
    [
        ("NEW", OrderStatus.NEW),
        ("PARTIALLY_FILLED", OrderStatus.PARTIALLY_FILLED),
        ("FILLED", OrderStatus.FILLED),
        ("CANCELED", OrderStatus.CANCELED),
        ("PENDING_CANCEL", OrderStatus.PENDING_CANCEL),
        ("REJECTED", OrderStatus.REJECTED),
        ("EXPIRED", OrderStatus.EXPIRED),
        ("EXPIRED_IN_MATCH", OrderStatus.EXPIRED),
    ],
)
def test_every_binance_order_status_maps_to_ours(venue_status: str, status: OrderStatus) -> None:
    (update,) = parse({**fixture("execution_report_new.json"), "X": venue_status})
    assert isinstance(update, OrderUpdate) and update.status is status


@pytest.mark.parametrize("kind", sorted(EXECUTION_TYPES - {"TRADE"}))
def test_execution_types_other_than_trade_carry_no_fill(kind: str) -> None:
    items = parse({**fixture("execution_report_new.json"), "x": kind})
    assert [type(item) for item in items] == [OrderUpdate]


def test_execution_type_list_is_the_documented_one() -> None:
    documented = {"NEW", "CANCELED", "REPLACED", "REJECTED", "TRADE", "EXPIRED", "TRADE_PREVENTION"}
    assert documented == EXECUTION_TYPES


def test_reject_reason_and_expiry_reason_become_the_updates_reason() -> None:
    base = fixture("execution_report_new.json")
    (rejected,) = parse({**base, "x": "REJECTED", "X": "REJECTED", "r": "INSUFFICIENT_BALANCES"})
    (expired,) = parse(
        {**base, "x": "EXPIRED", "X": "EXPIRED", "eR": "UNFILLED_IOC_QUANTITY_EXPIRED"}
    )
    assert isinstance(rejected, OrderUpdate) and rejected.reason == "INSUFFICIENT_BALANCES"
    assert isinstance(expired, OrderUpdate) and expired.reason == "UNFILLED_IOC_QUANTITY_EXPIRED"


def test_market_order_has_no_price_and_a_quote_sized_one_no_quantity() -> None:
    base = fixture("execution_report_new.json")
    (update,) = parse({**base, "o": "MARKET", "p": "0.00000000", "q": "0.00000000", "Q": "5.0"})
    assert isinstance(update, OrderUpdate)
    assert update.order_type is OrderType.MARKET
    assert update.price is None and update.quantity is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("X", "PENDING_NEW_SOMETHING"), ("x", "AMENDMENT_X"), ("S", "BOTH"), ("o", "OCO")],
)
def test_unknown_enum_value_raises_unknown_enum_value(field: str, value: str) -> None:
    with pytest.raises(UnknownEnumValue, match=value):
        parse({**fixture("execution_report_new.json"), field: value})


def test_unknown_event_type_raises_unknown_enum_value() -> None:
    with pytest.raises(UnknownEnumValue):
        parse({"e": "somethingNew", "E": 1})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("z", 0.4),  # a float: never accepted for an amount
        ("z", "1e-8"),
        ("q", "-1.0"),
        ("p", None),
        ("i", "4293153"),
        ("T", True),
        ("C", 5),
        ("m", "false"),
    ],
)
def test_malformed_execution_report_raises_parse_error(field: str, value: object) -> None:
    data = {**fixture("execution_report_trade.json"), field: value}
    with pytest.raises(ParseError):
        parse(data)


def test_trade_without_trade_id_is_malformed() -> None:
    with pytest.raises(ParseError, match="trade id"):
        parse({**fixture("execution_report_trade.json"), "t": -1})


def test_missing_field_and_non_object_events_are_malformed() -> None:
    data = fixture("execution_report_new.json")
    del data["z"]
    for bad in (data, ["e"], "executionReport", None):
        with pytest.raises(ParseError):
            parse(bad)


def test_unknown_symbol_raises_unknown_enum_value() -> None:
    with pytest.raises(UnknownEnumValue, match="BTCUSDT"):
        parse({**fixture("execution_report_new.json"), "s": "BTCUSDT"})


def test_account_position_gives_absolute_balances_as_of_the_last_account_update() -> None:
    (update,) = parse(fixture("outbound_account_position.json"))
    assert update == BalanceUpdate(
        "binance", "ETH", 1564034571073 * MS, RECV, "ws-api",
        free=Decimal("10000.000000"), locked=Decimal("0.000000"),
    )  # fmt: skip


def test_account_position_with_a_malformed_entry_raises_parse_error() -> None:
    data = fixture("outbound_account_position.json")
    for entries in ([{"a": "ETH", "f": "1"}], ["ETH"], {"a": "ETH"}):
        with pytest.raises(ParseError):
            parse({**data, "B": entries})


def test_balance_update_is_a_signed_delta_at_its_clear_time() -> None:
    (deposit,) = parse(fixture("balance_update.json"))
    assert deposit == BalanceUpdate(
        "binance", "BTC", 1573200697068 * MS, RECV, "ws-api", delta=Decimal("100.00000000")
    )
    withdrawal = parse_balance_update({**fixture("balance_update.json"), "d": "-0.5"}, RECV)
    assert withdrawal.delta == Decimal("-0.5")


def test_list_status_is_parsed_into_a_typed_value() -> None:
    (status,) = parse(fixture("list_status.json"))
    assert status == BinanceListStatus(
        "ETHBTC", 2, "OCO", "EXEC_STARTED", "EXECUTING", None, "F4QN4G8DlFATFlIUQ0cjdD",
        (("ETHBTC", "17", "AJYsMjErWJesZvqlJCTUgL"), ("ETHBTC", "18", "bfYPSQdLoqAJeNrOr9adzq")),
        1564035303625 * MS, RECV,
    )  # fmt: skip


def test_malformed_list_status_raises_parse_error() -> None:
    with pytest.raises(ParseError):
        parse({**fixture("list_status.json"), "O": [{"s": "ETHBTC", "i": "17", "c": "x"}]})


def test_event_stream_terminated_is_a_stream_terminated_value() -> None:
    event = fixture("event_stream_terminated.json")["event"]
    assert parse(event) == (StreamTerminated(1728973001334 * MS, RECV),)


def test_server_shutdown_and_external_lock_updates_are_ignored_here() -> None:
    assert parse({"e": "serverShutdown", "E": 1}) == ()
    assert parse({"e": "externalLockUpdate", "E": 1, "a": "BTC", "d": "1", "T": 1}) == ()


def test_execution_report_parser_is_pure_and_repeatable() -> None:
    data = fixture("execution_report_trade.json")
    assert parse_execution_report(data, RECV, to_symbol) == parse_execution_report(
        data, RECV, to_symbol
    )
