"""The state manager's mutable record of one order, and its journal form.

Private to :mod:`connectivity.core.state` (a mutable slots object is what keeps ``apply`` in
the microseconds); the public view is the frozen :class:`~connectivity.core.models.Order`.
"""

from __future__ import annotations

from decimal import Decimal

from connectivity.core.journal import Record
from connectivity.core.models import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
)

__all__ = ["OrderRecord"]

_ZERO = Decimal(0)


class OrderRecord:
    """One order as merged so far: identity, status, evidence version, fills and doubt."""

    __slots__ = (  # noqa: RUF023 - grouped by meaning
        "cid", "venue", "symbol", "side", "order_type", "tif", "quantity", "price",
        "status", "upd_filled", "upd_quote", "fill_qty", "fill_quote", "fees", "venue_order_id",
        "ts", "source", "seq", "foreign", "doubt_op", "misses", "first_miss_ns", "reconcile",
        "changed_ns", "fill_keys", "filled",
    )  # fmt: skip

    def __init__(
        self, cid: str, venue: str, symbol: str, side: Side, order_type: OrderType,
        quantity: Decimal, price: Decimal | None, tif: TimeInForce | None, foreign: bool,
    ) -> None:  # fmt: skip
        self.cid = cid
        self.venue = venue
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.quantity = quantity
        self.price = price
        self.tif = tif
        self.foreign = foreign
        self.status = OrderStatus.PENDING_NEW
        self.upd_filled = _ZERO  # cumulative quantity the order updates reported
        self.upd_quote: Decimal | None = None  # their cumulative quote, where given
        self.fill_qty = _ZERO  # sum of the fills counted
        self.fill_quote = _ZERO
        self.filled = _ZERO  # the larger of the two: kept by sync_filled() (hot-path reads)
        self.fees: dict[str, Decimal] = {}
        self.venue_order_id: str | None = None
        # Version of the newest venue evidence merged in (see the state module docstring);
        # -1 so that any venue evidence, even one without a venue time, is newer.
        self.ts = -1
        self.source = ""
        self.seq = 0
        self.doubt_op: str | None = None
        self.misses = 0  # consecutive "unknown order" answers while the submit is in doubt
        self.first_miss_ns = 0
        self.reconcile = False  # rebuilt from the journal: ask the venue before trusting it
        self.changed_ns = 0  # our receive time of the last accepted change (compaction)
        self.fill_keys: list[str] = []

    @classmethod
    def from_request(cls, venue: str, request: OrderRequest) -> OrderRecord:
        """Build the record of an order we are about to send."""
        return cls(
            request.client_order_id, venue, request.symbol, request.side, request.order_type,
            request.quantity, request.price, request.time_in_force, False,
        )  # fmt: skip

    @classmethod
    def from_update(cls, update: OrderUpdate, foreign: bool) -> OrderRecord | None:
        """Build the record of an order first seen in venue evidence (None without details)."""
        if update.side is None or update.quantity is None or update.order_type is None:
            return None  # never guessed: the caller reports the update as unusable
        return cls(
            update.client_order_id, update.venue, update.symbol, update.side,
            update.order_type, update.quantity, update.price, None, foreign,
        )  # fmt: skip

    def sync_filled(self) -> Decimal:
        """Recompute and return the cumulative filled quantity: the larger of updates and fills."""
        self.filled = self.upd_filled if self.upd_filled >= self.fill_qty else self.fill_qty
        return self.filled

    def average_price(self) -> Decimal | None:
        """Return the volume-weighted fill price, from whichever evidence covers more."""
        if self.upd_quote is not None and self.upd_filled >= self.fill_qty and self.upd_filled:
            return self.upd_quote / self.upd_filled
        return self.fill_quote / self.fill_qty if self.fill_qty else None

    def leaves(self) -> Decimal:
        """Return what still works (0 once terminal)."""
        if self.status.is_terminal:
            return _ZERO
        rest = self.quantity - self.filled
        return rest if rest > 0 else _ZERO

    def view(self) -> Order:
        """Return the frozen public view."""
        average = self.average_price()
        filled = self.filled
        return Order(
            venue=self.venue, symbol=self.symbol, client_order_id=self.cid, side=self.side,
            order_type=self.order_type, status=self.status, quantity=self.quantity,
            filled_quantity=filled, price=self.price, venue_order_id=self.venue_order_id,
            filled_quote=average * filled if average is not None else _ZERO,
            time_in_force=self.tif, ts_update=max(self.ts, 0),
            fees=tuple(sorted(self.fees.items())), foreign=self.foreign,
        )  # fmt: skip

    def record(self) -> Record:
        """Return the journal record of the whole current state."""
        # Enum values, not members: a tuple of atomic values leaves the GC's tracking.
        tif = self.tif
        return (
            "O", self.cid, self.venue, self.symbol, self.side._value_, self.order_type._value_,
            tif._value_ if tif is not None else None, self.quantity, self.price,
            self.status._value_, self.upd_filled, self.upd_quote,
            self.fill_qty, self.fill_quote, tuple(self.fees.items()), self.venue_order_id,
            self.ts, self.source, self.seq, self.foreign, self.doubt_op, self.misses,
            self.first_miss_ns, self.changed_ns, tuple(self.fill_keys),
        )  # fmt: skip

    @classmethod
    def from_record(cls, r: Record) -> OrderRecord:
        """Rebuild from :meth:`record` (values may come back as JSON strings)."""
        rec = cls(
            r[1], r[2], r[3], Side(r[4]), OrderType(r[5]), _dec(r[7]),
            _opt_dec(r[8]), TimeInForce(r[6]) if r[6] is not None else None, bool(r[19]),
        )  # fmt: skip
        rec.status = OrderStatus(r[9])
        rec.upd_filled, rec.upd_quote = _dec(r[10]), _opt_dec(r[11])
        rec.fill_qty, rec.fill_quote = _dec(r[12]), _dec(r[13])
        rec.fees = {asset: _dec(fee) for asset, fee in r[14]}
        rec.venue_order_id, rec.ts, rec.source, rec.seq = r[15], r[16], r[17], r[18]
        rec.doubt_op, rec.misses, rec.first_miss_ns, rec.changed_ns = r[20], r[21], r[22], r[23]
        rec.fill_keys = list(r[24])
        rec.sync_filled()
        return rec

    def __repr__(self) -> str:
        return (
            f"OrderRecord({self.cid!r}, {self.status.value}, filled={self.filled}, "
            f"qty={self.quantity}, foreign={self.foreign})"
        )


def _dec(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _opt_dec(value: object) -> Decimal | None:
    return None if value is None else _dec(value)
