"""Binance ``exchangeInfo`` -> :class:`Instrument`, and symbol mapping both ways.

Our canonical spelling is ``BASE-QUOTE`` (``"BTC-USDT"``); Binance's REST spelling is
``"BTCUSDT"`` and its stream spelling ``"btcusdt"``. Going from Binance's spelling back to
ours needs the base/quote split, which only ``exchangeInfo`` knows, so :class:`SymbolMap` is
built from the parsed instruments. Filters (``specs/binance.md`` 2.4): tick size and price
bounds from ``PRICE_FILTER``, step/min/max quantity from ``LOT_SIZE`` and ``MARKET_LOT_SIZE``,
min (and max) notional with their MARKET flags from ``NOTIONAL`` or, on older symbols,
``MIN_NOTIONAL``, and ``MAX_NUM_ORDERS``; :mod:`connectivity.core.filters` checks orders
against them. A bound of 0 disables it (``None`` here).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from connectivity.core.decimal import parse_decimal, scale_of
from connectivity.core.models import Instrument
from connectivity.errors import ConfigError, ParseError, UnknownEnumValue
from exchanges.binance.constants import PRICE_SCALE, QTY_SCALE, SYMBOL_STATUSES, VENUE
from exchanges.binance.parsers import loads

__all__ = [
    "SymbolMap",
    "parse_exchange_info",
    "parse_instrument",
    "to_stream_symbol",
    "to_venue_symbol",
]


def to_venue_symbol(symbol: str) -> str:
    """Return Binance's REST spelling of a canonical symbol: ``"BTC-USDT"`` -> ``"BTCUSDT"``."""
    base, sep, quote = symbol.partition("-")
    if not sep or not base or not quote or "-" in quote:
        raise ConfigError(f"expected a BASE-QUOTE symbol, got {symbol!r}")
    return (base + quote).upper()


def to_stream_symbol(symbol: str) -> str:
    """Return Binance's stream spelling of a canonical symbol: ``"BTC-USDT"`` -> ``"btcusdt"``."""
    return to_venue_symbol(symbol).lower()


def _decimal(value: Any, what: str, payload: Any) -> Decimal:
    if not isinstance(value, str):
        raise ParseError(f"Binance {what} is not a decimal string", venue=VENUE, payload=payload)
    return parse_decimal(value)


def _positive_or_none(value: Decimal) -> Decimal | None:
    return value if value > 0 else None  # Binance disables a limit by setting it to 0


def parse_instrument(data: dict[str, Any]) -> Instrument:
    """Parse one ``symbols[]`` entry of ``exchangeInfo`` into an :class:`Instrument`."""
    try:
        venue_symbol = data["symbol"]
        base = data["baseAsset"]
        quote = data["quoteAsset"]
        status = data["status"]
        filters = {f["filterType"]: f for f in data["filters"]}
    except (KeyError, TypeError) as exc:
        raise ParseError(
            f"malformed exchangeInfo symbol: {exc!r}", venue=VENUE, payload=data
        ) from exc
    if status not in SYMBOL_STATUSES:
        raise UnknownEnumValue(f"unknown symbol status {status!r}", venue=VENUE, payload=data)
    price_filter = filters.get("PRICE_FILTER")
    lot = filters.get("LOT_SIZE")
    if price_filter is None or lot is None:
        raise ParseError(
            f"{venue_symbol}: PRICE_FILTER and LOT_SIZE are required", venue=VENUE, payload=data
        )
    try:
        return Instrument(
            venue=VENUE,
            symbol=f"{base}-{quote}",
            venue_symbol=venue_symbol,
            base=base,
            quote=quote,
            tick_size=_decimal(price_filter["tickSize"], "tickSize", data),
            step_size=_decimal(lot["stepSize"], "stepSize", data),
            min_qty=_decimal(lot["minQty"], "minQty", data),
            max_qty=_positive_or_none(_decimal(lot["maxQty"], "maxQty", data)),
            # Depth strings always carry 8 decimals; keep the fast exact parse path.
            price_scale=max(PRICE_SCALE, scale_of(price_filter["tickSize"])),
            qty_scale=max(QTY_SCALE, scale_of(lot["stepSize"])),
            status=status,
            min_price=_decimal(price_filter["minPrice"], "minPrice", data),
            max_price=_positive_or_none(_decimal(price_filter["maxPrice"], "maxPrice", data)),
            **_market_lot(filters.get("MARKET_LOT_SIZE"), data),
            **_notional(filters, data),
            max_num_orders=_optional_int(filters.get("MAX_NUM_ORDERS"), "maxNumOrders", data),
        )
    except KeyError as exc:
        raise ParseError(
            f"{venue_symbol}: missing filter field {exc}", venue=VENUE, payload=data
        ) from exc
    except ParseError:
        raise
    except ValueError as exc:  # the model refused a value (a negative bound)
        raise ParseError(f"{venue_symbol}: {exc}", venue=VENUE, payload=data) from exc


