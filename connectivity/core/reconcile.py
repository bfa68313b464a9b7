"""Reconciliation: compare our state with what the venue says, apply the difference, report it.

Pure (no I/O): a :class:`VenueSnapshot` holds what REST returned (open orders, answers to
single-order queries, recent fills, balances); :func:`reconcile` feeds each piece through
the state manager's ordinary merge rules, and reports as a
:class:`~connectivity.core.events.Correction` every piece that changed our state (what
differed, our value, the venue's, and the evidence). Evidence older than our state changes
nothing and is not reported: the merge rules decide, never the snapshot.

- An order open at the venue but unknown here is adopted (ours by prefix) or tracked as
  foreign, and reported.
- An order open here but absent from the venue's open orders is never assumed canceled: it
  is listed in :attr:`ReconcileResult.to_query`, for a query by client order id; a query
  answer "unknown order" counts towards proving a submit never landed
  (:meth:`~connectivity.core.state.StateManager.not_found`).
- A fill missing here is counted (once, whatever else reports it later).
- A balance that drifted is corrected to the venue's report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from connectivity.core.events import AccountEvent, Correction
from connectivity.core.models import BalanceUpdate, Fill, Order, OrderUpdate
from connectivity.core.state import StateManager

__all__ = ["ReconcileResult", "VenueSnapshot", "reconcile"]


@attrs.frozen
class VenueSnapshot:
    """What the venue answered; ``None`` for what was not asked this round."""

    ts_request: int  # our clock when the first request went out
    ts_recv: int  # our clock when the last answer arrived
    open_orders: Sequence[OrderUpdate] | None = None
    queries: Mapping[str, OrderUpdate | None] = attrs.field(factory=dict)  # None: unknown
    fills: Sequence[Fill] = ()
    balances: Sequence[BalanceUpdate] | None = None


@attrs.frozen
class ReconcileResult:
    """What a round changed and what it could not settle."""

    events: list[AccountEvent]  # everything emitted, corrections included
    corrections: list[Correction]
    to_query: list[str]  # open here, absent from the venue's open orders: ask one by one


def reconcile(state: StateManager, snapshot: VenueSnapshot) -> ReconcileResult:
    """Merge ``snapshot`` into ``state``; return the events, corrections and orders to query."""
    events: list[AccountEvent] = []
    corrections: list[Correction] = []
    to_query: list[str] = []
    venue = state.venue
    ts = snapshot.ts_recv

    def report(subject: str, key: str, field: str, ours: object, theirs: object, why: str) -> None:
        corrections.append(Correction(venue, subject, key, field, str(ours), str(theirs), why, ts))

    def merge_order(update: OrderUpdate, why: str) -> None:
        before = state.order(update.client_order_id)
        events.extend(state.apply(update))
        after = state.order(update.client_order_id)
        if after is None or _same(before, after):
            return
        if before is None:
            report("order", after.client_order_id, "known", "absent", after.status.value, why)
        elif before.status is not after.status:
            report("order", after.client_order_id, "status", before.status.value,
                   after.status.value, why)  # fmt: skip
        if before is not None and before.filled_quantity != after.filled_quantity:
            report("order", after.client_order_id, "filled_quantity", before.filled_quantity,
                   after.filled_quantity, why)  # fmt: skip

    if snapshot.open_orders is not None:
        venue_open = set()
        for update in snapshot.open_orders:
            venue_open.add(update.client_order_id)
            merge_order(update, f"open orders ({update.source})")
        to_query += [
            cid
            for cid in state.open_since(snapshot.ts_request)
            if cid not in venue_open and cid not in snapshot.queries
        ]
    for cid, answer in snapshot.queries.items():
        if answer is None:
            events.extend(state.not_found(cid, "rest-query", ts))
        else:
            merge_order(answer, f"order query ({answer.source})")
    for fill in snapshot.fills:
        counted = state.apply(fill)
        events.extend(counted)
        if any(event is fill for event in counted):
            report("fill", fill.trade_id, "counted", "missing", fill.quantity, "recent fills")
    for report_ in snapshot.balances or ():
        asset = report_.asset
        known = asset in state.balances.assets  # a first report is not a drift
        held = state.balance(asset)
        events.extend(state.apply(report_))
        now = state.balance(asset)
        if known and (held.free, held.locked) != (now.free, now.locked):
            report("balance", asset, "free/locked", f"{held.free}/{held.locked}",
                   f"{now.free}/{now.locked}", f"balances ({report_.source})")  # fmt: skip
    state.emit(list(corrections))
    return ReconcileResult(events + list(corrections), corrections, to_query)


def _same(before: Order | None, after: Order) -> bool:
    return (
        before is not None
        and before.status is after.status
        and before.filled_quantity == after.filled_quantity
    )
