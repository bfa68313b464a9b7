"""Balances of the simulated venue: free and locked funds per account and asset, and fees.

Every amount is a fixed-point int at the engine's scale. Funds only move between accounts or
into the fee pool, so the sum of an asset over all accounts plus the fees collected changes
only through :meth:`Ledger.deposit`. The market generator's ``house`` account is never
checked and never locks: its balances are signed and may go negative (it is the rest of the
world), but they are still counted, so the sum stays exact.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal

import attrs

__all__ = ["Account", "FeeAsset", "FeeSchedule", "Ledger"]


class FeeAsset(enum.Enum):
    """Which asset a commission is charged in."""

    RECEIVED = "RECEIVED"  # the asset the fill pays the account (Binance's default)
    QUOTE = "QUOTE"  # always the quote asset (a buyer pays it on top, from its locked funds)


def _rate(_: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if not Decimal(0) <= value < Decimal(1):
        raise ValueError(f"{attribute.name} must be within [0, 1), got {value}")


@attrs.frozen
class FeeSchedule:
    """Commission rates of one account (0 by default)."""

    maker: Decimal = attrs.field(default=Decimal(0), validator=_rate)
    taker: Decimal = attrs.field(default=Decimal(0), validator=_rate)
    asset: FeeAsset = FeeAsset.RECEIVED

    def fee(self, amount: int, is_maker: bool) -> int:
        """Return the commission on ``amount``, rounded down (exact integer arithmetic)."""
        numerator, denominator = (self.maker if is_maker else self.taker).as_integer_ratio()
        return amount * numerator // denominator

    def max_fee(self, amount: int) -> int:
        """Return the largest commission ``amount`` can cost, whichever role the order plays."""
        return max(self.fee(amount, True), self.fee(amount, False))


@attrs.define(eq=False)
class Account:
    """One account: free and locked funds per asset."""

    name: str
    fees: FeeSchedule = attrs.field(factory=FeeSchedule)
    house: bool = False
    free: dict[str, int] = attrs.field(factory=dict)
    locked: dict[str, int] = attrs.field(factory=dict)
    changed: set[str] = attrs.field(factory=set)  # assets touched since the last balance event


class Ledger:
    """Every account and the fee pool; all moves of funds go through here."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.fees_collected: dict[str, int] = {}

    def open(
        self,
        name: str,
        balances: Mapping[str, int] = {},
        *,
        fees: FeeSchedule | None = None,
        house: bool = False,
    ) -> Account:
        """Create an account holding ``balances`` (free); raise if the name is taken."""
        if name in self.accounts:
            raise ValueError(f"account {name!r} exists")
        if any(amount < 0 for amount in balances.values()):
            raise ValueError("opening balances must be >= 0")
        account = Account(name, fees or FeeSchedule(), house, dict(balances))
        self.accounts[name] = account
        return account

    def deposit(self, account: Account, asset: str, amount: int) -> None:
        """Add (or, negative, withdraw) free funds from outside the venue."""
        if not account.house and account.free.get(asset, 0) + amount < 0:
            raise ValueError(f"{account.name}: cannot withdraw more {asset} than is free")
        self._add(account.free, asset, amount)
        account.changed.add(asset)

    def lock(self, account: Account, asset: str, amount: int) -> bool:
        """Move ``amount`` from free to locked; False (nothing moved) if it is not free."""
        if account.house or amount == 0:
            return True
        if account.free.get(asset, 0) < amount:
            return False
        self._add(account.free, asset, -amount)
        self._add(account.locked, asset, amount)
        account.changed.add(asset)
        return True

    def release(self, account: Account, asset: str, amount: int) -> None:
        """Move ``amount`` back from locked to free (an order ended with funds unused)."""
        if account.house or amount == 0:
            return
        self._add(account.locked, asset, -amount)
        self._add(account.free, asset, amount)
        account.changed.add(asset)

    def pay(self, account: Account, asset: str, amount: int) -> None:
        """Take ``amount`` out of the account's locked funds (a fill spends them)."""
        side = account.free if account.house else account.locked
        self._add(side, asset, -amount)
        account.changed.add(asset)

    def receive(self, account: Account, asset: str, amount: int, fee: int) -> None:
        """Credit ``amount - fee`` free; the fee goes to the pool."""
        self._add(account.free, asset, amount - fee)
        if fee:
            self._add(self.fees_collected, asset, fee)
        account.changed.add(asset)

    def charge(self, account: Account, asset: str, fee: int) -> None:
        """Take a commission out of the account's locked funds into the pool."""
        if fee:
            self.pay(account, asset, fee)
            self._add(self.fees_collected, asset, fee)

    def total(self, asset: str) -> int:
        """Return the asset over every account (free + locked) plus the fees collected."""
        held = sum(a.free.get(asset, 0) + a.locked.get(asset, 0) for a in self.accounts.values())
        return held + self.fees_collected.get(asset, 0)

    @staticmethod
    def _add(book: dict[str, int], asset: str, amount: int) -> None:
        book[asset] = book.get(asset, 0) + amount
