"""What a venue's account API offers the state manager, whatever the transport.

REST, WS-API and FIX implementations of a venue provide :class:`AccountSource`; the
reconcile loop (:mod:`connectivity.connector.reconciler`) needs nothing else. Every method
returns the same venue-neutral values the user stream produces, so one set of merge rules
applies to all of them. A method raises the library's errors (``TransportError``,
``RateLimited``, ...) when it gets no definite answer.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from connectivity.core.models import BalanceUpdate, Fill, OrderUpdate

__all__ = ["AccountSource"]


@runtime_checkable
class AccountSource(Protocol):
    """Account snapshots by request: open orders, one order, recent fills, balances."""

    def open_orders(self) -> list[OrderUpdate]:
        """Return every order open at the venue (ours and foreign)."""

    def order(self, client_order_id: str, symbol: str) -> OrderUpdate | None:
        """Return one order by client order id, or None when the venue says it is unknown."""

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """Return the account's fills with venue time at or after ``ts_ns``."""

    def balances(self) -> list[BalanceUpdate]:
        """Return every asset's absolute balance (``free`` and ``locked``)."""
