"""The Binance Spot dialect of the simulated venue: exact REST and market-stream wire shapes.

:class:`BinanceSimVenue` runs, in-process, a loopback HTTP server (``/api/v3/time``,
``/api/v3/exchangeInfo``, ``/api/v3/depth`` with ``X-MBX-USED-WEIGHT-1M``) and a loopback
websocket server (``/ws/<stream>``, ``/ws``, ``/stream?streams=a/b``, ``/stream``) over one
:class:`~connectivity.sim.market.Market`. Every ``tick_s`` the market steps once per symbol
and the venue publishes ``depthUpdate`` on ``<sym>@depth@100ms`` (every tick) and ``<sym>@depth``
(every 10th tick, merged), ``bookTicker`` when the top of book changed, and ``trade`` /
``aggTrade`` prints. Clients may SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY /
GET_PROPERTY live; more than 5 inbound messages in a second or more than 1024 streams on a
connection are refused as on Binance.

Faults: the per-symbol knobs in :attr:`BinanceSimVenue.faults` (gap, duplicate, stale or
delayed snapshot, flood) plus connection actions :meth:`~BinanceSimVenue.disconnect`,
:meth:`~BinanceSimVenue.stall` and :meth:`~BinanceSimVenue.server_shutdown`. Tests compare a
client's book with :meth:`~BinanceSimVenue.true_book` after :meth:`~BinanceSimVenue.freeze`.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import orjson

from connectivity.core.clock import NS_PER_MS, NS_PER_SECOND, Clock, SystemClock
from connectivity.core.decimal import fixed_to_decimal, parse_fixed
from connectivity.runtime import Supervisor
from connectivity.sim.faults import FaultKnobs
from connectivity.sim.http import HttpRequest, HttpResponse, HttpServer, json_response
from connectivity.sim.market import SCALE, DepthDiff, Market, SimTrade, SymbolMarket, SymbolSpec
from connectivity.sim.market import fmt as _f
from connectivity.sim.session import StreamSession
from connectivity.sim.wsserver import ServerConnection, WebSocketServer, encode_text_frame

__all__ = ["DEFAULT_SYMBOLS", "BinanceSimVenue", "TrueBook", "depth_weight", "exchange_info"]

log = logging.getLogger(__name__)

DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("BTCUSDT", "BTC", "USDT", tick_size="0.01", step_size="0.00001", mid="60000"),
    SymbolSpec("ETHUSDT", "ETH", "USDT", tick_size="0.01", step_size="0.0001", mid="3000"),
    SymbolSpec("BNBBTC", "BNB", "BTC", tick_size="0.000001", step_size="0.001", mid="0.0095"),
)
STREAM_KINDS = ("depth@100ms", "depth", "bookTicker", "trade", "aggTrade")
SLOW_DEPTH_EVERY = 10  # "@depth" is the 1000 ms stream: one merged diff every 10 ticks
WEIGHT_LIMIT_1M = 6000
MAX_DEPTH_LIMIT = 5000


def depth_weight(limit: int) -> int:
    """Return the request weight of ``GET /api/v3/depth`` for ``limit`` (spec 2.1)."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


@attrs.frozen
class TrueBook:
    """The simulator's true book of one symbol at ``update_id`` (best levels first)."""

    update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


def _dec(value: int) -> Decimal:
    return fixed_to_decimal(value, SCALE)


