"""Rebuilding a :class:`~connectivity.core.state.StateManager` from its journal.

Records are replayed in order: an order record replaces the order's state (its trade ids
are counted, parked fills among them included), a fill record marks its trade id as seen
and either parks it or replaces its order's state, a balance record replaces the asset's
state. Then every live order is marked for start-up reconciliation, and any parked fill
whose order is known by now is counted (defensive: each input is one record). Events are
not emitted while rebuilding: the bot saw them before the restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectivity.core.balances import AssetBalance
from connectivity.core.journal import Record
from connectivity.core.models import Fill, Liquidity, Side
from connectivity.core.order_record import OrderRecord
from connectivity.errors import ParseError

if TYPE_CHECKING:
    from connectivity.core.state import StateManager

__all__ = ["fill_from_record", "restore"]


def fill_from_record(value: Fill | Sequence[Any]) -> Fill:
    """Return the fill a journal record holds (the object itself, or its JSON field list)."""
    if isinstance(value, Fill):
        return value
    (venue, symbol, cid, trade_id, side, price, qty, fee, fee_asset, liquidity, ts_event,
     ts_recv, vid) = value  # fmt: skip
    return Fill(
        venue, symbol, cid, trade_id, Side(side), Decimal(price), Decimal(qty), Decimal(fee),
        fee_asset, Liquidity(liquidity) if liquidity is not None else None, ts_event, ts_recv,
        vid,
    )  # fmt: skip


def restore(manager: StateManager, records: Iterable[Record]) -> None:
    """Replay ``records`` into an empty ``manager``."""
    orders = manager._orders  # the manager's own rebuild, split out for size
    parked = manager._parked
    seen = manager._seen
    by_vid = manager._by_vid
    count = 0
    for count, record in enumerate(records, 1):
        kind = record[0]
        if kind == "O":
            _put(orders, by_vid, OrderRecord.from_record(record))
        elif kind == "F":
            fill = fill_from_record(record[1])
            seen.add((fill.venue, fill.symbol, fill.trade_id))
            if record[2] is None:
                manager.park(fill)
            else:
                for fills in parked.values():
                    fills.pop((fill.venue, fill.symbol, fill.trade_id), None)
                _put(orders, by_vid, OrderRecord.from_record(record[2]))
        elif kind == "B":
            manager.balances.assets[record[1]] = AssetBalance.from_state(record[2])
        else:
            raise ParseError(f"unknown journal record kind {kind!r} (record {count})")
    counted: set[tuple[str, str, str]] = set()
    for rec in orders.values():
        counted.update((rec.venue, rec.symbol, trade_id) for trade_id in rec.fill_keys)
        rec.reconcile = not rec.status.is_terminal
    seen |= counted
    for where, fills in list(parked.items()):
        for key in counted.intersection(fills):
            del fills[key]  # counted when its order appeared (inside that order's record)
        if not fills:
            del parked[where]
    manager.stats.clear()
    sink = manager._sink
    manager._sink = None
    try:
        for rec in list(orders.values()):
            if rec.cid in parked or f"#{rec.venue_order_id}" in parked:
                manager._unpark(rec)
    finally:
        manager._sink = sink
    if count:
        manager.stats["restored_records"] = count


def _put(orders: dict[str, OrderRecord], by_vid: dict[str, str], rec: OrderRecord) -> None:
    orders[rec.cid] = rec
    if rec.venue_order_id is not None:
        by_vid[rec.venue_order_id] = rec.cid
