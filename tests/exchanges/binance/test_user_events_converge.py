"""Property: any arrival order of the same Binance user events, duplicates included, ends alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.connector.user_stream import UserStream
from connectivity.core.clock import ManualClock
from connectivity.core.models import OrderRequest, OrderStatus, OrderType, Side
from connectivity.core.order_rules import ClientOrderIds
from connectivity.core.state import StateManager
from connectivity.runtime import Supervisor
from exchanges.binance.symbols import SymbolMap
from exchanges.binance.user_stream import binance_user_stream
from tests.exchanges.binance.test_user_stream import INSTRUMENT, position, report, trade

CID = "botp1-1"
EVENTS: list[dict[str, Any]] = [
    report(CID, "NEW", "NEW", "0", 1000, 1),
    trade(CID, "PARTIALLY_FILLED", "0.25", "0.25", 1001, 11),
    trade(CID, "PARTIALLY_FILLED", "0.35", "0.6", 1002, 12),
    trade(CID, "FILLED", "0.4", "1.0", 1003, 13),
    position(1001, ETH=("0.25", "0"), BTC=("9.9", "0.075")),
    position(1003, ETH=("1.0", "0"), BTC=("9.9", "0")),
    {"e": "balanceUpdate", "E": 1005, "a": "BTC", "d": "-2.5", "T": 1004},
    {"e": "balanceUpdate", "E": 1000, "a": "ETH", "d": "7", "T": 999},  # inside both positions
]


def run(events: list[dict[str, Any]]) -> UserStream:
    state = StateManager(
        "binance", ClientOrderIds("bot", "p1-"), instruments={"ETH-BTC": INSTRUMENT}
    )
    state.register(
        OrderRequest(CID, "ETH-BTC", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal("0.1")), 0
    )
    clock = ManualClock()
    stream = binance_user_stream(
        state, SymbolMap([INSTRUMENT]), clock=clock, supervisor=Supervisor("converge")
    )
    for number, event in enumerate(events):
        stream.on_event(event, number)
    return stream


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    order=st.permutations(range(len(EVENTS))),
    repeats=st.lists(st.integers(0, len(EVENTS) - 1), max_size=6),
)
def test_any_order_with_duplicates_converges_to_the_venue_truth(
    order: list[int], repeats: list[int]
) -> None:
    stream = run([EVENTS[i] for i in order + repeats])
    state = stream.state
    truth = state.order(CID)
    assert truth is not None
    assert truth.status is OrderStatus.FILLED
    assert truth.filled_quantity == Decimal("1.0")
    assert truth.filled_quote == Decimal("0.1")
    assert truth.fees == (("ETH", Decimal("0.001")),)
    assert state.balance("ETH").free == Decimal("1.0")
    assert state.balance("BTC").free == Decimal("7.4")
    assert state.balance("BTC").locked == Decimal(0)
    assert stream.errors.total() == 0
