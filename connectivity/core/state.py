"""StateManager: one truth for orders, fills and balances, whichever source spoke first.

REST answers, user-stream events and FIX execution reports all arrive as the same
:class:`~connectivity.core.models.OrderUpdate`, :class:`~connectivity.core.models.Fill` and
:class:`~connectivity.core.models.BalanceUpdate` values; :meth:`StateManager.apply` merges each
synchronously (pure: no I/O but the injected journal, no gevent, no locks), returns the events
it produced and hands them to the sink.

Merge rules:

- Orders are keyed by our client order id; the venue order id is mapped when known. Ids
  without our namespace (:class:`~connectivity.core.order_rules.ClientOrderIds`) are foreign:
  tracked and reported, never mistaken for ours.
- **Newer evidence.** Each order keeps the version of the newest venue evidence merged in.
  Evidence A is newer than B when A's cumulative filled quantity is larger; at equal quantity
  when A's venue event time is later; at equal quantity and time, when both come from the
  same source and A's source sequence (FIX MsgSeqNum, stream event id) is larger. Otherwise
  they are the same version. Older evidence is ignored (a stale REST snapshot never
  overwrites the stream); same-version evidence may only move a venue-reported status to a
  legal successor (an ack and a cancel within one millisecond), never undo our own request
  (PENDING_CANCEL, IN_DOUBT) nor go back.
- Status changes follow :data:`~connectivity.core.order_rules.TRANSITIONS`; a newer piece of
  evidence asking for an illegal one is counted (``errors``), logged with both states and the
  evidence, and not applied. Cumulative filled quantity never decreases. A fill that arrives
  while a cancel is pending leaves the order PENDING_CANCEL.
- A fill counts once per ``(venue, symbol, trade id)``, whichever sources report it; the
  order's filled quantity is the larger of the venue's cumulative figure and the sum of the
  fills. A fill for an order not known yet is parked and counted when the order appears.
- **In doubt.** :meth:`outcome_unknown` (timeout, 5xx, 429, 418, disconnect on a submit,
  cancel or replace) makes the order IN_DOUBT, never REJECTED. Only venue evidence settles it
  (an update from any source, a fill, :meth:`duplicate_rejected`, or :meth:`not_found` proving
  absence after ``absent_after_misses`` consecutive answers spread over ``absent_after_ns``),
  and each settlement is emitted as :class:`~connectivity.core.events.OrderSettled` saying what
  settled it.
- Balances: :mod:`connectivity.core.balances`. Every registration and accepted change is one
  journal record (:mod:`connectivity.core.journal`); a manager opened on an existing journal
  rebuilds itself and marks its live orders for start-up reconciliation.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from connectivity.core.balances import AssetBalance, Balances
from connectivity.core.clock import NS_PER_SECOND
from connectivity.core.counters import ErrorCounter
from connectivity.core.events import (
    AccountEvent,
    BalanceChanged,
    EventSink,
)
from connectivity.core.journal import Journal, MemoryJournal
from connectivity.core.models import (
    BalanceUpdate,
    Fill,
    Instrument,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
)
from connectivity.core.order_record import OrderRecord
from connectivity.core.order_rules import RULES_BY_NAME, ClientOrderIds, Edge, refused_definitely
from connectivity.core.state_restore import restore
from connectivity.core.state_view import StateView, order_event, settled_event
from connectivity.errors import ConfigError, ConnectivityError, ParseError

__all__ = ["IllegalTransition", "StateConfig", "StateManager"]

S = OrderStatus
_ZERO = Decimal(0)
_LOCAL = frozenset({S.PENDING_NEW.name, S.IN_DOUBT.name, S.PENDING_CANCEL.name})
_RULES = RULES_BY_NAME


# Hot-path lookups go by member name (``_name_``): Enum.__hash__ is a Python-level call.
class IllegalTransition(ConnectivityError):
    """Evidence asked for a status change the transition table forbids (counted, not raised)."""


@attrs.frozen
class StateConfig:
    """Tunables of the state manager."""

    # "Unknown order" right after placement proves absence only after this many consecutive
    # answers spread over at least this long (the venue's eventual consistency).
    absent_after_misses: int = 3
    absent_after_ns: int = 3 * NS_PER_SECOND
    compact_after_ns: int = 24 * 3600 * NS_PER_SECOND  # terminal orders kept this long


class StateManager(StateView):
    """Orders, fills and balances merged from every source under one set of rules."""

    def __init__(
        self,
        venue: str,
        ids: ClientOrderIds,
        *,
        journal: Journal | None = None,
        sink: EventSink | None = None,
        instruments: Mapping[str, Instrument] | None = None,
        config: StateConfig | None = None,
    ) -> None:
        self.venue = venue
        self.ids = ids
        self.config = config or StateConfig()
        self.instruments = dict(instruments or {})
        self.balances = Balances()
        self.stats: collections.Counter[str] = collections.Counter()
        self._now_ns = 0  # receive time of the latest input: the log-throttling clock
        self.errors = ErrorCounter(f"state[{venue}]", lambda: self._now_ns)
        self._orders: dict[str, OrderRecord] = {}
        self._by_vid: dict[str, str] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self._parked: dict[str, dict[tuple[str, str, str], Fill]] = {}
        self._journal: Journal = journal if journal is not None else MemoryJournal()
        self._append = self._journal.append
        self._sink = sink
        self._dispatch: dict[type, Callable[[Any], list[AccountEvent]]] = {
            OrderUpdate: self._on_update, Fill: self._on_fill, BalanceUpdate: self._on_balance,
        }  # fmt: skip
        restore(self, self._journal.records())

    # ---- inputs ---------------------------------------------------------------------------

    def apply(self, item: OrderUpdate | Fill | BalanceUpdate) -> list[AccountEvent]:
        """Merge one piece of venue evidence; return (and emit) the events it produced."""
        handler = self._dispatch.get(type(item))
        if handler is None:
            raise ConfigError(f"StateManager cannot apply {type(item).__name__}")
        events = handler(item)
        if events and self._sink is not None:
            self._emit(events)
        return events

    def next_client_order_id(self) -> str:
        """Return a fresh client order id of ours."""
        return self.ids.next()

    def register(
        self, request: OrderRequest, ts_recv: int, *, check_funds: bool = False
    ) -> list[AccountEvent]:
        """Track an order we are about to send (PENDING_NEW), optionally checking funds."""
        if request.client_order_id in self._orders:
            raise ConfigError(f"client order id already used: {request.client_order_id}")
        if check_funds:
            self.check_funds(request)
        rec = OrderRecord.from_request(self.venue, request)
        rec.changed_ns = self._now_ns = ts_recv
        self._orders[rec.cid] = rec
        events: list[AccountEvent] = [order_event(rec, "local", 0, ts_recv)]
        events += self._unpark(rec)
        self._append(rec.record())
        return self._emit(events)

    def outcome_unknown(
        self, client_order_id: str, operation: str, reason: str, ts_recv: int
    ) -> list[AccountEvent]:
        """Mark a submit/cancel/replace without a definite answer IN_DOUBT (never REJECTED)."""
        rec = self._require(client_order_id)
        if rec.status.is_terminal or rec.status is S.IN_DOUBT:
            return []  # nothing left in doubt, or already waiting for evidence
        rec.doubt_op = operation
        return self._emit(self._local(rec, S.IN_DOUBT, ts_recv, reason=reason))

    def request_failed(
        self, client_order_id: str, operation: str, exc: BaseException, ts_recv: int
    ) -> list[AccountEvent]:
        """Record a submit/cancel/replace that raised: refused only on proof, else in doubt."""
        if not refused_definitely(exc):
            return self.outcome_unknown(client_order_id, operation, repr(exc), ts_recv)
        if operation == "submit":
            rec = self._require(client_order_id)
            if rec.status is not S.PENDING_NEW:
                return []  # the venue already spoke about this order: its word stands
            return self._emit(self._local(rec, S.REJECTED, ts_recv, reason=str(exc)))
        return self.cancel_failed(client_order_id, str(exc), ts_recv)

    def cancel_requested(self, client_order_id: str, ts_recv: int) -> list[AccountEvent]:
        """Record that we asked the venue to cancel (PENDING_CANCEL; an in-doubt order stays)."""
        rec = self._require(client_order_id)
        if rec.status.is_terminal or rec.status in (S.PENDING_CANCEL, S.IN_DOUBT):
            return []  # in doubt: only venue evidence may say what there is to cancel
        return self._emit(self._local(rec, S.PENDING_CANCEL, ts_recv))

    def cancel_failed(self, client_order_id: str, reason: str, ts_recv: int) -> list[AccountEvent]:
        """Record a definite cancel refusal: back to NEW or PARTIALLY_FILLED."""
        rec = self._require(client_order_id)
        if rec.status is not S.PENDING_CANCEL and rec.doubt_op != "cancel":
            return []
        target = S.PARTIALLY_FILLED if rec.filled else S.NEW
        return self._emit(self._local(rec, target, ts_recv, reason=reason))

    def not_found(self, client_order_id: str, source: str, ts_recv: int) -> list[AccountEvent]:
        """Count a venue "unknown order" answer; enough of them prove a submit never landed."""
        rec = self._require(client_order_id)
        self.stats["not_found"] += 1
        in_doubt_submit = rec.status is S.PENDING_NEW or (
            rec.status is S.IN_DOUBT and rec.doubt_op in (None, "submit")
        )
        if not in_doubt_submit:
            return []  # an acknowledged order must be looked up, never assumed gone
        if rec.misses == 0:
            rec.first_miss_ns = ts_recv
        rec.misses += 1
        cfg = self.config
        span = ts_recv - rec.first_miss_ns
        if rec.misses < cfg.absent_after_misses or span < cfg.absent_after_ns:
            rec.changed_ns = self._now_ns = ts_recv
            self._append(rec.record())
            return []
        evidence = f"absent: {rec.misses} unknown-order answers over {span / NS_PER_SECOND:g}s"
        return self._emit(self._local(rec, S.REJECTED, ts_recv, reason=evidence, source=source))

    def duplicate_rejected(
        self, client_order_id: str, source: str, ts_recv: int
    ) -> list[AccountEvent]:
        """A resubmission refused as a duplicate client order id: the first attempt exists."""
        rec = self._require(client_order_id)
        if rec.status not in (S.PENDING_NEW, S.IN_DOUBT):
            return []
        evidence = "duplicate client order id rejection"
        return self._emit(self._local(rec, S.NEW, ts_recv, reason=evidence, source=source))

    def emit(self, events: list[AccountEvent]) -> None:
        """Hand events produced outside :meth:`apply` (reconciliation) to the sink."""
        self._emit(events)

    # ---- merging --------------------------------------------------------------------------

    def _emit(self, events: list[AccountEvent]) -> list[AccountEvent]:
        sink = self._sink
        if sink is not None:
            for event in events:
                sink(event)
        return events

    def _require(self, client_order_id: str) -> OrderRecord:
        rec = self._orders.get(client_order_id)
        if rec is None:
            raise ConfigError(f"unknown client order id: {client_order_id}")
        return rec

    def _find(self, client_order_id: str, venue_order_id: str | None) -> OrderRecord | None:
        rec = self._orders.get(client_order_id)
        if rec is None and venue_order_id is not None:
            cid = self._by_vid.get(venue_order_id)
            rec = self._orders.get(cid) if cid is not None else None
        return rec

    def _on_update(self, u: OrderUpdate) -> list[AccountEvent]:
        self._now_ns = u.ts_recv
        rec = self._orders.get(u.client_order_id)
        if rec is None:
            rec = self._find(u.client_order_id, u.venue_order_id)
        if rec is None:
            rec = OrderRecord.from_update(u, foreign=not self.ids.is_ours(u.client_order_id))
            if rec is None:
                raise ParseError(
                    f"update for unknown order {u.client_order_id} lacks side, type or quantity",
                    venue=u.venue, operation=u.source,
                )  # fmt: skip
            self._orders[rec.cid] = rec
            return self._accept(rec, u, u.status, first=True)
        filled = u.filled_quantity
        o_filled = rec.filled
        if filled != o_filled:
            cmp = 1 if filled > o_filled else -1
        elif u.ts_event != rec.ts:
            cmp = 1 if u.ts_event > rec.ts else -1
        elif u.source == rec.source and u.sequence != rec.seq:
            cmp = 1 if u.sequence > rec.seq else -1
        else:
            cmp = 0
        if cmp < 0:
            self.stats["stale"] += 1
            return []
        status, current = u.status, rec.status
        if current is S.PENDING_CANCEL and (status is S.NEW or status is S.PARTIALLY_FILLED):
            status = current  # the venue has not seen our cancel yet: it is still pending
        if status is current:
            if cmp == 0:
                self.stats["duplicate"] += 1
                return []
            return self._accept(rec, u, status)
        rule = _RULES.get((current._name_, status._name_))
        if cmp == 0 and (rule is None or current._name_ in _LOCAL):
            self.stats["duplicate"] += 1
            return []
        if rule is None or (rule is not Edge.ANY and filled <= o_filled):
            self._illegal(rec, status, u)
            return []
        return self._accept(rec, u, current if rule is Edge.KEEP_STATUS else status)

    def _accept(
        self, rec: OrderRecord, u: OrderUpdate, status: OrderStatus, first: bool = False
    ) -> list[AccountEvent]:
        old_status, old_filled = rec.status, rec.filled
        if u.filled_quantity > rec.upd_filled or rec.upd_quote is None:
            rec.upd_filled = u.filled_quantity
            rec.upd_quote = u.filled_quote
            rec.sync_filled()
        rec.ts, rec.source, rec.seq = u.ts_event, u.source, u.sequence
        if u.venue_order_id is not None and rec.venue_order_id is None:
            rec.venue_order_id = u.venue_order_id
            self._by_vid[u.venue_order_id] = rec.cid
        rec.status = status
        rec.misses = 0
        rec.reconcile = False
        rec.changed_ns = u.ts_recv
        events: list[AccountEvent] = []
        if old_status is S.IN_DOUBT and status is not S.IN_DOUBT:
            evidence = f"{status.value} from {u.source}"
            events.append(settled_event(rec, evidence, u.source, u.ts_recv))
        if first or status is not old_status or rec.filled > old_filled:
            events.append(order_event(rec, u.source, u.ts_event, u.ts_recv, u.reason))
        if self._parked and (first or rec.venue_order_id is not None):
            events += self._unpark(rec)
        self._append(rec.record())  # one record per input, parked fills included
        return events

    def _on_fill(self, fill: Fill) -> list[AccountEvent]:
        self._now_ns = fill.ts_recv
        key = (fill.venue, fill.symbol, fill.trade_id)
        if key in self._seen:
            self.stats["duplicate_fill"] += 1
            return []
        self._seen.add(key)
        rec = self._find(fill.client_order_id, fill.venue_order_id)
        if rec is None:
            self.park(fill)
            self._append(("F", fill, None))
            return []
        return self._count_fill(rec, fill)

    def park(self, fill: Fill) -> None:
        """Keep a fill whose order is unknown until the order appears."""
        self.stats["parked"] += 1
        where = fill.client_order_id or f"#{fill.venue_order_id}"
        self._parked.setdefault(where, {})[fill.venue, fill.symbol, fill.trade_id] = fill

    def _unpark(self, rec: OrderRecord) -> list[AccountEvent]:
        """Count the parked fills of ``rec``; the caller journals the order once after."""
        fills = dict(self._parked.pop(rec.cid, {}))
        if rec.venue_order_id is not None:
            fills.update(self._parked.pop(f"#{rec.venue_order_id}", {}))
        events: list[AccountEvent] = []
        for fill in fills.values():
            events += self._count_fill(rec, fill, journal=False)
        return events

    def _count_fill(self, rec: OrderRecord, fill: Fill, journal: bool = True) -> list[AccountEvent]:
        old_status, old_filled = rec.status, rec.filled
        rec.fill_qty += fill.quantity
        rec.sync_filled()
        rec.fill_quote += fill.price * fill.quantity
        if fill.fee and fill.fee_asset is not None:
            rec.fees[fill.fee_asset] = rec.fees.get(fill.fee_asset, _ZERO) + fill.fee
        rec.fill_keys.append(fill.trade_id)
        if fill.venue_order_id is not None and rec.venue_order_id is None:
            rec.venue_order_id = fill.venue_order_id
            self._by_vid[fill.venue_order_id] = rec.cid
        rec.changed_ns = fill.ts_recv
        rec.misses = 0
        events: list[AccountEvent] = []
        filled = rec.filled
        if filled > old_filled:
            if fill.ts_event > rec.ts:
                rec.ts = fill.ts_event
            target = S.FILLED if filled >= rec.quantity else S.PARTIALLY_FILLED
            if target is S.PARTIALLY_FILLED and old_status is S.PENDING_CANCEL:
                target = old_status
            if target is not old_status:
                rule = _RULES.get((old_status._name_, target._name_))
                if rule is None:
                    self._illegal(rec, target, fill)  # the trade still counts: it is money
                else:
                    rec.status = old_status if rule is Edge.KEEP_STATUS else target
            if old_status is S.IN_DOUBT and rec.status is not S.IN_DOUBT:
                evidence = f"fill {fill.trade_id}"
                events.append(settled_event(rec, evidence, "fill", fill.ts_recv))
            events.append(order_event(rec, "fill", fill.ts_event, fill.ts_recv))
        events.append(fill)
        if journal:
            self._append(rec.record())  # the trade id is in the order's record
        return events

    def _on_balance(self, update: BalanceUpdate) -> list[AccountEvent]:
        self._now_ns = update.ts_recv
        asset = self.balances.apply(update)
        if asset is None:
            self.stats["stale_balance"] += 1
            return []
        self._append(("B", update.asset, asset.state()))
        return [self._balance_event(update, asset)]

    def _balance_event(self, update: BalanceUpdate, asset: AssetBalance) -> BalanceChanged:
        return BalanceChanged(
            self.venue, update.asset, asset.free, asset.base_locked, update.source,
            update.ts_event, update.ts_recv,
        )  # fmt: skip

    def _local(
        self, rec: OrderRecord, target: OrderStatus, ts_recv: int, reason: str | None = None,
        source: str = "local",
    ) -> list[AccountEvent]:  # fmt: skip
        if _RULES.get((rec.status._name_, target._name_)) is None:
            self._illegal(rec, target, reason)
            return []
        old_status = rec.status
        rec.status = target
        rec.changed_ns = self._now_ns = ts_recv
        events: list[AccountEvent] = []
        if old_status is S.IN_DOUBT and source != "local":
            events.append(settled_event(rec, reason or "", source, ts_recv))
        if target is not S.IN_DOUBT:
            rec.doubt_op = None
        rec.misses = 0
        events.append(order_event(rec, source, 0, ts_recv, reason))
        self._append(rec.record())
        return events

    def _illegal(self, rec: OrderRecord, target: OrderStatus, evidence: object) -> None:
        exc = IllegalTransition(
            f"{rec.cid}: {rec.status.value} -> {target.value} refused; evidence {evidence!r}",
            venue=rec.venue,
        )
        self.errors.count(exc, "illegal transition", f"{rec.status.value}->{target.value}")

    # ---- journal --------------------------------------------------------------------------

    def compact(self, now_ns: int) -> int:
        """Forget terminal orders unchanged for ``compact_after_ns``; rewrite the journal."""
        horizon = now_ns - self.config.compact_after_ns
        gone = [
            cid
            for cid, rec in self._orders.items()
            if rec.status.is_terminal and rec.changed_ns < horizon
        ]
        for cid in gone:
            rec = self._orders.pop(cid)
            if rec.venue_order_id is not None:
                self._by_vid.pop(rec.venue_order_id, None)
            self._seen.difference_update((rec.venue, rec.symbol, t) for t in rec.fill_keys)
        self._journal.rewrite(self.journal_image())
        return len(gone)

    def close(self) -> None:
        """Close the journal."""
        self._journal.close()

    def __repr__(self) -> str:
        return f"StateManager({self.venue!r}, orders={len(self._orders)}, ids={self.ids!r})"
