"""Template parsers (REQUIRED): pure functions from the wire to connectivity's neutral values.

Test each against recorded or documented payloads kept under
``tests/exchanges/<venue>/fixtures/`` (with a ``SOURCES.md``). Every malformed or unknown
message raises :class:`~connectivity.errors.ParseError` (``UnknownEnumValue`` for an unknown
type); the router counts it and the feed goes on. Optional: a one-pass hot path that decodes
depth rows straight into the book (see ``exchanges/binance/parsers.py:feed_frame``).
"""

from __future__ import annotations

from typing import Any

import orjson

from connectivity.connector.dialect import Ack, Refused, Shutdown
from connectivity.core.book import BookDelta, BookSnapshot, LevelDecoder
from connectivity.core.decimal import parse_fixed
from connectivity.core.events import PublicTrade, TopOfBook
from connectivity.core.models import Side
from connectivity.errors import ParseError, UnknownEnumValue
from exchanges._template.constants import MAINTENANCE_EVENT, PRICE_SCALE, QTY_SCALE, VENUE

__all__ = ["Message", "parse_message", "parse_snapshot"]

_MS = 1_000_000
_DECODER = LevelDecoder(PRICE_SCALE, QTY_SCALE)
_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}

Message = BookDelta | TopOfBook | PublicTrade | Ack | Refused | Shutdown


def _loads(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"malformed {VENUE} JSON: {exc}", venue=VENUE, payload=raw) from exc


def parse_message(raw: bytes | str, ts_recv: int) -> Message:
    """Parse one websocket frame into a neutral value."""
    msg = _loads(raw)
    try:
        channel = msg.get("ch")
        if channel is None:
            return _control(msg)
        kind, _, symbol = channel.partition(".")
        if kind == "book":
            first, last = msg["first"], msg["last"]
            if type(first) is not int or type(last) is not int or first > last:
                raise ParseError(f"bad {VENUE} update ids", venue=VENUE, payload=msg)
            return BookDelta(
                symbol,
                first,
                last,
                _DECODER.strict(msg["bids"]),
                _DECODER.strict(msg["asks"]),
                msg["ts"] * _MS,
                ts_recv,
            )
        if kind == "ticker":
            (bid_px, bid_qty), (ask_px, ask_qty) = msg["bid"], msg["ask"]
            return TopOfBook(
                VENUE,
                symbol,
                parse_fixed(bid_px, PRICE_SCALE),
                parse_fixed(bid_qty, QTY_SCALE),
                parse_fixed(ask_px, PRICE_SCALE),
                parse_fixed(ask_qty, QTY_SCALE),
                PRICE_SCALE,
                QTY_SCALE,
                msg["u"],
                msg["ts"] * _MS,
                ts_recv,
            )
        if kind == "trades":
            return PublicTrade(
                VENUE,
                symbol,
                msg["id"],
                parse_fixed(msg["px"], PRICE_SCALE),
                parse_fixed(msg["qty"], QTY_SCALE),
                PRICE_SCALE,
                QTY_SCALE,
                _SIDES[msg["side"]],
                msg["ts"] * _MS,
                ts_recv,
            )
    except ParseError:
        raise
    except _ERRORS as exc:
        raise ParseError(f"malformed {VENUE} message: {exc!r}", venue=VENUE, payload=msg) from exc
    raise UnknownEnumValue(f"unknown {VENUE} channel {channel!r}", venue=VENUE, payload=msg)


def _control(msg: Any) -> Ack | Refused | Shutdown:
    if "ok" in msg:
        return Ack(msg["id"])
    if "error" in msg:
        return Refused(msg.get("id"), msg["error"]["code"], msg["error"]["msg"])
    if msg.get("event") == MAINTENANCE_EVENT:
        return Shutdown(msg["ts"] * _MS)
    raise UnknownEnumValue(f"unknown {VENUE} message", venue=VENUE, payload=msg)


def parse_snapshot(raw: bytes | str | dict[str, Any], symbol: str, ts_recv: int) -> BookSnapshot:
    """Parse a REST book snapshot of ``symbol``."""
    data = raw if isinstance(raw, dict) else _loads(raw)
    try:
        bids = _DECODER.strict(data["bids"])
        return BookSnapshot(symbol, data["last"], bids, _DECODER.strict(data["asks"]), 0, ts_recv)
    except ParseError:
        raise
    except _ERRORS as exc:
        raise ParseError(f"malformed {VENUE} snapshot: {exc!r}", venue=VENUE) from exc
