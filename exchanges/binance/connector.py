"""Binance Spot market data: sharded combined streams, exact books, per-symbol resync.

:class:`BinanceMarketData` keeps one local order book per symbol in sync with Binance
following ``specs/binance.md`` 3.1 (through :class:`BookSync` and the U/u rule), and hands
tickers, trades and book-valid / book-invalid events to the bot's sink.

- Symbols are sharded over connections to ``<ws_url>/stream`` so that no connection carries
  more than ``max_streams_per_connection`` streams (Binance: 1024); each connection subscribes
  live (``SUBSCRIBE``, batched, paced by the transport to 5 frames/s) and replays its desired
  streams after every reconnect, waiting for the acks.
- A depth snapshot (``GET /api/v3/depth``, weight by limit) is fetched per symbol when its
  BookSync asks (first sync, gap, crossed book), through the REST client's limiter, planned
  by :mod:`connectivity.connector.snapshots`: the bot's symbol order first, at the cheapest
  weight tier covering ``book_depth``, a bounded number in flight, waiting for the budget.
- A disconnect invalidates that connection's books at once (the bot stops quoting) and the
  books resync after the reconnect. ``serverShutdown`` and the 24 h lifetime trigger a
  seamless rollover: the new connection is subscribed (acks awaited) before the old one is
  closed; the update-id rule proves continuity and resyncs a symbol only if ids jumped.
- A subscription that delivers no depth update for ``stream_stale_after_s`` (an open but dead
  feed that still answers pings) ends its connection, which reconnects and resyncs.

:meth:`BinanceMarketData.from_config` is the one place that builds real collaborators.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import gevent.event
import orjson

from connectivity.connector.base import Connector, EventSink
from connectivity.connector.snapshots import (
    SnapshotJob,
    SnapshotPlanner,
    SnapshotRunner,
    spare_budget_wait,
)
from connectivity.connector.streams import Subscriptions
from connectivity.core.book import BookView, OrderBook
from connectivity.core.book_sync import BookEvent, BookInvalid, BookStats, BookSync, BookValid
from connectivity.core.clock import NS_PER_SECOND, Clock, SystemClock
from connectivity.core.latency import LatencyRecorder
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.errors import ConfigError, ConnectFailed, ConnectivityError, RateLimited
from connectivity.transport.http import RestClient
from connectivity.transport.websocket import (
    MessageHandler,
    WebSocketConnection,
    WebSocketSettings,
    websocket_client_factory,
)
from exchanges.binance.constants import (
    BOOK_INTEGRITY,
    BOOK_SEQUENCE_RULE,
    DEPTH_WEIGHTS,
    MAX_STREAMS_PER_CONNECTION,
    PRICE_SCALE,
    QTY_SCALE,
    REST_BASE_URLS,
    SNAPSHOT_LIMIT_MAX,
    VENUE,
    WS_BASE_URLS,
)
from exchanges.binance.endpoints import DEPTH, USED_WEIGHT_HEADER, WEIGHT_BUCKET
from exchanges.binance.errors import binance_error_mapper
from exchanges.binance.parsers import parse_depth_snapshot
from exchanges.binance.streams import BinanceStreamRouter, depth_watch_key
from exchanges.binance.symbols import to_venue_symbol

__all__ = [
    "BINANCE_WS_SETTINGS",
    "BinanceMarketData",
    "BinanceMarketDataConfig",
    "Recorder",
    "encode_request",
    "venue_symbol",
]

ConnectionFactory = Callable[..., WebSocketConnection]
MAX_SNAPSHOT_RETRY_S = 60.0


class Recorder(Protocol):
    """What ``--record`` needs (``exchanges.binance.recording.RecordWriter`` fits)."""

    def connect(self, ts_recv: int, url: str) -> None:
        """Record a (re)connect."""

    def ws(self, ts_recv: int, url: str, data: bytes) -> None:
        """Record one raw frame."""

    def snapshot(self, ts_recv: int, symbol: str, data: bytes, url: str = "") -> None:
        """Record one snapshot body."""


def venue_symbol(symbol: str) -> str:
    """Accept ``"BTC-USDT"`` or ``"BTCUSDT"``/``"btcusdt"``; return ``"BTCUSDT"``."""
    return to_venue_symbol(symbol) if "-" in symbol else symbol.upper()


def encode_request(method: str, streams: list[str], request_id: int) -> str:
    """Encode a Binance stream control frame (``SUBSCRIBE`` / ``UNSUBSCRIBE``)."""
    return orjson.dumps({"method": method, "params": streams, "id": request_id}).decode()


# 5 frames per 1.25 s: Binance counts arrivals per second on its side, so pacing exactly at
# 5/s lets network or scheduling jitter push a sixth frame into one of its windows.
BINANCE_WS_SETTINGS = WebSocketSettings(send_limit=5, send_window_s=1.25)


DEPTH_STREAMS = ("depth@100ms", "depth")  # diff depth every 100 ms / 1000 ms
TRADE_STREAMS: tuple[str | None, ...] = ("trade", "aggTrade", None)


def _trade_stream(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value not in TRADE_STREAMS:
        raise ConfigError(f"{attribute.name} must be one of {TRADE_STREAMS}, got {value!r}")


def _positive_int(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{attribute.name} must be an int >= 1, got {value!r}")


def _positive_int_or_none(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None:
        _positive_int(_, attribute, value)


def _share(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(f"{attribute.name} must be in (0, 1], got {value!r}")


def _as_tuple(symbols: Iterable[str]) -> tuple[str, ...]:
    return tuple(symbols)


@attrs.frozen
class BinanceMarketDataConfig:
    """What to stream and from where; defaults are Binance production's public endpoints."""

    symbols: tuple[str, ...] = attrs.field(converter=_as_tuple)
    rest_url: str = REST_BASE_URLS["market_data"]
    ws_url: str = WS_BASE_URLS["prod"]
    depth_stream: str = attrs.field(
        default="depth@100ms", validator=attrs.validators.in_(DEPTH_STREAMS)
    )
    trade_stream: str | None = attrs.field(default="trade", validator=_trade_stream)
    book_ticker: bool = True
    # Levels per side the bot needs; the snapshot is the cheapest weight tier covering it
    # (20 -> limit 100, weight 5), per symbol in ``book_depths``; ``snapshot_limit`` forces
    # one limit for all (e.g. 5000, the spec 3.1 text). A book is exact only as deep as that.
    book_depth: int = 20
    book_depths: Mapping[str, int] = attrs.field(factory=dict, converter=dict)
    snapshot_limit: int | None = attrs.field(default=None, validator=_positive_int_or_none)
    # Once a book is valid, deepen it to cover this many levels (one at a time, the book stays
    # valid, only while less than ``deepen_budget_share`` of the minute's weight is used).
    deep_book_depth: int | None = None
    deepen_budget_share: float = attrs.field(default=0.5, validator=_share)
    snapshot_concurrency: int = 8
    max_streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    subscribe_batch: int = 200
    ack_timeout_s: float = 10.0
    stream_stale_after_s: float | None = 30.0  # per-subscription data watchdog
    book_stale_after_s: float | None = None  # flag a book with no update for this long
    snapshot_retry_s: float = 1.0
    # Deltas kept per symbol while its snapshot is awaited (oldest dropped past it): the
    # snapshot covers every delta sent before the venue took it, so only a round trip's worth
    # is needed (100 = 10 s of @depth@100ms); bounds memory when thousands of symbols wait.
    max_buffered_deltas: int = attrs.field(default=100, validator=_positive_int)
    weight_limit_1m: int = 6000
    # Weight drawn this close to a minute's end also counts in the next minute: Binance counts
    # a request when it arrives, possibly after the boundary (no 429 from a straddling burst).
    weight_edge_s: float = 1.0
    ws_settings: WebSocketSettings = BINANCE_WS_SETTINGS

    def streams_for(self, stream_symbol: str) -> list[str]:
        """Return the stream names of one symbol (Binance's lowercase spelling)."""
        names = [f"{stream_symbol}@{self.depth_stream}"]
        if self.book_ticker:
            names.append(f"{stream_symbol}@bookTicker")
        if self.trade_stream:
            names.append(f"{stream_symbol}@{self.trade_stream}")
        return names


