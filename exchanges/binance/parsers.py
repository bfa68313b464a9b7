"""Pure parsers for Binance Spot market data: venue payload (+ receive time) in, value out.

Every function raises :class:`~connectivity.errors.ParseError` (or its leaf
:class:`~connectivity.errors.UnknownEnumValue`) on a malformed or unknown message; the caller
counts it and the feed goes on. Prices and quantities become fixed-point ints at
:data:`~exchanges.binance.constants.PRICE_SCALE` / ``QTY_SCALE`` straight from the venue's
strings (no float, no Decimal). Timestamps become int nanoseconds (``ts_factor`` converts the
venue unit: milliseconds by default, ``TIME_UNIT_NS["MICROSECOND"]`` with ``timeUnit``).

Entry points for websocket frames (raw or combined stream): :func:`parse_frame` returns a
typed value for any message; :func:`feed_frame` is the market-data hot path: a depth diff
goes straight into a ``BookSync`` (decoded and applied in one pass when the frame is clean)
and every other message is returned parsed. Shapes are those of ``specs/binance.md``
section 3 and the fixtures under ``tests/exchanges/binance/fixtures``.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, NamedTuple

import orjson
from orjson import loads as _orjson_loads

from connectivity.connector.dialect import BookFed
from connectivity.core.book import BookDelta, BookSnapshot, LevelDecoder
from connectivity.core.book_sync import BookSync
from connectivity.core.models import Side
from connectivity.errors import ParseError, UnknownEnumValue
from exchanges.binance.constants import (
    PRICE_SCALE,
    QTY_SCALE,
    SERVER_SHUTDOWN_EVENT,
    SNAPSHOT_MAX_LEVELS,
    VENUE,
)

__all__ = [
    "DECODER",
    "BookTicker",
    "DepthFed",
    "PublicTrade",
    "ServerShutdown",
    "WsError",
    "WsResponse",
    "Parsed",
    "clean_frame",
    "loads",
    "parse_book_ticker",
    "parse_data",
    "parse_depth_snapshot",
    "parse_depth_update",
    "parse_frame",
    "parse_partial_depth",
    "parse_server_shutdown",
    "parse_trade",
    "parse_ws_response",
    "feed_frame",
    "price",
    "qty",
]

_MS = 1_000_000

DECODER = LevelDecoder(PRICE_SCALE, QTY_SCALE)
"""Shared exact decoder of Binance ``[price, qty]`` rows (its price memo is shared too)."""
_PRICES = DECODER.prices
_QTYS = DECODER.quantities
price = _PRICES.__getitem__
"""Exact Binance price string -> int at PRICE_SCALE (memoised: prices repeat)."""
qty = _QTYS.__getitem__
"""Exact Binance quantity string -> int at QTY_SCALE."""

# Characters int() tolerates that a strict decimal parse refuses and that a valid JSON string
# may hold raw (whitespace other than the space must be escaped there); a frame free of them
# (and of backslash escapes, and ASCII-only) lets quantities take the one-C-call path below.
_LENIENT = b"_+- \\"
_QTY_DOT = slice(-QTY_SCALE - 1, -QTY_SCALE)  # where the '.' sits in "123.45678901"

_new_tuple = tuple.__new__
_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class BookTicker(NamedTuple):
    """Best bid/ask from ``<symbol>@bookTicker`` (no event time: the venue sends none)."""

    symbol: str
    update_id: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int
    ts_recv: int


class PublicTrade(NamedTuple):
    """A trade print from ``@trade`` or ``@aggTrade`` (``aggregate`` tells which)."""

    symbol: str
    trade_id: int  # ``t``, or the aggregate id ``a``
    price: int
    qty: int
    aggressor: Side  # the taker's side: SELL when the buyer is the maker
    ts_trade: int  # venue trade time, ns
    ts_event: int
    ts_recv: int
    aggregate: bool = False
    first_trade_id: int | None = None  # aggTrade only
    last_trade_id: int | None = None


DepthFed = BookFed
"""What :func:`feed_frame` did with a depth diff: fed it to the sync (the dialect's BookFed)."""


class ServerShutdown(NamedTuple):
    """The venue is about to close the connection: reconnect now (then resync)."""

    ts_event: int
    ts_recv: int


class WsResponse(NamedTuple):
    """Answer to a SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / property request."""

    id: int | str | None
    result: Any  # None for (un)subscribe acks, a list for LIST_SUBSCRIPTIONS


class WsError(NamedTuple):
    """An error answer to a control request (``{"code": .., "msg": .., "id": ..}``)."""

    id: int | str | None
    code: int
    msg: str


def _bad(what: str, payload: Any, cause: BaseException | None = None) -> ParseError:
    detail = f"{what}: {cause!r}" if cause is not None else what
    return ParseError(f"malformed Binance {detail}", venue=VENUE, payload=payload)


def loads(raw: bytes | bytearray | memoryview | str) -> Any:
    """Decode one JSON document (orjson also validates UTF-8); raise ParseError if invalid."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad("JSON", raw, exc) from exc


def _int(value: Any, what: str, payload: Any) -> int:
    # bool is an int subclass; an id or a time is never a bool.
    if type(value) is not int:
        raise _bad(f"{what} is not an integer", payload)
    return value


_levels = DECODER.strict


def clean_frame(raw: bytes | bytearray, combined: bool = False) -> bool:
    """Return True when ``raw`` may use the fast quantity path (see :func:`parse_depth_update`).

    ``raw`` must be a frame orjson accepted: JSON strings cannot hold raw control characters,
    so a tab or a newline can only sit between tokens, where ``int()`` never sees it.
    ``combined``: ``raw`` is a combined-stream envelope, whose ``data`` object is the one
    ``{`` allowed after the first byte. Any other object (a row such as ``{"1.0":..,"2.0":..}``
    would unpack like ``[price, qty]``) sends the frame down the strict path, which refuses it.
    """
    # ASCII and no byte of _LENIENT (_ + - space backslash): one memchr per byte value with
    # int needles, several times cheaper than translate() or bytes needles on a ~500-byte
    # frame (this runs for every depth frame). Then where the '{' (123) are: memchr/memrchr
    # again, cheaper than bytes.count.
    return (
        raw.isascii()
        and not (95 in raw or 43 in raw or 45 in raw or 32 in raw or 92 in raw)
        and (raw.find(123, 1) == raw.rfind(123) if combined else raw.rfind(123) == 0)
    )


def parse_depth_update(
    data: dict[str, Any], ts_recv: int, ts_factor: int = _MS, clean: bool = False
) -> BookDelta:
    """Parse a ``depthUpdate`` event (``<symbol>@depth[@100ms]``) into a :class:`BookDelta`.

    ``clean=True`` (set by :func:`parse_frame` after :func:`clean_frame` on the raw bytes)
    converts quantities with one ``int()`` each; the result is identical to the strict path.
    """
    try:
        first = data["U"]
        last = data["u"]
        symbol = data["s"]
        event_time = data["E"]
        if (
            type(first) is not int
            or type(last) is not int
            or first > last
            or type(symbol) is not str
            or type(event_time) is not int
        ):
            raise _bad("depthUpdate header (s, E, U, u)", data)
        if clean:
            # Inlined _fast_levels (this runs for every depth frame).
            prices = _PRICES
            dot = _QTY_DOT
            rows = data["b"]
            bids = [(prices[p], int(q.replace(".", "", 1))) for p, q in rows if q[dot] == "."]
            if len(bids) != len(rows):
                bids = _levels(rows)
            rows = data["a"]
            asks = [(prices[p], int(q.replace(".", "", 1))) for p, q in rows if q[dot] == "."]
            if len(asks) != len(rows):
                asks = _levels(rows)
        else:
            bids = _levels(data["b"])
            asks = _levels(data["a"])
        # tuple.__new__ skips NamedTuple's Python-level __new__ on this hot path.
        return _new_tuple(
            BookDelta, (symbol, first, last, bids, asks, event_time * ts_factor, ts_recv, None)
        )
    except ParseError:
        raise
    except _ERRORS as exc:
        raise _bad("depthUpdate", data, exc) from exc


def parse_depth_snapshot(
    raw: bytes | str | dict[str, Any],
    symbol: str,
    ts_recv: int,
    ts_factor: int = _MS,
    max_levels: int = SNAPSHOT_MAX_LEVELS,
) -> BookSnapshot:
    """Parse a ``GET /api/v3/depth`` body (or a partial-depth event) for ``symbol``.

    A side with more than ``max_levels`` rows is refused (ParseError) before any is decoded.
    """
    data = loads(raw) if not isinstance(raw, dict) else raw
    try:
        last_id = _int(data["lastUpdateId"], "lastUpdateId", data)
        event_time = data.get("E")
        ts_event = _int(event_time, "E", data) * ts_factor if event_time is not None else 0
        bids = data["bids"]
        asks = data["asks"]
        if len(bids) > max_levels or len(asks) > max_levels:
            raise ParseError(
                f"depth snapshot of {symbol} has {len(bids)} bids and {len(asks)} asks, "
                f"above the cap of {max_levels} a side",
                venue=VENUE,
            )
        return BookSnapshot(symbol, last_id, _levels(bids), _levels(asks), ts_event, ts_recv)
    except ParseError:
        raise
    except _ERRORS as exc:
        raise _bad("depth snapshot", data, exc) from exc


def parse_partial_depth(data: dict[str, Any], stream: str, ts_recv: int) -> BookSnapshot:
    """Parse a ``<symbol>@depth<N>[@100ms]`` event; its symbol comes from the stream name."""
    symbol = stream.partition("@")[0].upper()
    if not symbol:
        raise _bad("partial depth stream name", stream)
    return parse_depth_snapshot(data, symbol, ts_recv)


def parse_book_ticker(data: dict[str, Any], ts_recv: int) -> BookTicker:
    """Parse a ``<symbol>@bookTicker`` event."""
    try:
        return BookTicker(
            data["s"],
            _int(data["u"], "u", data),
            price(data["b"]),
            qty(data["B"]),
            price(data["a"]),
            qty(data["A"]),
            ts_recv,
        )
    except ParseError:
        raise
    except _ERRORS as exc:
        raise _bad("bookTicker", data, exc) from exc


def parse_trade(data: dict[str, Any], ts_recv: int, ts_factor: int = _MS) -> PublicTrade:
    """Parse a ``trade`` or ``aggTrade`` event."""
    try:
        kind = data["e"]
        maker = data["m"]
        if type(maker) is not bool:
            raise _bad("trade flag m", data)
        aggregate = kind == "aggTrade"
        if not aggregate and kind != "trade":
            raise UnknownEnumValue(f"unknown trade event {kind!r}", venue=VENUE, payload=data)
        return PublicTrade(
            data["s"],
            _int(data["a" if aggregate else "t"], "trade id", data),
            price(data["p"]),
            qty(data["q"]),
            Side.SELL if maker else Side.BUY,
            _int(data["T"], "T", data) * ts_factor,
            _int(data["E"], "E", data) * ts_factor,
            ts_recv,
            aggregate,
            _int(data["f"], "f", data) if aggregate else None,
            _int(data["l"], "l", data) if aggregate else None,
        )
    except ParseError:
        raise
    except _ERRORS as exc:
        raise _bad("trade", data, exc) from exc


def parse_server_shutdown(
    data: dict[str, Any], ts_recv: int, ts_factor: int = _MS
) -> ServerShutdown:
    """Parse a ``serverShutdown`` event."""
    try:
        return ServerShutdown(_int(data["E"], "E", data) * ts_factor, ts_recv)
    except ParseError:
        raise
    except _ERRORS as exc:
        raise _bad(SERVER_SHUTDOWN_EVENT, data, exc) from exc


def _request_id(value: Any, payload: Any) -> int | str | None:
    if value is None or type(value) is int or type(value) is str:
        return value
    raise _bad("request id", payload)


def parse_ws_response(data: dict[str, Any]) -> WsResponse | WsError:
    """Parse an answer to a control request: a result, or an error with code and msg."""
    try:
        if "result" in data:
            return WsResponse(_request_id(data.get("id"), data), data["result"])
        error = data.get("error", data)  # documented flat {"code","msg"}; WS-API nests it
        code = error["code"]
        msg = error["msg"]
        if type(code) is not int or type(msg) is not str:
            raise _bad("error code/msg", data)
        return WsError(_request_id(data.get("id"), data), code, msg)
    except ParseError:
        raise
    except _ERRORS as exc:
        raise _bad("control response", data, exc) from exc


Parsed = BookDelta | BookSnapshot | BookTicker | PublicTrade | ServerShutdown | WsResponse | WsError


def parse_data(
    data: Any,
    ts_recv: int,
    stream: str | None = None,
    ts_factor: int = _MS,
    clean: bool = False,
) -> Parsed:
    """Parse one event payload (the ``data`` of a combined-stream envelope, or a raw frame)."""
    if type(data) is not dict:
        raise _bad("event (not an object)", data)
    kind = data.get("e")
    if kind == "depthUpdate":
        return parse_depth_update(data, ts_recv, ts_factor, clean)
    if kind is None:
        if "result" in data or "code" in data or "error" in data:
            return parse_ws_response(data)
        if "B" in data and "A" in data and "u" in data:
            return parse_book_ticker(data, ts_recv)
        if "lastUpdateId" in data and stream is not None:
            return parse_partial_depth(data, stream, ts_recv)
        raise _bad("event without a type", data)
    if kind == "trade" or kind == "aggTrade":
        return parse_trade(data, ts_recv, ts_factor)
    if kind == SERVER_SHUTDOWN_EVENT:
        return parse_server_shutdown(data, ts_recv, ts_factor)
    raise UnknownEnumValue(f"unknown Binance event type {kind!r}", venue=VENUE, payload=data)


def _unwrap(raw: bytes | bytearray | memoryview | str) -> tuple[str | None, Any]:
    """Decode a frame's JSON; return ``(stream, payload)`` of a combined-stream envelope."""
    try:
        msg = _orjson_loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad("JSON", raw, exc) from exc
    if type(msg) is dict and "stream" in msg:
        stream = msg["stream"]
        data = msg.get("data")
        if type(stream) is not str or data is None:
            raise _bad("combined-stream envelope", msg)
        return stream, data
    return None, msg


def parse_frame(
    raw: bytes | bytearray | memoryview | str, ts_recv: int, ts_factor: int = _MS
) -> Parsed:
    """Parse one websocket text frame, unwrapping ``{"stream": .., "data": ..}`` if present."""
    stream, data = _unwrap(raw)
    # The hot path (depth diffs) is dispatched here, without the generic router's calls.
    if type(data) is dict and data.get("e") == "depthUpdate":
        clean = type(raw) is bytes and clean_frame(raw, stream is not None)
        return parse_depth_update(data, ts_recv, ts_factor, clean)
    return parse_data(data, ts_recv, stream, ts_factor)


def feed_frame(
    raw: bytes | bytearray | memoryview | str,
    ts_recv: int,
    sync: BookSync,
    symbols: Container[str] | None = None,
    ts_factor: int = _MS,
) -> Parsed | DepthFed:
    """Parse one frame; a depth diff goes straight into ``sync`` and :class:`DepthFed` is returned.

    The market-data hot path: a clean frame (:func:`clean_frame`) is decoded and applied in
    one pass (:meth:`BookSync.on_delta_text`), anything else takes :func:`parse_depth_update`
    and :meth:`BookSync.on_delta`; the book ends up identical either way. Other messages are
    returned parsed, as :func:`parse_frame` does. With ``symbols``, a diff for any other
    symbol raises :class:`UnknownEnumValue` and is not fed. A diff of a known symbol that
    cannot be read (header or rows) raises :class:`ParseError` after its book was marked for
    resync (:meth:`BookSync.drop_delta`), on either path alike.
    """
    stream, data = _unwrap(raw)
    if type(data) is not dict or data.get("e") != "depthUpdate":
        return parse_data(data, ts_recv, stream, ts_factor)
    try:  # the header checks of parse_depth_update, inlined: this runs for every diff
        first = data["U"]
        last = data["u"]
        symbol = data["s"]
        event_time = data["E"]
        bids = data["b"]
        asks = data["a"]
    except KeyError as exc:
        raise _dropped(sync, data, symbols, ts_recv, _bad("depthUpdate", data, exc)) from exc
    if (
        type(first) is not int
        or type(last) is not int
        or first > last
        or type(symbol) is not str
        or type(event_time) is not int
        or type(bids) is not list
        or type(asks) is not list
    ):
        bad = _bad("depthUpdate header (s, E, U, u, b, a)", data)
        raise _dropped(sync, data, symbols, ts_recv, bad)
    if symbols is not None and symbol not in symbols:
        raise UnknownEnumValue(f"depth for unsubscribed symbol {symbol!r}", venue=VENUE)
    ts_event = event_time * ts_factor
    if type(raw) is bytes and clean_frame(raw, stream is not None):
        # A malformed row makes on_delta_text resync the book before it raises.
        requested = sync.on_delta_text(symbol, first, last, bids, asks, ts_event, ts_recv, DECODER)
    else:
        try:
            delta = parse_depth_update(data, ts_recv, ts_factor)
        except ParseError as exc:
            raise _dropped(sync, data, symbols, ts_recv, exc) from None
        requested = sync.on_delta(symbol, delta, ts_recv)
    return _new_tuple(DepthFed, (symbol, first, last, ts_event, requested))


def _dropped(
    sync: BookSync,
    data: dict[str, Any],
    symbols: Container[str] | None,
    ts_recv: int,
    exc: ParseError,
) -> ParseError:
    """Resync the book of a diff that is dropped unread (its symbol's, if known); return ``exc``.

    Whatever made it unreadable, the book has missed an update: it must not stay valid.
    """
    symbol = data.get("s")
    if type(symbol) is str and (symbols is None or symbol in symbols):
        sync.drop_delta(symbol, exc.message, ts_recv)
    return exc