def _levels(levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    return [[_f(price), _f(qty)] for price, qty in levels]


class _BinanceSession(StreamSession):
    """A stream session plus Binance's ``combined`` property (envelope on or off)."""

    combined = False


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
    def d(text: str) -> str:
        return _f(parse_fixed(text, SCALE))

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
                "minPrice": d(spec.tick_size),
                "maxPrice": "1000000.00000000",
                "tickSize": d(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": d(spec.step_size),
                "maxQty": "9000.00000000",
                "stepSize": d(spec.step_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": d(spec.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": stp,
    }


def _encode(stream: str, payload: bytes, combined: bool) -> bytes:
    if combined:
        payload = b'{"stream":"' + stream.encode() + b'","data":' + payload + b"}"
    return encode_text_frame(payload)


def _chunks(stream: str, payloads: list[bytes], combined: bool, size: int = 256) -> list[bytes]:
    frames = [_encode(stream, payload, combined) for payload in payloads]
    return [b"".join(frames[i : i + size]) for i in range(0, len(frames), size)]


@attrs.frozen
class _Flood:
    """A pre-encoded flood: the lead frame and the flood's frame chunks, raw and combined."""

    lead: dict[bool, bytes]
    chunks: dict[bool, list[bytes]]
    hold: bool  # released by release_flood(), not by the snapshot


class _Pinned:
    """A book state frozen at one update id, served as a (stale or pinned) snapshot."""

    def __init__(self, market: SymbolMarket) -> None:
        self.update_id, self.bids, self.asks = market.snapshot()


class BinanceSimVenue:
    """A Binance Spot venue on loopback: REST + market streams over a simulated market."""

    def __init__(
        self,
        symbols: Sequence[SymbolSpec] = DEFAULT_SYMBOLS,
        *,
        seed: int | str = 0,
        tick_s: float = 0.1,
        clock: Clock | None = None,
        ping_interval_s: float = 20.0,
        pong_timeout_s: float = 60.0,
        max_inbound_per_s: int = 5,
        max_streams: int = 1024,
        shutdown_grace_s: float = 1.0,
    ) -> None:
        self.clock = clock or SystemClock()
        self.market = Market(symbols, seed)
        self.specs = {spec.symbol: spec for spec in symbols}
        self.faults = FaultKnobs()
        self.tick_s = tick_s
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self.max_inbound_per_s = max_inbound_per_s
        self.max_streams = max_streams
        self.shutdown_grace_s = shutdown_grace_s
        self.frozen = False
        self.ticks = 0
        self.snapshots_served = 0
        self.connections_accepted = 0
        self.closed_for_rate = 0  # connections closed for more than 5 inbound messages/s
        self.sessions: list[_BinanceSession] = []
        self._lower = {symbol.lower(): symbol for symbol in self.specs}
        self._subscribers: dict[str, set[_BinanceSession]] = collections.defaultdict(set)
        self._slow: dict[str, tuple[int, dict[int, int], dict[int, int]]] = {}
        self._tops: dict[str, tuple[Any, Any]] = {}
        self._stale: dict[str, _Pinned] = {}
        self._pinned: dict[str, _Pinned] = {}
        self._floods: dict[str, _Flood] = {}
        self._weights: collections.deque[tuple[int, int]] = collections.deque()
        self._supervisor = Supervisor("binance-sim")
        self.http = HttpServer()
        self.http.route("GET", "/api/v3/ping", lambda r: self._weighted(json_response({}), 1))
        self.http.route("GET", "/api/v3/time", self._time)
        self.http.route("GET", "/api/v3/exchangeInfo", self._exchange_info)
        self.http.route("GET", "/api/v3/depth", self._depth)
        self.http.route("POST", "/sim/release_flood", self._release_request)  # test hook
        self.ws = WebSocketServer(self._serve)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> BinanceSimVenue:
        """Start both servers and the market loop; return self."""
        self.http.start()
        self.ws.start()
        self._supervisor.spawn(self._tick_loop, name="ticks")
        return self

    def close(self) -> None:
        """Stop the market loop and both servers; every greenlet is joined."""
        self._supervisor.close(timeout=2.0)
        self.ws.close(timeout=2.0)
        self.http.close(timeout=2.0)

    def __enter__(self) -> BinanceSimVenue:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rest_url(self) -> str:
        """Return the REST base URL (``http://127.0.0.1:<port>``)."""
        return self.http.url()

    @property
    def ws_url(self) -> str:
        """Return the market-stream base URL (``ws://127.0.0.1:<port>``)."""
        return self.ws.url("")

    # -- test hooks ----------------------------------------------------------------------------
    def freeze(self) -> None:
        """Stop the market: no more diffs, trades or tickers until :meth:`unfreeze`."""
        self.frozen = True

    def unfreeze(self) -> None:
        """Let the market move again."""
        self.frozen = False

    def true_book(self, symbol: str) -> TrueBook:
        """Return the exact true book of ``symbol`` (Decimal prices and quantities)."""
        last_id, bids, asks = self.market[symbol].snapshot()

        def dec(levels: list[tuple[int, int]]) -> tuple[tuple[Decimal, Decimal], ...]:
            return tuple(
                (fixed_to_decimal(p, SCALE), fixed_to_decimal(q, SCALE)) for p, q in levels
            )

        return TrueBook(last_id, dec(bids), dec(asks))

    def disconnect(self) -> int:
        """Drop every open stream connection without a close frame; return how many."""
        sessions = list(self.sessions)
        for session in sessions:
            session.conn.abort()
        return len(sessions)

    def stall(self) -> int:
        """Stop sending data on every open connection (pings are still answered)."""
        for session in self.sessions:
            session.stalled = True
        return len(self.sessions)

    def server_shutdown(self) -> int:
        """Announce maintenance (``serverShutdown``) now and disconnect after the grace time."""
        sessions = list(self.sessions)
        event = orjson.dumps({"e": "serverShutdown", "E": self._now_ms()})
        for session in sessions:
            session.send(self._frame(session, "!serverShutdown", event))
        self._supervisor.spawn(self._close_later, sessions, name="shutdown")
        return len(sessions)

    def _close_later(self, sessions: list[_BinanceSession]) -> None:
        self.clock.sleep(self.shutdown_grace_s)
        for session in sessions:
            session.conn.close(1001, "server shutdown")

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
        stream = f"{symbol.lower()}@depth@100ms"
        now = self._now_ms()
        lead = orjson.dumps(self._depth_event(market.step(now, max_actions)[0]))
        self._pinned[symbol] = _Pinned(market)
        diffs = [market.step(now, max_actions)[0] for _ in range(count)]
        payloads = [orjson.dumps(self._depth_event(diff)) for diff in diffs]
        self._floods[stream] = _Flood(
            {c: _encode(stream, lead, c) for c in (False, True)},
            {c: _chunks(stream, payloads, c) for c in (False, True)},
            hold,
        )
        return sum(len(diff.bids) + len(diff.asks) for diff in diffs)

    # -- market loop ---------------------------------------------------------------------------
    def _tick_loop(self) -> None:
        while True:
            self.clock.sleep(self.tick_s)
            if not self.frozen:
                self.tick()

    def tick(self) -> None:
        """Step every symbol once and publish the results (the loop calls this)."""
        self.ticks += 1
        flood = self.faults.take_flood()
        for market in self.market.symbols.values():
            if self.faults.stale_snapshots and market.symbol not in self._stale:
                self._stale[market.symbol] = _Pinned(market)  # served by the next snapshot
            self._publish(market, *market.step(self._now_ms()))
            if flood and (self.faults.symbol in (None, market.symbol)):
                for _ in range(flood):
                    self._publish(market, *market.step(self._now_ms()))

    def _now_ms(self) -> int:
        return self.clock.time_ns() // NS_PER_MS

    def _depth_event(self, diff: DepthDiff) -> dict[str, Any]:
        return {
            "e": "depthUpdate",
            "E": diff.event_time_ms,
            "s": diff.symbol,
            "U": diff.first_id,
            "u": diff.last_id,
            "b": _levels(diff.bids),
            "a": _levels(diff.asks),
        }

    def _publish(self, market: SymbolMarket, diff: DepthDiff, trades: list[SimTrade]) -> None:
        symbol = market.symbol
        lower = symbol.lower()
        fast = f"{lower}@depth@100ms"
        if self._subscribers.get(fast) and not self.faults.take_drop(symbol):
            payload = orjson.dumps(self._depth_event(diff))
            self._broadcast(fast, payload)
            if self.faults.take_duplicate(symbol):
                self._broadcast(fast, payload)
        self._merge_slow(diff)
        if self.ticks % SLOW_DEPTH_EVERY == 0:
            self._flush_slow(symbol, f"{lower}@depth", diff.event_time_ms)
        for trade in trades:
            self._publish_trade(lower, trade)
        top = (market.best_bid(), market.best_ask())
        if top != self._tops.get(symbol) and top[0] and top[1]:
            self._tops[symbol] = top
            ticker = {
                "u": market.update_id,
                "s": symbol,
                "b": _f(top[0][0]),
                "B": _f(top[0][1]),
                "a": _f(top[1][0]),
                "A": _f(top[1][1]),
            }
            self._broadcast(f"{lower}@bookTicker", orjson.dumps(ticker))

    def _merge_slow(self, diff: DepthDiff) -> None:
        first, bids, asks = self._slow.get(diff.symbol, (diff.first_id, {}, {}))
        bids.update(diff.bids)
        asks.update(diff.asks)
        self._slow[diff.symbol] = (first, bids, asks)

    def _flush_slow(self, symbol: str, stream: str, now_ms: int) -> None:
        merged = self._slow.pop(symbol, None)
        if merged is None or not self._subscribers.get(stream):
            return
        first, bids, asks = merged
        last = self.market[symbol].update_id
        diff = DepthDiff(symbol, first, last, now_ms, tuple(bids.items()), tuple(asks.items()))
        self._broadcast(stream, orjson.dumps(self._depth_event(diff)))

    def _publish_trade(self, lower: str, trade: SimTrade) -> None:
        common = {"E": trade.time_ms, "s": trade.symbol}
        price, qty = _f(trade.price), _f(trade.qty)
        if self._subscribers.get(f"{lower}@trade"):
            event = {"e": "trade", **common, "t": trade.trade_id, "p": price, "q": qty}
            event.update({"T": trade.time_ms, "m": trade.buyer_is_maker, "M": True})
            self._broadcast(f"{lower}@trade", orjson.dumps(event))
        if self._subscribers.get(f"{lower}@aggTrade"):
            event = {"e": "aggTrade", **common, "a": trade.trade_id, "p": price, "q": qty}
            event.update({"f": trade.trade_id, "l": trade.trade_id, "T": trade.time_ms})
            event.update({"m": trade.buyer_is_maker, "M": True})
            self._broadcast(f"{lower}@aggTrade", orjson.dumps(event))

    def _broadcast(self, stream: str, payload: bytes) -> None:
        frames: dict[bool, bytes] = {}
        for session in self._subscribers.get(stream, ()):
            combined = session.combined
            frame = frames.get(combined)
            if frame is None:
                frame = frames[combined] = self._frame(session, stream, payload)
            session.send(frame)

    @staticmethod
    def _frame(session: _BinanceSession, stream: str, payload: bytes) -> bytes:
        return _encode(stream, payload, session.combined)

    # -- websocket -----------------------------------------------------------------------------
    def _serve(self, conn: ServerConnection) -> None:
        self.connections_accepted += 1
        session = _BinanceSession(
            conn,
            self._supervisor,
            self.clock,
            ping_interval_s=self.ping_interval_s,
            pong_timeout_s=self.pong_timeout_s,
            max_inbound_per_s=self.max_inbound_per_s,
        )
        url = urlsplit(conn.path)
        streams: list[str] = []
        if url.path == "/stream" or url.path == "/stream/":
            session.combined = True
            query = dict(parse_qsl(url.query))
            streams = [s for s in query.get("streams", "").split("/") if s]
        elif url.path == "/ws" or url.path.startswith("/ws/"):
            session.combined = False
            streams = [s for s in url.path[4:].split("/") if s]
        else:
            conn.close(1008, "unknown path")
            return
        if len(streams) > self.max_streams:
            conn.close(1008, f"more than {self.max_streams} streams")
            return
        self._subscribe(session, streams)
        self.sessions.append(session)
        try:
            session.run(lambda kind, data: self._on_message(session, kind, data))
        finally:
            if session.close_reason == "too many messages":
                self.closed_for_rate += 1
            self.sessions.remove(session)
            self._unsubscribe(session, list(session.subscriptions))

    def _subscribe(self, session: _BinanceSession, streams: Iterable[str]) -> None:
        for stream in streams:
            session.subscriptions[stream] = None
            self._subscribers[stream].add(session)
            flood = self._floods.get(stream)
            if flood is not None:
                session.send(flood.lead[session.combined])

    def _unsubscribe(self, session: _BinanceSession, streams: Iterable[str]) -> None:
        for stream in streams:
            session.subscriptions.pop(stream, None)
            self._subscribers[stream].discard(session)

    def _on_message(self, session: _BinanceSession, kind: str, data: bytes) -> None:
        try:
            request = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._reply_error(session, 3, "Invalid JSON: expected value", None)
            return
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            self._reply_error(session, 2, "Invalid request: missing field `method`", None)
            return
        request_id = request.get("id")
        params = request.get("params", [])
        method = request["method"]
        if not isinstance(params, list) or not all(isinstance(p, (str, bool)) for p in params):
            self._reply_error(session, 2, "Invalid request: params must be a list", request_id)
            return
        result: Any = None
        if method == "SUBSCRIBE":
            new = [p for p in params if isinstance(p, str) and p not in session.subscriptions]
            if len(session.subscriptions) + len(new) > self.max_streams:
                self._reply_error(session, 2, "Invalid request: too many streams", request_id)
                return
            self._subscribe(session, new)
        elif method == "UNSUBSCRIBE":
            self._unsubscribe(session, [p for p in params if isinstance(p, str)])
        elif method == "LIST_SUBSCRIPTIONS":
            result = list(session.subscriptions)
        elif method == "SET_PROPERTY" and params[:1] == ["combined"] and len(params) == 2:
            session.combined = bool(params[1])
        elif method == "GET_PROPERTY" and params == ["combined"]:
            result = session.combined
        else:
            self._reply_error(session, 2, f"Invalid request: unknown method {method}", request_id)
            return
        session.send(encode_text_frame(orjson.dumps({"result": result, "id": request_id})))

    @staticmethod
    def _reply_error(session: _BinanceSession, code: int, msg: str, request_id: Any) -> None:
        body = {"error": {"code": code, "msg": msg}, "id": request_id}
        session.send(encode_text_frame(orjson.dumps(body)))

    # -- REST ----------------------------------------------------------------------------------
    def _weighted(self, response: HttpResponse, weight: int) -> HttpResponse:
        now = self.clock.monotonic_ns()
        self._weights.append((now, weight))
        while self._weights and now - self._weights[0][0] >= 60 * NS_PER_SECOND:
            self._weights.popleft()
        used = sum(w for _, w in self._weights)
        if used > WEIGHT_LIMIT_1M:
            body = {"code": -1003, "msg": "Too much request weight used; please use WebSocket."}
            return json_response(body, 429, [("Retry-After", "60")])
        header = ("X-MBX-USED-WEIGHT-1M", str(used))
        return HttpResponse(response.status, response.body, (*response.headers, header))

    def _time(self, request: HttpRequest) -> HttpResponse:
        return self._weighted(json_response({"serverTime": self._now_ms()}), 1)

    def _bad_symbol(self, weight: int) -> HttpResponse:
        return self._weighted(json_response({"code": -1121, "msg": "Invalid symbol."}, 400), weight)

    def _exchange_info(self, request: HttpRequest) -> HttpResponse:
        wanted: list[str] = list(self.specs)
        if "symbol" in request.query:
            wanted = [request.query["symbol"]]
        elif "symbols" in request.query:
            try:
                wanted = list(orjson.loads(request.query["symbols"]))
            except orjson.JSONDecodeError:
                return self._weighted(json_response({"code": -1100, "msg": "Bad"}, 400), 20)
        if any(symbol not in self.specs for symbol in wanted):
            return self._bad_symbol(20)
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
            return self._bad_symbol(weight)
        if limit < 1:
            body = {"code": -1100, "msg": "Illegal characters found in parameter 'limit'."}
            return self._weighted(json_response(body, 400), weight)
        market = self.market[symbol]
        source: _Pinned | None = self._pinned.get(symbol)
        if source is None and symbol in self._stale and self.faults.take_stale_snapshot(symbol):
            source = self._stale.pop(symbol, None)
        if source is None:
            source = _Pinned(market)
        body = {
            "lastUpdateId": source.update_id,
            "bids": _levels(source.bids[:limit]),
            "asks": _levels(source.asks[:limit]),
        }
        response = json_response(body)
        if self.faults.snapshot_delay_s > 0:
            self.clock.sleep(self.faults.snapshot_delay_s)  # taken now, answered late
        self.snapshots_served += 1
        self.release_flood(symbol, by_snapshot=True)
        return self._weighted(response, weight)

    def flood_bytes(self, symbol: str) -> int:
        """Return the size of a prepared flood's combined-stream frames (0 if none)."""
        flood = self._floods.get(f"{symbol.lower()}@depth@100ms")
        return sum(map(len, flood.chunks[True])) if flood is not None else 0

    def release_flood(self, symbol: str, *, by_snapshot: bool = False) -> bool:
        """Write a prepared flood to its subscribers now; False if none was pending."""
        stream = f"{symbol.lower()}@depth@100ms"
        flood = self._floods.get(stream)
        if flood is None or (by_snapshot and flood.hold):
            return False
        del self._floods[stream]
        self._pinned.pop(symbol, None)
        for session in list(self._subscribers.get(stream, ())):
            for chunk in flood.chunks[session.combined]:
                session.send(chunk)
        return True

    def _release_request(self, request: HttpRequest) -> HttpResponse:
        released = self.release_flood(request.query.get("symbol", ""))
        return json_response({"released": released}, 200 if released else 404)