def _market_lot(market_lot: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    if market_lot is None:
        return {}
    return {
        "market_step_size": _decimal(market_lot["stepSize"], "stepSize", data),
        "market_min_qty": _decimal(market_lot["minQty"], "minQty", data),
        "market_max_qty": _positive_or_none(_decimal(market_lot["maxQty"], "maxQty", data)),
    }


def _notional(filters: dict[str, dict[str, Any]], data: Any) -> dict[str, Any]:
    """Read ``NOTIONAL`` (min and max, each with its MARKET flag) or the older ``MIN_NOTIONAL``."""
    new = filters.get("NOTIONAL")
    if new is not None:
        max_raw = new.get("maxNotional")
        return {
            "min_notional": _decimal(new["minNotional"], "minNotional", data),
            "min_notional_market": _flag(new, "applyMinToMarket", data),
            "max_notional": None
            if max_raw is None
            else _positive_or_none(_decimal(max_raw, "maxNotional", data)),
            "max_notional_market": _flag(new, "applyMaxToMarket", data),
            "avg_price_mins": _optional_int(new, "avgPriceMins", data),
        }
    old = filters.get("MIN_NOTIONAL")
    if old is None:
        return {}
    return {
        "min_notional": _decimal(old["minNotional"], "minNotional", data),
        "min_notional_market": _flag(old, "applyToMarket", data),
        "avg_price_mins": _optional_int(old, "avgPriceMins", data),
    }


def _flag(entry: dict[str, Any], name: str, data: Any) -> bool:
    value = entry.get(name, True)  # absent: the venue applies the bound to every order type
    if not isinstance(value, bool):
        raise ParseError(f"Binance {name} is not a boolean", venue=VENUE, payload=data)
    return value


def _optional_int(entry: dict[str, Any] | None, name: str, data: Any) -> int | None:
    value = None if entry is None else entry.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ParseError(f"Binance {name} is not a non-negative integer", venue=VENUE, payload=data)
    return value


def parse_exchange_info(
    raw: bytes | str | dict[str, Any],
) -> tuple[list[Instrument], list[ParseError]]:
    """Parse ``GET /api/v3/exchangeInfo``: the instruments, and one error per bad symbol.

    A symbol the parser cannot read (new status, missing filter) is reported, not fatal:
    the other symbols stay usable.
    """
    data = raw if isinstance(raw, dict) else loads(raw)
    try:
        entries = data["symbols"]
        iter(entries)
    except (KeyError, TypeError) as exc:
        raise ParseError("exchangeInfo without symbols[]", venue=VENUE, payload=data) from exc
    instruments: list[Instrument] = []
    errors: list[ParseError] = []
    for entry in entries:
        try:
            instruments.append(parse_instrument(entry))
        except ParseError as exc:
            errors.append(exc)
    return instruments, errors


class SymbolMap:
    """Canonical <-> Binance symbol mapping built from parsed instruments."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        self._by_venue: dict[str, Instrument] = {}
        for instrument in instruments:
            self._by_symbol[instrument.symbol] = instrument
            self._by_venue[instrument.venue_symbol] = instrument

    def instrument(self, symbol: str) -> Instrument:
        """Return the instrument of a canonical symbol (ConfigError if unknown)."""
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise ConfigError(f"unknown Binance symbol {symbol!r}", venue=VENUE) from None

    def to_venue(self, symbol: str) -> str:
        """Return ``"BTCUSDT"`` for ``"BTC-USDT"``."""
        return self.instrument(symbol).venue_symbol

    def to_stream(self, symbol: str) -> str:
        """Return ``"btcusdt"`` for ``"BTC-USDT"``."""
        return self.instrument(symbol).venue_symbol.lower()

    def from_venue(self, venue_symbol: str) -> str:
        """Return ``"BTC-USDT"`` for ``"BTCUSDT"`` or ``"btcusdt"``; UnknownEnumValue if unknown."""
        instrument = self._by_venue.get(venue_symbol) or self._by_venue.get(venue_symbol.upper())
        if instrument is None:
            raise UnknownEnumValue(f"unknown Binance symbol {venue_symbol!r}", venue=VENUE)
        return instrument.symbol

    def venue_instrument(self, venue_symbol: str) -> Instrument:
        """Return the instrument of a Binance spelling (``"BTCUSDT"`` or ``"btcusdt"``)."""
        return self.instrument(self.from_venue(venue_symbol))

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __len__(self) -> int:
        return len(self._by_symbol)

    def symbols(self) -> list[str]:
        """Return every canonical symbol."""
        return list(self._by_symbol)
