"""Balances as the venue last said them, plus the deltas it reported after that.

Per asset: the newest absolute report (``free`` and ``locked`` at venue time ``ts``) is the
base; a signed delta (deposit, withdrawal, transfer) counts only when its venue time is after
the base (an older one is already inside it) and only once (keyed by asset, venue time and
amount, so the same delta from two sources counts once). A newer absolute report replaces the
base and drops the deltas it already includes; the later ones stay applied on top of it.
An absolute report older than the base is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from connectivity.core.models import Balance, BalanceUpdate
from connectivity.errors import ParseError

__all__ = ["AssetBalance", "Balances"]

_ZERO = Decimal(0)


class AssetBalance:
    """One asset: the base report and the deltas after it."""

    __slots__ = ("base_free", "base_locked", "base_ts", "deltas")

    def __init__(self, free: Decimal, locked: Decimal, ts: int) -> None:
        self.base_free = free
        self.base_locked = locked
        self.base_ts = ts
        self.deltas: dict[tuple[int, Decimal], Decimal] = {}  # (ts, amount) -> amount

    @property
    def free(self) -> Decimal:
        """Return the base's free amount plus the deltas after it."""
        return self.base_free + sum(self.deltas.values(), _ZERO)

    def state(self) -> tuple[Any, ...]:
        """Return a journal-ready copy (``Decimal`` values; strings after a JSON trip)."""
        return (self.base_free, self.base_locked, self.base_ts, tuple(self.deltas))

    @classmethod
    def from_state(cls, state: Sequence[Any]) -> AssetBalance:
        """Rebuild from :meth:`state`, as written or read back from JSON."""
        free, locked, ts, deltas = state
        balance = cls(Decimal(str(free)), Decimal(str(locked)), ts)
        for delta_ts, amount in deltas:
            balance.deltas[delta_ts, Decimal(str(amount))] = Decimal(str(amount))
        return balance


class Balances:
    """Every asset's balance, merged from snapshots, position reports and deltas."""

    def __init__(self) -> None:
        self.assets: dict[str, AssetBalance] = {}

    def apply(self, update: BalanceUpdate) -> AssetBalance | None:
        """Merge one report; return the asset's balance when it changed, else None."""
        asset = self.assets.get(update.asset)
        if update.delta is not None:
            if update.free is not None or update.locked is not None:
                raise ParseError(f"balance update for {update.asset} is both absolute and delta")
            if asset is None:
                asset = self.assets[update.asset] = AssetBalance(_ZERO, _ZERO, -1)
            key = (update.ts_event, update.delta)
            if update.ts_event <= asset.base_ts or key in asset.deltas:
                return None  # already inside the base, or the same delta from another source
            asset.deltas[key] = update.delta
            return asset
        if update.free is None:
            raise ParseError(f"balance update for {update.asset} has neither free nor delta")
        if asset is not None and update.ts_event <= asset.base_ts:
            return None
        locked = update.locked if update.locked is not None else _ZERO
        if asset is None:
            asset = self.assets[update.asset] = AssetBalance(update.free, locked, update.ts_event)
            return asset
        asset.base_free, asset.base_locked, asset.base_ts = update.free, locked, update.ts_event
        for key in [key for key in asset.deltas if key[0] <= update.ts_event]:
            del asset.deltas[key]
        return asset

    def balance(self, asset: str) -> Balance:
        """Return one asset's balance (zero when never reported)."""
        entry = self.assets.get(asset)
        if entry is None:
            return Balance(asset, _ZERO, _ZERO)
        return Balance(asset, entry.free, entry.base_locked)

    def all(self) -> dict[str, Balance]:
        """Return every reported asset's balance."""
        return {asset: self.balance(asset) for asset in self.assets}
