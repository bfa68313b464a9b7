"""The generic market-data connector: many symbols' books, tickers and trades from any venue.

:class:`MarketDataConnector` owns what every venue does the same way, driven by a
:class:`~connectivity.connector.dialect.MarketDataDialect` that supplies the venue's facts:

- Sharding: symbols are spread over connections so that none carries more than the venue's
  ``max_streams_per_connection`` streams (one per channel per symbol).
- Subscriptions: each connection subscribes live (batched; the transport paces frames to the
  venue's outbound limit) and replays its desired streams after every reconnect, waiting for
  the acknowledgements the dialect's ``ack_mode`` describes.
- Snapshots: when a symbol's :class:`BookSync` asks (first sync, gap, crossed book), one
  snapshot is fetched by :meth:`MarketDataConnector._fetch_snapshot` (through the dialect and
  the REST client's limiter), planned by :mod:`connectivity.connector.snapshots`: the bot's
  symbol order first, at the cheapest weight tier covering ``book_depth``, a bounded number
  in flight, optionally deepened later while valid; per-symbol exponential backoff on
  failure (exactly ``Retry-After`` on a 429). In-stream venues resubscribe the book streams
  instead (batched per connection, off the reader greenlet), and their books, like those of
  per-connection sequence feeds, are routed per physical connection (see
  :mod:`~connectivity.connector.router`).
- Liveness: a disconnect invalidates that connection's books at once (the bot stops quoting)
  and they resync after the reconnect; a shutdown notice or the venue's connection lifetime
  (``ws_settings.rollover_after_s``) triggers a seamless rollover; a book stream silent for
  ``stream_stale_after_s`` (a dead feed that still answers pings) ends its connection.
- Reading: :meth:`book`, :meth:`view`, :meth:`top_of_book`, :meth:`is_valid`,
  :meth:`stats`, :meth:`books_valid`, :meth:`wait_valid`; :attr:`latency` holds feed-latency
  samples per symbol.
- Symbols can be added and removed after start (:meth:`add_symbols`, :meth:`remove_symbols`).

The bot receives the venue-neutral events of :mod:`connectivity.core.events`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gevent.event

from connectivity.connector.base import Connector
from connectivity.connector.dialect import (
    Channel,
    FetchedSnapshot,
    MarketDataDialect,
    SnapshotSource,
)
from connectivity.connector.market_data_config import (
    ConnectionFactory,
    MarketDataConfig,
    websocket_connections,
)
from connectivity.connector.recording import Recorder
from connectivity.connector.router import StreamRouter
from connectivity.connector.snapshots import (
    SnapshotJob,
    SnapshotPlanner,
    SnapshotRunner,
    cheapest_limit,
    spare_budget_wait,
)
from connectivity.connector.streams import Subscriptions
from connectivity.core.book import BookView, OrderBook
from connectivity.core.book_sync import (
    BookEvent,
    BookInvalid,
    BookStats,
    BookSync,
    BookValid,
    IntegrityMode,
)
from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.events import EventSink, TopOfBook
from connectivity.core.latency import LatencyRecorder
from connectivity.errors import ConfigError, ConnectFailed, ConnectivityError, RateLimited
from connectivity.transport.http import RestClient
from connectivity.transport.websocket import WebSocketConnection

__all__ = [
    "ConnectionFactory",
    "MarketDataConfig",
    "MarketDataConnector",
    "Shard",
    "websocket_connections",
]

MAX_SNAPSHOT_RETRY_S = 60.0


class Shard:
    """One connection, the symbols it carries, their subscriptions and its router."""

    def __init__(self, number: int, subscriptions: Subscriptions) -> None:
        self.number = number
        self.symbols: list[str] = []
        self.subscriptions = subscriptions
        self.router: StreamRouter | None = None
        self.connection: WebSocketConnection | None = None


class MarketDataConnector(Connector):
    """Books, top of book and trades for many symbols over sharded connections, any venue."""

    def __init__(
        self,
        config: MarketDataConfig,
        dialect: MarketDataDialect,
        *,
        clock: Clock,
        rest: RestClient | None,
        connection_factory: ConnectionFactory,
        sink: EventSink | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(clock=clock, sink=sink, name=f"{dialect.venue}-md")
        if not config.symbols:
            raise ConfigError("no symbols to stream")
        if dialect.snapshot_source is SnapshotSource.REST and rest is None:
            raise ConfigError(
                f"{dialect.venue} fetches snapshots over REST: a RestClient is needed"
            )
        self.venue = dialect.venue
        self.config = config
        self.dialect = dialect
        self.rest = rest
        self._factory = connection_factory
        self._recorder = recorder
        self.max_streams = config.max_streams_per_connection or dialect.max_streams_per_connection
        if self.max_streams < len(dialect.channels):
            raise ConfigError("max_streams_per_connection is below one symbol's streams")
        stale_ns = None
        if config.book_stale_after_s is not None:
            stale_ns = int(config.book_stale_after_s * NS_PER_SECOND)
        self.sync = BookSync(
            dialect.integrity,
            dialect.rule,
            checksum=dialect.checksum,
            request_snapshot=self._request_snapshot,
            on_event=self._on_book_event,
            stale_after_ns=stale_ns,
            max_buffer=config.max_buffered_deltas,
            price_scale=dialect.price_scale,
            qty_scale=dialect.qty_scale,
            max_depth=dialect.max_book_depth,
        )
        self.symbols: list[str] = []
        self.shards: list[Shard] = []
        self.latency: dict[str, LatencyRecorder] = {}
        self.snapshots_fetched = 0
        self.snapshot_failures = 0
        self._valid: dict[str, gevent.event.Event] = {}
        self._shard_of: dict[str, Shard] = {}
        self._snapshot_failures: dict[str, int] = {}
        self._resubscribing: dict[str, None] = {}  # in-stream books waiting to resubscribe
        # Frames whose meaning depends on their connection are routed per connection.
        self._per_connection = (
            dialect.snapshot_source is SnapshotSource.IN_STREAM
            or dialect.integrity is IntegrityMode.CONNECTION_SEQUENCE
        )
        self._url = dialect.stream_url(config.ws_url)
        self._depths = {dialect.venue_symbol(s): d for s, d in config.book_depths.items()}
        self._deep = None
        self.snapshots: SnapshotRunner | None = None
        if dialect.snapshot_source is SnapshotSource.REST:
            tiers = dialect.snapshot_tiers
            if config.deep_book_depth is not None:
                self._deep = cheapest_limit(config.deep_book_depth, tiers)
            planner = SnapshotPlanner((), {}, tiers, max_in_flight=config.snapshot_concurrency)
            self.snapshots = SnapshotRunner(planner, self._fetch_job, self.spawn)
        self.add_symbols(config.symbols)

    # -- symbols and shards ------------------------------------------------------------------
    def streams(self, symbol: str) -> list[str]:
        """Return the stream names of one symbol (venue spelling), one per channel."""
        return [self.dialect.stream_name(symbol, channel) for channel in self.dialect.channels]

    def add_symbols(self, symbols: Iterable[str]) -> list[str]:
        """Stream more symbols (now, if started); return the newly added (venue spelling)."""
        added = []
        for symbol in dict.fromkeys(self.dialect.venue_symbol(s) for s in symbols):
            if symbol in self._shard_of:
                continue
            self._plan(symbol)
            self.sync.add_symbol(symbol)
            self._valid[symbol] = gevent.event.Event()
            shard = self._shard_with_room()
            shard.symbols.append(symbol)
            self._shard_of[symbol] = shard
            self.symbols.append(symbol)
            if shard.router is not None:
                shard.router.add(symbol)
            shard.subscriptions.add(self.streams(symbol))  # sent now if connected
            self._watch(shard, symbol)
            added.append(symbol)
        return added

    def remove_symbols(self, symbols: Iterable[str]) -> list[str]:
        """Stop streaming symbols (unsubscribed now if connected); return the removed ones."""
        removed = []
        for symbol in dict.fromkeys(self.dialect.venue_symbol(s) for s in symbols):
            shard = self._shard_of.pop(symbol, None)
            if shard is None:
                continue
            shard.symbols.remove(symbol)
            self.symbols.remove(symbol)
            shard.subscriptions.remove(self.streams(symbol))
            if shard.router is not None:
                shard.router.remove(symbol)
            if shard.connection is not None:
                shard.connection.unwatch(self.dialect.stream_name(symbol, Channel.BOOK))
            self.sync.reset([symbol], detail="unsubscribed")
            self._valid.pop(symbol).clear()
            removed.append(symbol)
        return removed

    def _plan(self, symbol: str) -> None:
        """Plan the symbol's snapshot depth: the cheapest tier covering what the bot asked."""
        if self.snapshots is None:
            return
        limit = self.config.snapshot_limit
        if limit is None:
            depth = self._depths.get(symbol, self.config.book_depth)
            limit = cheapest_limit(depth, self.dialect.snapshot_tiers)
        self.snapshots.planner.add(symbol, limit, self._deep)

    def _shard_with_room(self) -> Shard:
        needed = len(self.dialect.channels)
        for shard in self.shards:
            if shard.subscriptions.room >= needed:
                return shard
        subscriptions = Subscriptions(
            self.dialect.encode,
            max_streams=self.max_streams,
            batch_size=self.config.subscribe_batch,
            ack_mode=self.dialect.ack_mode,
        )
        shard = Shard(len(self.shards), subscriptions)
        self.shards.append(shard)
        if self._started and not self.closed:
            self._open(shard)
        return shard

    # -- life cycle --------------------------------------------------------------------------
    def _start(self) -> None:
        for shard in self.shards:
            self._open(shard)
        stale_after = self.config.book_stale_after_s
        if stale_after is not None:
            self.every(min(1.0, max(0.02, stale_after / 4)), self._check_stale, "stale")

    def _open(self, shard: Shard) -> None:
        url = self._url
        record = None
        if self._recorder is not None:
            recorder = self._recorder

            def record(ts_recv: int, payload: bytes) -> None:
                recorder.ws(ts_recv, url, payload)

        router = StreamRouter(
            self.dialect,
            self.sync,
            shard.subscriptions,
            shard.symbols,
            time_ns=self.clock.time_ns,
            emit=self.emit,
            latency=self.latency,
            record=record,
        )
        callbacks: dict[str, Any] = {
            "on_connect": lambda conn: self._on_connect(shard, conn),
            "on_disconnect": lambda reason: self._on_disconnect(shard, reason),
        }
        if self._per_connection:
            callbacks["per_connection"] = router.handler_for
        name = f"{self.name}{shard.number}"
        connection = self._factory(url, router.on_message, name, **callbacks)
        router.bind(connection)
        shard.router, shard.connection = router, connection
        connection.start()

    def _check_stale(self) -> None:
        self.sync.check_stale(self.clock.time_ns())

    def _close(self) -> None:
        for shard in self.shards:
            if shard.connection is not None:
                shard.connection.close()
        if self.rest is not None:
            self.rest.close()

    def _on_connect(self, shard: Shard, connection: WebSocketConnection) -> None:
        if self._recorder is not None:
            self._recorder.connect(self.clock.time_ns(), connection.url)
        shard.subscriptions.replay(connection.send)
        if not shard.subscriptions.wait_settled(self.config.ack_timeout_s):
            raise ConnectFailed("subscriptions not acknowledged in time", venue=self.venue)
        # Silence counts from the acknowledgement: pacing many subscribe frames takes time.
        for symbol in shard.symbols:
            self._watch(shard, symbol, connection)

    def _watch(self, shard: Shard, symbol: str, conn: WebSocketConnection | None = None) -> None:
        stale_after = self.config.stream_stale_after_s
        connection = conn or shard.connection
        if stale_after is not None and connection is not None:
            connection.watch(self.dialect.stream_name(symbol, Channel.BOOK), stale_after)

    def _on_disconnect(self, shard: Shard, reason: str) -> None:
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
        if self.closed or symbol not in self._shard_of:
            return
        if self.dialect.snapshot_source is SnapshotSource.IN_STREAM:
            # The venue sends a snapshot on subscription: subscribe the book stream afresh,
            # outstanding until the venue's snapshot arrives (or a reset clears it). Sent from
            # an owned greenlet: the reader asking must not wait for the outbound pacing.
            if not self._resubscribing:
                self.spawn(self._resubscribe_books, name="resubscribe")
            self._resubscribing[symbol] = None
            return
        if self.snapshots is not None:
            self.snapshots.request(symbol)

    def _resubscribe_books(self) -> None:
        """Resubscribe every waiting book stream: one unsubscribe and one subscribe frame per
        connection, however many books a connection's sequence gap reset at once."""
        symbols, self._resubscribing = self._resubscribing, {}
        streams: dict[int, list[str]] = {}
        for symbol in symbols:
            shard = self._shard_of.get(symbol)
            if shard is not None:  # not removed meanwhile
                book = self.dialect.stream_name(symbol, Channel.BOOK)
                streams.setdefault(shard.number, []).append(book)
        for number, books in streams.items():
            try:
                self.shards[number].subscriptions.resubscribe(books)
            except ConnectivityError as exc:  # gone: the reconnect subscribes them afresh
                self.count_error(exc, "resubscribe failed")

    def _deepen_later(self, symbol: str) -> None:
        if self.snapshots is None:
            return
        deep = self.snapshots.planner.deep_limit(symbol)
        if deep is not None and (self.sync.book(symbol).snapshot_depth or 0) < deep:
            self.snapshots.deepen(symbol)

    def _fetch_job(self, job: SnapshotJob) -> None:
        if job.symbol not in self._shard_of:
            return  # removed while queued
        if job.deepen:
            assert self.rest is not None  # REST venues only
            limiter, share = self.rest.limiter, self.config.deepen_budget_share
            bucket = self.dialect.weight_bucket
            while limiter is not None:  # each wait ends at a window boundary
                wait = spare_budget_wait(limiter, bucket, job.weight, share, self.clock.time_ns())
                if not wait:
                    break
                self.clock.sleep(wait)
            if not self.sync.deepen(job.symbol):
                return  # no longer valid: its resync comes first
        self._fetch_snapshot(job.symbol, job.limit)

    def _snapshot_from_venue(self, symbol: str, limit: int) -> FetchedSnapshot:
        """Get one snapshot through the dialect (and the REST client's limiter)."""
        assert self.rest is not None  # checked in __init__ for REST venues
        return self.dialect.fetch_snapshot(self.rest, symbol, limit)

    def _fetch_snapshot(self, symbol: str, limit: int | None = None) -> None:
        """Fetch one symbol's snapshot (the planned limit by default) and feed it to the sync;
        on failure back off, then let the next delta ask again."""
        if limit is None:
            assert self.snapshots is not None  # REST venues plan every symbol
            limit = self.snapshots.planner.limit(symbol)
        try:
            fetched = self._snapshot_from_venue(symbol, limit)
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
        snapshot = fetched.snapshot
        if self._recorder is not None:
            self._recorder.snapshot(snapshot.ts_recv, symbol, fetched.body, fetched.url)
        if symbol in self._shard_of:  # not removed meanwhile
            self.sync.on_snapshot(symbol, snapshot, snapshot.ts_recv)

    # -- reading -----------------------------------------------------------------------------
    def book(self, symbol: str) -> OrderBook:
        """Return the symbol's live book object (check :meth:`is_valid` before quoting)."""
        return self.sync.book(self.dialect.venue_symbol(symbol))

    def view(self, symbol: str, depth: int = 10) -> BookView:
        """Return an immutable top-``depth`` view of the symbol's book."""
        return self.sync.view(self.dialect.venue_symbol(symbol), depth)

    def top_of_book(self, symbol: str) -> TopOfBook | None:
        """Return the local book's best bid and ask, or None unless the book is valid."""
        name = self.dialect.venue_symbol(symbol)
        book = self.sync.book(name)
        bid, ask = book.best_bid(), book.best_ask()
        if not self.sync.is_valid(name) or bid is None or ask is None:
            return None
        return TopOfBook(
            self.venue,
            name,
            *bid,
            *ask,
            book.price_scale,
            book.qty_scale,
            book.update_id,
            book.ts_event,
            self.sync.stats(name).last_ts_recv,
        )

    def is_valid(self, symbol: str) -> bool:
        """Return True when the symbol's book may be quoted off."""
        return self.sync.is_valid(self.dialect.venue_symbol(symbol))

    def stats(self, symbol: str) -> BookStats:
        """Return the symbol's book counters (updates, resyncs, gaps, ...)."""
        return self.sync.stats(self.dialect.venue_symbol(symbol))

    def books_valid(self) -> tuple[int, int]:
        """Return ``(books valid, books watched)``: startup progress at a glance."""
        return sum(flag.is_set() for flag in self._valid.values()), len(self._valid)

    def wait_valid(self, symbols: Sequence[str] | None = None, timeout: float = 10.0) -> bool:
        """Wait until every given symbol's book is valid; False on timeout."""
        deadline = self.clock.monotonic_ns() + int(timeout * NS_PER_SECOND)
        for symbol in symbols or list(self.symbols):
            flag = self._valid.get(self.dialect.venue_symbol(symbol))
            remaining = (deadline - self.clock.monotonic_ns()) / NS_PER_SECOND
            if flag is None or not flag.wait(timeout=max(0.0, remaining)):
                return False
        return True

    @property
    def connections(self) -> list[WebSocketConnection]:
        """Return the websocket connections (one per shard, after start)."""
        return [s.connection for s in self.shards if s.connection is not None]

    def routers(self) -> list[StreamRouter]:
        """Return the per-connection routers (counters of messages and errors)."""
        return [s.router for s in self.shards if s.router is not None]