class _Shard:
    """One connection and the symbols it carries."""

    def __init__(self, symbols: list[str], subscriptions: Subscriptions) -> None:
        self.symbols = symbols
        self.subscriptions = subscriptions
        self.router: BinanceStreamRouter | None = None
        self.connection: WebSocketConnection | None = None


class BinanceMarketData(Connector):
    """Binance Spot books, tickers and trades for many symbols over sharded connections."""

    venue = VENUE

    def __init__(
        self,
        config: BinanceMarketDataConfig,
        *,
        clock: Clock,
        rest: RestClient,
        connection_factory: ConnectionFactory,
        sink: EventSink | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(clock=clock, sink=sink, name="binance-md")
        if not config.symbols:
            raise ConfigError("no symbols to stream")
        self.config = config
        self.rest = rest
        self._factory = connection_factory
        self._recorder = recorder
        self.symbols = list(dict.fromkeys(venue_symbol(s) for s in config.symbols))
        stale_ns = None
        if config.book_stale_after_s is not None:
            stale_ns = int(config.book_stale_after_s * NS_PER_SECOND)
        self.sync = BookSync(
            BOOK_INTEGRITY,
            BOOK_SEQUENCE_RULE,
            request_snapshot=self._request_snapshot,
            on_event=self._on_book_event,
            stale_after_ns=stale_ns,
            max_buffer=config.max_buffered_deltas,
            price_scale=PRICE_SCALE,
            qty_scale=QTY_SCALE,
        )
        self._valid: dict[str, gevent.event.Event] = {}
        for symbol in self.symbols:
            self.sync.add_symbol(symbol)
            self._valid[symbol] = gevent.event.Event()
        self.latency: dict[str, LatencyRecorder] = {}
        self.snapshots_fetched = 0
        self.snapshot_failures = 0
        self._snapshot_failures: dict[str, int] = {}
        planner = SnapshotPlanner.for_depths(
            self.symbols,
            DEPTH_WEIGHTS,
            depth=config.book_depth,
            depths={venue_symbol(s): depth for s, depth in config.book_depths.items()},
            limit=config.snapshot_limit,
            deep_depth=config.deep_book_depth,
            max_in_flight=config.snapshot_concurrency,
        )
        self.snapshots = SnapshotRunner(planner, self._fetch_job, self.spawn)
        self.shards = self._make_shards()

    @classmethod
    def from_config(
        cls,
        config: BinanceMarketDataConfig,
        *,
        clock: Clock | None = None,
        sink: EventSink | None = None,
        recorder: Recorder | None = None,
    ) -> BinanceMarketData:
        """Build the connector with real collaborators (REST client, limiter, websockets)."""
        clock = clock or SystemClock()
        limiter = RateLimiter(
            clock,
            [Bucket(WEIGHT_BUCKET, config.weight_limit_1m, 60.0, edge_s=config.weight_edge_s)],
            name="binance-ip",
        )
        rest = RestClient(
            config.rest_url,
            venue=VENUE,
            clock=clock,
            limiter=limiter,
            usage_headers={USED_WEIGHT_HEADER: WEIGHT_BUCKET},
            error_mapper=binance_error_mapper,
        )
        wire = websocket_client_factory()

        def connection(
            url: str, on_message: MessageHandler, name: str, **callbacks: Any
        ) -> WebSocketConnection:
            return WebSocketConnection(
                url,
                on_message,
                clock=clock,
                settings=config.ws_settings,
                factory=wire,
                name=name,
                **callbacks,
            )

        return cls(
            config,
            clock=clock,
            rest=rest,
            connection_factory=connection,
            sink=sink,
            recorder=recorder,
        )

    # -- wiring ------------------------------------------------------------------------------
    def _make_shards(self) -> list[_Shard]:
        config = self.config
        per_symbol = len(config.streams_for("x"))
        per_connection = config.max_streams_per_connection // per_symbol
        if per_connection < 1:
            raise ConfigError("max_streams_per_connection is below one symbol's streams")
        shards = []
        for start in range(0, len(self.symbols), per_connection):
            symbols = self.symbols[start : start + per_connection]
            subscriptions = Subscriptions(
                encode_request,
                max_streams=config.max_streams_per_connection,
                batch_size=config.subscribe_batch,
            )
            for symbol in symbols:
                subscriptions.add(config.streams_for(symbol.lower()))
            shards.append(_Shard(symbols, subscriptions))
        return shards

    def _start(self) -> None:
        url = self.config.ws_url.rstrip("/") + "/stream"
        record = None
        if self._recorder is not None:
            recorder = self._recorder

            def record(ts_recv: int, payload: bytes) -> None:
                recorder.ws(ts_recv, url, payload)

        for number, shard in enumerate(self.shards):
            router = BinanceStreamRouter(
                self.sync,
                shard.subscriptions,
                shard.symbols,
                time_ns=self.clock.time_ns,
                emit=self.emit,
                latency=self.latency,
                record=record,
            )
            connection = self._factory(
                url,
                router.on_message,
                f"binance-md{number}",
                on_connect=lambda conn, shard=shard: self._on_connect(shard, conn),
                on_disconnect=lambda reason, shard=shard: self._on_disconnect(shard, reason),
            )
            router.bind(connection)
            shard.router, shard.connection = router, connection
            connection.start()
        stale_after = self.config.book_stale_after_s
        if stale_after is not None:
            self.every(min(1.0, max(0.02, stale_after / 4)), self._check_stale, "stale")

    def _check_stale(self) -> None:
        self.sync.check_stale(self.clock.time_ns())

    def _close(self) -> None:
        for shard in self.shards:
            if shard.connection is not None:
                shard.connection.close()
        self.rest.close()

    def _on_connect(self, shard: _Shard, connection: WebSocketConnection) -> None:
        if self._recorder is not None:
            self._recorder.connect(self.clock.time_ns(), connection.url)
        shard.subscriptions.replay(connection.send)
        if not shard.subscriptions.wait_settled(self.config.ack_timeout_s):
            raise ConnectFailed("SUBSCRIBE not acknowledged in time", venue=VENUE)
        stale_after = self.config.stream_stale_after_s
        if stale_after is not None:
            # Silence counts from the acknowledgement: pacing many SUBSCRIBE frames takes time.
            for symbol in shard.symbols:
                connection.watch(depth_watch_key(symbol.lower()), stale_after)

    def _on_disconnect(self, shard: _Shard, reason: str) -> None:
        shard.subscriptions.disconnected()
        self.sync.reset(shard.symbols, detail=f"disconnected: {reason}")

    def _on_book_event(self, event: BookEvent) -> None:
        flag = self._valid.get(event.symbol)
        if flag is not None:
            if isinstance(event, BookValid):
                flag.set()
                self._deepen_later(event.symbol)
            elif isinstance(event, BookInvalid):
                flag.clear()
        self.emit(event)

    # -- snapshots ---------------------------------------------------------------------------
    def _request_snapshot(self, symbol: str) -> None:
        if not self.closed:
            self.snapshots.request(symbol)

    def _deepen_later(self, symbol: str) -> None:
        deep = self.snapshots.planner.deep_limit(symbol)
        if deep is not None and (self.sync.book(symbol).snapshot_depth or 0) < deep:
            self.snapshots.deepen(symbol)

    def _fetch_job(self, job: SnapshotJob) -> None:
        if job.deepen:
            limiter, share = self.rest.limiter, self.config.deepen_budget_share
            while limiter is not None:  # each wait ends at a window boundary
                wait = spare_budget_wait(
                    limiter, WEIGHT_BUCKET, job.weight, share, self.clock.time_ns()
                )
                if not wait:
                    break
                self.clock.sleep(wait)
            if not self.sync.deepen(job.symbol):
                return  # no longer valid: its resync comes first
        self._fetch_snapshot(job.symbol, job.limit)

    def _fetch_snapshot(self, symbol: str, limit: int | None = None) -> None:
        limit = self.snapshots.planner.limit(symbol) if limit is None else limit
        params = {"symbol": symbol, "limit": limit}
        try:
            # Waiting for the weight budget is the plan (the planner bounds how many wait).
            response = DEPTH.call(self.rest, params, max_wait=math.inf)
            snapshot = parse_depth_snapshot(response.data, symbol, response.received_ns)
            snapshot = snapshot._replace(depth=min(limit, SNAPSHOT_LIMIT_MAX))
        except ConnectivityError as exc:
            self.snapshot_failures += 1
            failures = self._snapshot_failures[symbol] = self._snapshot_failures.get(symbol, 0) + 1
            self.count_error(exc, f"snapshot of {symbol} failed")
            # Back off per symbol (a refused snapshot must not burn weight in a loop); a 429 or
            # a local refusal says exactly when the budget reopens: wait that long, no longer.
            delay = min(self.config.snapshot_retry_s * 2 ** (failures - 1), MAX_SNAPSHOT_RETRY_S)
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                delay = exc.retry_after
            self.clock.sleep(delay)
            self.sync.snapshot_failed(symbol)  # the next delta asks again
            return
        self._snapshot_failures.pop(symbol, None)
        self.snapshots_fetched += 1
        if self._recorder is not None:
            body = orjson.dumps(response.data)
            self._recorder.snapshot(response.received_ns, symbol, body, self.rest.base_url)
        self.sync.on_snapshot(symbol, snapshot, response.received_ns)

    # -- reading -----------------------------------------------------------------------------
    def book(self, symbol: str) -> OrderBook:
        """Return the symbol's live book object (check :meth:`is_valid` before quoting)."""
        return self.sync.book(venue_symbol(symbol))

    def view(self, symbol: str, depth: int = 10) -> BookView:
        """Return an immutable top-``depth`` view of the symbol's book."""
        return self.sync.view(venue_symbol(symbol), depth)

    def is_valid(self, symbol: str) -> bool:
        """Return True when the symbol's book may be quoted off."""
        return self.sync.is_valid(venue_symbol(symbol))

    def stats(self, symbol: str) -> BookStats:
        """Return the symbol's book counters (updates, resyncs, gaps, ...)."""
        return self.sync.stats(venue_symbol(symbol))

    def books_valid(self) -> tuple[int, int]:
        """Return ``(books valid, books watched)``: startup progress at a glance."""
        return sum(flag.is_set() for flag in self._valid.values()), len(self._valid)

    def wait_valid(self, symbols: Sequence[str] | None = None, timeout: float = 10.0) -> bool:
        """Wait until every given symbol's book is valid; False on timeout."""
        deadline = self.clock.monotonic_ns() + int(timeout * NS_PER_SECOND)
        for symbol in symbols or self.symbols:
            remaining = (deadline - self.clock.monotonic_ns()) / NS_PER_SECOND
            if not self._valid[venue_symbol(symbol)].wait(timeout=max(0.0, remaining)):
                return False
        return True

    @property
    def connections(self) -> list[WebSocketConnection]:
        """Return the websocket connections (one per shard, after start)."""
        return [s.connection for s in self.shards if s.connection is not None]

    def routers(self) -> Iterable[BinanceStreamRouter]:
        """Return the per-connection routers (counters of messages and errors)."""
        return [s.router for s in self.shards if s.router is not None]
