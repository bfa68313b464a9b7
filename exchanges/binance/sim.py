"""The Binance Spot dialect of the simulated venue: exact REST and market-stream wire shapes.

:class:`BinanceSimVenue` (over :class:`~connectivity.sim.venue.SimVenue`) serves, in-process on
loopback, ``GET /api/v3/ping``, ``/api/v3/time``, ``/api/v3/exchangeInfo`` and ``/api/v3/depth``
(weights in ``X-MBX-USED-WEIGHT-1M``, 429 past the limit) and the market streams
``/ws/<stream>``, ``/ws``, ``/stream?streams=a/b`` and ``/stream``. Every ``settings.tick_s``
the market steps once per symbol and the venue publishes ``depthUpdate`` on
``<sym>@depth@100ms`` (every tick) and ``<sym>@depth`` (every 10th tick, merged), ``bookTicker``
when the top of book changed, and ``trade`` / ``aggTrade`` prints (only ``active_per_tick``
symbols per tick, in rotation, when set). Clients may SUBSCRIBE /
UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY live; more than 5 inbound
messages in a second or more than 1024 streams on a connection are refused, as on Binance.

Faults: the knobs in :attr:`faults` (gap, duplicate, stale or delayed snapshot, flood), the
connection actions of :class:`SimVenue` (disconnect, stall, ``serverShutdown``) and held floods
(:meth:`BinanceSimVenue.prepare_flood`). Tests compare a client's book with
:meth:`BinanceSimVenue.true_book` after :meth:`~SimVenue.freeze`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import orjson

from connectivity.core.clock import NS_PER_MS, Clock
from connectivity.core.decimal import fixed_to_decimal
from connectivity.sim.http import HttpRequest, HttpResponse, WeightMeter, json_response
from connectivity.sim.market import SCALE, DepthDiff, Market, SimTrade, SymbolMarket, SymbolSpec
from connectivity.sim.market import fmt as _f
from connectivity.sim.session import StreamSession
from connectivity.sim.venue import SimSettings, SimVenue
from connectivity.sim.wsserver import encode_text_frame
from exchanges.binance.constants import (
    AGG_TRADE_STREAM,
    BOOK_TICKER_STREAM,
    DEPTH_PATH,
    DEPTH_STREAM,
    DEPTH_STREAM_1000MS,
    EXCHANGE_INFO_PATH,
    MAX_INCOMING_MESSAGES_PER_S,
    MAX_STREAMS_PER_CONNECTION,
    PING_PATH,
    SERVER_SHUTDOWN_EVENT,
    SERVER_SHUTDOWN_STREAM,
    SNAPSHOT_LIMIT_MAX,
    TIME_PATH,
    TRADE_STREAM,
    WEIGHT_LIMIT_1M,
    WS_LIVE_PATH,
    WS_RAW_PATH,
    depth_weight,
)
from exchanges.binance.endpoints import USED_WEIGHT_HEADER

__all__ = [
    "BINANCE_SIM_SETTINGS",
    "DEFAULT_SYMBOLS",
    "BinanceSimVenue",
    "TrueBook",
    "depth_weight",
    "exchange_info",
]

DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("BTCUSDT", "BTC", "USDT", tick_size="0.01", step_size="0.00001", mid="60000"),
    SymbolSpec("ETHUSDT", "ETH", "USDT", tick_size="0.01", step_size="0.0001", mid="3000"),
    SymbolSpec("BNBBTC", "BNB", "BTC", tick_size="0.000001", step_size="0.001", mid="0.0095"),
)
SLOW_DEPTH_EVERY = 10  # the 1000 ms depth stream: one merged diff every 10 ticks
MAX_DEPTH_LIMIT = SNAPSHOT_LIMIT_MAX
BINANCE_SIM_SETTINGS = SimSettings(
    max_inbound_per_s=MAX_INCOMING_MESSAGES_PER_S, max_streams=MAX_STREAMS_PER_CONNECTION
)
"""Binance's limits: 5 inbound messages per second, 1024 streams per connection."""
COMBINED, RAW = True, False  # StreamSession.encoding: Binance's "combined" property


