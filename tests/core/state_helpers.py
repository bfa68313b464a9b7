"""Builders for state-manager tests: orders, updates, fills and balance reports in one line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectivity.core.journal import Journal
from connectivity.core.models import (
    BalanceUpdate,
    Fill,
    Instrument,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
)
from connectivity.core.order_rules import ClientOrderIds
from connectivity.core.state import StateConfig, StateManager

VENUE = "sim"
SYMBOL = "BTC-USDT"
INSTRUMENTS = {
    SYMBOL: Instrument(VENUE, SYMBOL, "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.001"))
}


def manager(journal: Journal | None = None, **config: Any) -> tuple[StateManager, list[Any]]:
    """Return a manager with a recording sink, our namespace ``bot`` and token ``p1-``."""
    events: list[Any] = []
    state = StateManager(
        VENUE,
        ClientOrderIds("bot", "p1-"),
        journal=journal,
        sink=events.append,
        instruments=INSTRUMENTS,
        config=StateConfig(**config),
    )
    return state, events


def request(
    cid: str, qty: str = "10", price: str | None = "100", side: Side = Side.BUY
) -> OrderRequest:
    """Return a limit order request."""
    return OrderRequest(
        cid, SYMBOL, side, OrderType.LIMIT, Decimal(qty), Decimal(price) if price else None
    )


def upd(
    cid: str,
    status: OrderStatus,
    filled: str = "0",
    ts: int = 1,
    source: str = "ws",
    seq: int = 0,
    vid: str | None = None,
    qty: str | None = "10",
    side: Side | None = Side.BUY,
    quote: str | None = None,
) -> OrderUpdate:
    """Return an order update (cumulative ``filled``, venue time ``ts``)."""
    return OrderUpdate(
        VENUE, SYMBOL, cid, status, Decimal(filled), source, ts, ts + 1,
        venue_order_id=vid, quantity=Decimal(qty) if qty else None, price=Decimal("100"),
        side=side, order_type=OrderType.LIMIT, sequence=seq,
        filled_quote=Decimal(quote) if quote else None,
    )  # fmt: skip


def fill(
    cid: str, trade_id: str, qty: str, price: str = "100", ts: int = 1, vid: str | None = None,
    fee: str = "0.01", fee_asset: str | None = "BNB",
) -> Fill:  # fmt: skip
    """Return one fill."""
    return Fill(
        VENUE, SYMBOL, cid, trade_id, Side.BUY, Decimal(price), Decimal(qty), Decimal(fee),
        fee_asset, Liquidity.MAKER, ts, ts + 1, venue_order_id=vid,
    )  # fmt: skip


def balance(
    asset: str, free: str | None = None, locked: str | None = "0", ts: int = 1,
    delta: str | None = None, source: str = "ws",
) -> BalanceUpdate:  # fmt: skip
    """Return an absolute balance report, or a delta when ``delta`` is given."""
    if delta is not None:
        return BalanceUpdate(VENUE, asset, ts, ts + 1, source, delta=Decimal(delta))
    return BalanceUpdate(
        VENUE, asset, ts, ts + 1, source, free=Decimal(free or "0"), locked=Decimal(locked or "0")
    )