@attrs.frozen
class TrueBook:
    """The simulator's true book of one symbol at ``update_id`` (best levels first)."""

    update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


def _levels(levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    return [[_f(price), _f(qty)] for price, qty in levels]


def _decimals(levels: list[tuple[int, int]]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((fixed_to_decimal(p, SCALE), fixed_to_decimal(q, SCALE)) for p, q in levels)


def depth_event(diff: DepthDiff) -> dict[str, Any]:
    """Return a ``depthUpdate`` event for ``diff`` in Binance's shape."""
    return {
        "e": "depthUpdate",
        "E": diff.event_time_ms,
        "s": diff.symbol,
        "U": diff.first_id,
        "u": diff.last_id,
        "b": _levels(diff.bids),
        "a": _levels(diff.asks),
    }


def trade_events(trade: SimTrade) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the ``trade`` and ``aggTrade`` events of one print."""
    common = {"E": trade.time_ms, "s": trade.symbol, "p": _f(trade.price), "q": _f(trade.qty)}
    tail = {"T": trade.time_ms, "m": trade.buyer_is_maker, "M": True}
    raw = {"e": "trade", **common, "t": trade.trade_id, **tail}
    agg = {"e": "aggTrade", **common, "a": trade.trade_id, "f": trade.trade_id}
    agg.update({"l": trade.trade_id, **tail})
    return raw, agg


def exchange_info(specs: Iterable[SymbolSpec], now_ms: int) -> dict[str, Any]:
    """Return a ``GET /api/v3/exchangeInfo`` body for ``specs`` in Binance's shape."""
    limits = [
        ("REQUEST_WEIGHT", "MINUTE", 1, WEIGHT_LIMIT_1M),
        ("ORDERS", "SECOND", 10, 100),
        ("ORDERS", "DAY", 1, 200000),
        ("RAW_REQUESTS", "MINUTE", 5, 61000),
    ]
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [
            {"rateLimitType": t, "interval": i, "intervalNum": n, "limit": lim}
            for t, i, n, lim in limits
        ],
        "exchangeFilters": [],
        "symbols": [_symbol_info(spec) for spec in specs],
    }


def _symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    rules = spec.rules()  # the filters the simulator's matching engine enforces
    stp = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"]
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": SCALE,
        "quoteAsset": spec.quote,
        "quotePrecision": SCALE,
        "quoteAssetPrecision": SCALE,
        "baseCommissionPrecision": SCALE,
        "quoteCommissionPrecision": SCALE,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _f(rules.min_price),
                "maxPrice": _f(rules.max_price),
                "tickSize": _f(rules.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _f(rules.min_qty),
                "maxQty": _f(rules.max_qty),
                "stepSize": _f(rules.step_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": _f(rules.min_notional),
                "applyMinToMarket": rules.apply_min_to_market,
                "maxNotional": _f(rules.max_notional),
                "applyMaxToMarket": rules.apply_max_to_market,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": rules.max_num_orders},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": stp,
    }


class _Pinned:
    """A book state frozen at one update id, served as a (stale or pinned) snapshot."""

    def __init__(self, market: SymbolMarket) -> None:
        self.update_id, self.bids, self.asks = market.snapshot()


class BinanceSimVenue(SimVenue):
    """A Binance Spot venue on loopback: REST + market streams over a simulated market."""

    encodings = (RAW, COMBINED)

    def __init__(
        self,
        symbols: Sequence[SymbolSpec] = DEFAULT_SYMBOLS,
        *,
        seed: int | str = 0,
        clock: Clock | None = None,
        settings: SimSettings = BINANCE_SIM_SETTINGS,
    ) -> None:
        super().__init__(Market(symbols, seed), name="binance-sim", clock=clock, settings=settings)
        self.specs = {spec.symbol: spec for spec in symbols}
        self.max_streams = settings.max_streams or MAX_STREAMS_PER_CONNECTION
        self.snapshots_served = 0
        # Symbols stepped per tick, in rotation (None: all): thousands of symbols each
        # stepped every tick would cost more CPU than the venue's one process has.
        self.active_per_tick: int | None = None
        self._cursor = 0
        self.weight = WeightMeter(self.clock, WEIGHT_LIMIT_1M)
        self._slow: dict[str, tuple[int, dict[int, int], dict[int, int]]] = {}
        self._tops: dict[str, tuple[Any, Any]] = {}
        self._stale: dict[str, _Pinned] = {}
        self._pinned: dict[str, _Pinned] = {}
        route = self.http.route
        route("GET", PING_PATH, lambda r: self._weighted(json_response({}), 1))
        route("GET", TIME_PATH, self._time)
        route("GET", EXCHANGE_INFO_PATH, self._exchange_info)
        route("GET", DEPTH_PATH, self._depth)
        route("POST", "/sim/release_flood", self._release_request)  # a simulator hook

    # -- test hooks ----------------------------------------------------------------------------
    def true_book(self, symbol: str) -> TrueBook:
        """Return the exact true book of ``symbol`` (Decimal prices and quantities)."""
        last_id, bids, asks = self.market[symbol].snapshot()
        return TrueBook(last_id, _decimals(bids), _decimals(asks))

    def prepare_flood(
        self, symbol: str, count: int, max_actions: int = 4, *, hold: bool = False
    ) -> int:
        """Freeze the market and pre-encode a flood of ``count`` diffs of ``symbol``.

        A lead diff goes to each new ``@depth@100ms`` subscriber; the snapshot is pinned right
        after it (so the client's first buffered ``U`` is covered); once that snapshot was
        served (or, with ``hold``, on :meth:`release_flood` / ``POST /sim/release_flood``),
        every frame of the flood is written to the subscribers back to back. Return the number
        of level updates in the flood.
        """
        market = self.market[symbol]
        self.freeze()
        now = self._now_ms()
        lead = orjson.dumps(depth_event(market.step(now, max_actions)[0]))
        self._pinned[symbol] = _Pinned(market)
        diffs = [market.step(now, max_actions)[0] for _ in range(count)]
        payloads = [orjson.dumps(depth_event(diff)) for diff in diffs]
        self.hold_flood(_fast(symbol), lead, payloads, hold)
        return sum(len(diff.bids) + len(diff.asks) for diff in diffs)

    def release_flood(self, stream: str, *, by_trigger: bool = False) -> bool:
        """Release a held flood (``stream`` or a symbol, e.g. ``"BTCUSDT"``)."""
        if "@" not in stream:
            stream = _fast(stream)
        released = super().release_flood(stream, by_trigger=by_trigger)
        if released:
            self._pinned.pop(stream.partition("@")[0].upper(), None)
        return released

    # -- market --------------------------------------------------------------------------------
    def on_tick(self) -> None:
        """Step every symbol once and publish the results."""
        flood = self.faults.take_flood()
        for market in self._active():
            if self.faults.stale_snapshots and market.symbol not in self._stale:
                self._stale[market.symbol] = _Pinned(market)  # served by the next snapshot
            self._publish(market, *market.step(self._now_ms()))
            if flood and (self.faults.symbol in (None, market.symbol)):
                for _ in range(flood):
                    self._publish(market, *market.step(self._now_ms()))

    def _active(self) -> list[SymbolMarket]:
        markets = list(self.market.symbols.values())
        count = self.active_per_tick
        if count is None or count >= len(markets):
            return markets
        start, self._cursor = self._cursor, (self._cursor + count) % len(markets)
        return (markets + markets)[start : start + count]

    def _now_ms(self) -> int:
        return self.clock.time_ns() // NS_PER_MS

    def _publish(self, market: SymbolMarket, diff: DepthDiff, trades: list[SimTrade]) -> None:
        symbol = market.symbol
        lower = symbol.lower()
        fast = DEPTH_STREAM.format(symbol=lower)
        if self.has_subscribers(fast) and not self.faults.take_drop(symbol):
            payload = orjson.dumps(depth_event(diff))
            self.broadcast(fast, payload)
            if self.faults.take_duplicate(symbol):
                self.broadcast(fast, payload)
        self._merge_slow(diff)
        if self.ticks % SLOW_DEPTH_EVERY == 0:
            self._flush_slow(symbol, DEPTH_STREAM_1000MS.format(symbol=lower), diff.event_time_ms)
        trade_stream = TRADE_STREAM.format(symbol=lower)
        agg_stream = AGG_TRADE_STREAM.format(symbol=lower)
        for trade in trades:
            raw, agg = trade_events(trade)
            if self.has_subscribers(trade_stream):
                self.broadcast(trade_stream, orjson.dumps(raw))
            if self.has_subscribers(agg_stream):
                self.broadcast(agg_stream, orjson.dumps(agg))
        bid, ask = market.best_bid(), market.best_ask()
        if (bid, ask) != self._tops.get(symbol) and bid and ask:
            self._tops[symbol] = (bid, ask)
            ticker = {"u": market.update_id, "s": symbol, "b": _f(bid[0]), "B": _f(bid[1])}
            ticker.update({"a": _f(ask[0]), "A": _f(ask[1])})
            self.broadcast(BOOK_TICKER_STREAM.format(symbol=lower), orjson.dumps(ticker))

    def _merge_slow(self, diff: DepthDiff) -> None:
        first, bids, asks = self._slow.get(diff.symbol, (diff.first_id, {}, {}))
        bids.update(diff.bids)
        asks.update(diff.asks)
        self._slow[diff.symbol] = (first, bids, asks)

    def _flush_slow(self, symbol: str, stream: str, now_ms: int) -> None:
        merged = self._slow.pop(symbol, None)
        if merged is None or not self.has_subscribers(stream):
            return
        first, bids, asks = merged
        last = self.market[symbol].update_id
        diff = DepthDiff(symbol, first, last, now_ms, tuple(bids.items()), tuple(asks.items()))
        self.broadcast(stream, orjson.dumps(depth_event(diff)))

    # -- websocket dialect ---------------------------------------------------------------------
    def encode(self, encoding: Hashable, stream: str, payload: bytes) -> bytes:
        """Wrap ``payload`` in ``{"stream":..,"data":..}`` for combined sessions."""
        if encoding is COMBINED:
            payload = b'{"stream":"' + stream.encode() + b'","data":' + payload + b"}"
        return encode_text_frame(payload)

    def shutdown_notice(self) -> tuple[str, bytes]:
        """Return the ``serverShutdown`` event (combined stream name ``!serverShutdown``)."""
        event = {"e": SERVER_SHUTDOWN_EVENT, "E": self._now_ms()}
        return SERVER_SHUTDOWN_STREAM, orjson.dumps(event)

    def open_session(self, session: StreamSession) -> list[str] | None:
        """Return the streams of a ``/ws[/<s>..]`` or ``/stream[?streams=..]`` URL."""
        url = urlsplit(session.conn.path)
        if url.path in (WS_LIVE_PATH, WS_LIVE_PATH + "/"):
            session.encoding = COMBINED
            query = dict(parse_qsl(url.query))
            streams = [s for s in query.get("streams", "").split("/") if s]
        elif url.path == WS_RAW_PATH.rstrip("/") or url.path.startswith(WS_RAW_PATH):
            session.encoding = RAW
            streams = [s for s in url.path[len(WS_RAW_PATH) :].split("/") if s]
        else:
            session.conn.close(1008, "unknown path")
            return None
        if len(streams) > self.max_streams:
            session.conn.close(1008, f"more than {self.max_streams} streams")
            return None
        return streams

    def on_client_message(self, session: StreamSession, kind: str, data: bytes) -> None:
        """Answer SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_ / GET_PROPERTY."""
        try:
            request = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._reply(session, None, error=(3, "Invalid JSON: expected value"))
            return
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            self._reply(session, None, error=(2, "Invalid request: missing field `method`"))
            return
        request_id, method = request.get("id"), request["method"]
        params = request.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, (str, bool)) for p in params):
            self._reply(session, request_id, error=(2, "Invalid request: params must be a list"))
            return
        streams = [p for p in params if isinstance(p, str)]
        result: Any = None
        if method == "SUBSCRIBE":
            new = [s for s in streams if s not in session.subscriptions]
            if len(session.subscriptions) + len(new) > self.max_streams:
                self._reply(session, request_id, error=(2, "Invalid request: too many streams"))
                return
            self.subscribe(session, new)
        elif method == "UNSUBSCRIBE":
            self.unsubscribe(session, streams)
        elif method == "LIST_SUBSCRIPTIONS":
            result = list(session.subscriptions)
        elif method == "SET_PROPERTY" and params[:1] == ["combined"] and len(params) == 2:
            session.encoding = COMBINED if params[1] else RAW
        elif method == "GET_PROPERTY" and params == ["combined"]:
            result = session.encoding is COMBINED
        else:
            self._reply(session, request_id, error=(2, f"Invalid request: unknown {method}"))
            return
        self._reply(session, request_id, result)

    @staticmethod
    def _reply(
        session: StreamSession, request_id: Any, result: Any = None, error: Any = None
    ) -> None:
        body = {"result": result, "id": request_id}
        if error is not None:
            body = {"error": {"code": error[0], "msg": error[1]}, "id": request_id}
        session.send(encode_text_frame(orjson.dumps(body)))

    # -- REST ----------------------------------------------------------------------------------
    def _weighted(self, response: HttpResponse, weight: int) -> HttpResponse:
        used = self.weight.charge(weight)
        if used > self.weight.limit:
            body = {"code": -1003, "msg": "Too much request weight used; please use WebSocket."}
            retry_after = str(self.weight.retry_after_s())  # until the window resets
            return json_response(body, 429, [("Retry-After", retry_after)])
        header = (USED_WEIGHT_HEADER, str(used))
        return HttpResponse(response.status, response.body, (*response.headers, header))

    def _error(self, status: int, code: int, msg: str, weight: int) -> HttpResponse:
        return self._weighted(json_response({"code": code, "msg": msg}, status), weight)

    def _time(self, request: HttpRequest) -> HttpResponse:
        return self._weighted(json_response({"serverTime": self._now_ms()}), 1)

    def _exchange_info(self, request: HttpRequest) -> HttpResponse:
        wanted: list[str] = list(self.specs)
        if "symbol" in request.query:
            wanted = [request.query["symbol"]]
        elif "symbols" in request.query:
            try:
                wanted = list(orjson.loads(request.query["symbols"]))
            except orjson.JSONDecodeError:
                return self._error(400, -1100, "Illegal characters in 'symbols'.", 20)
        if any(symbol not in self.specs for symbol in wanted):
            return self._error(400, -1121, "Invalid symbol.", 20)
        body = exchange_info([self.specs[s] for s in wanted], self._now_ms())
        return self._weighted(json_response(body), 20)

    def _depth(self, request: HttpRequest) -> HttpResponse:
        symbol = request.query.get("symbol", "")
        try:
            limit = min(int(request.query.get("limit", "100")), MAX_DEPTH_LIMIT)
        except ValueError:
            limit = 0
        weight = depth_weight(limit)
        if symbol not in self.specs:
            return self._error(400, -1121, "Invalid symbol.", weight)
        if limit < 1:
            return self._error(400, -1100, "Illegal characters found in parameter 'limit'.", weight)
        if self.faults.take_snapshot_error(symbol):
            return self._error(503, -1008, "Server is currently overloaded.", weight)
        source = self._pinned.get(symbol)
        if source is None and symbol in self._stale and self.faults.take_stale_snapshot(symbol):
            source = self._stale.pop(symbol)
        if source is None:
            source = _Pinned(self.market[symbol])
        if self.faults.take_oversize_snapshot(symbol):
            limit = max(len(source.bids), len(source.asks))  # a broken server: the whole book
        body = {
            "lastUpdateId": source.update_id,
            "bids": _levels(source.bids[:limit]),
            "asks": _levels(source.asks[:limit]),
        }
        if self.faults.snapshot_delay_s > 0:
            self.clock.sleep(self.faults.snapshot_delay_s)  # taken before, answered late
        self.snapshots_served += 1
        self.release_flood(symbol, by_trigger=True)
        return self._weighted(json_response(body), weight)

    def _release_request(self, request: HttpRequest) -> HttpResponse:
        released = self.release_flood(request.query.get("symbol", ""))
        return json_response({"released": released}, 200 if released else 404)


def _fast(symbol: str) -> str:
    return DEPTH_STREAM.format(symbol=symbol.lower())
