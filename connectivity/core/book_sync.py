"""Snapshot + buffered-delta book synchronisation, per symbol, with the venue's integrity rule.

Usage by a market-data connector (no I/O here: the connector fetches snapshots)::

    sync = BookSync(IntegrityMode.SEQUENCE, rule=UpdateIdRangeRule(),
                    request_snapshot=fetch_later,      # optional: called with the symbol
                    on_event=sink,                     # optional: BookValid / BookInvalid
                    stale_after_ns=5 * NS_PER_SECOND)
    sync.add_symbol("BTCUSDT", price_scale=8, qty_scale=8)   # optional; else defaults
    if sync.on_delta("BTCUSDT", delta):      # BookDelta from the venue parser
        schedule_snapshot("BTCUSDT")          # True = a NEW snapshot request was issued
    sync.on_delta_text("BTCUSDT", U, u, b_rows, a_rows, ts_event, ts_recv, decoder)
                                              # the same from clean venue text, one pass
                                              # (Binance: exchanges.binance.parsers.feed_frame)
    sync.on_snapshot("BTCUSDT", snapshot)     # BookSnapshot; returns True = fetch again
    sync.on_stream_snapshot("BTC-USD", snap)  # a snapshot sent in the stream: loaded at once
    sync.snapshot_failed("BTCUSDT")           # the fetch failed: the next delta re-requests
    sync.deepen("BTCUSDT")                    # a VALID book: keep deltas for a deeper
                                              # snapshot (on_snapshot merges it, still valid)
    sync.drop_delta("BTCUSDT", why, ts_recv)  # a delta could not be read: resync the book
    sync.is_valid("BTCUSDT"); sync.book("BTCUSDT"); sync.view("BTCUSDT", 10)
    sync.check_stale(clock.time_ns())         # periodically, with the Clock's time
    sync.reset()                              # after a reconnect: resync every symbol

Other venues' rules are strategy objects too: ``BookSync(IntegrityMode.CHECKSUM,
checksum=TopLevelsChecksum(10, crc32_fn), max_depth=25)`` keeps a top-25 book checked against
the checksum over its top 10 that each delta carries (Kraken, OKX);
``IntegrityMode.CONNECTION_SEQUENCE`` leaves per-connection sequence numbers (Coinbase) to
the connector's router (a ``ConnectionSequence`` per connection), which resets the books the
connection carried on a gap (``reset(symbols, reason=InvalidReason.GAP)``).

``request_snapshot`` and the boolean returns are two ways to learn the same thing: a
snapshot request is issued once per need (not per delta) until :meth:`on_snapshot` or
:meth:`snapshot_failed` is called.

The procedure (for :class:`IntegrityMode.SEQUENCE` with :class:`UpdateIdRangeRule`, i.e.
Binance spot, ``specs/binance.md`` 3.1): buffer deltas from the first one on; request the
snapshot after the first buffered delta; if ``snapshot.last_id < first buffered first_id``
fetch again; drop buffered deltas with ``last_id <= snapshot.last_id``; load the snapshot
(``bookId = last_id``); then, for every buffered and live delta: ``last_id < bookId`` ->
ignore (counted as ``stale_ignored``); ``first_id > bookId + 1`` -> gap: resync; else apply
and set ``bookId = last_id``. A crossed book after any delta (when ``check_crossed``), a
checksum mismatch (:class:`IntegrityMode.CHECKSUM`), a delta dropped unread
(:meth:`drop_delta`) and ``max_stale_run`` live deltas in a row ignored as stale (the feed
flows but nothing applies: our last update id is wrong, e.g. one diff carried an absurd
``u``; ``None`` disables the check) also resync. Only the affected symbol is resynced.

What consumers see (double-buffered refresh): :meth:`book` always returns the same
:class:`OrderBook` object for a symbol. During a resync it keeps the LAST book (frozen: no
deltas are applied to it) while :meth:`is_valid` is False, :meth:`status` is
``RESYNCING`` and views carry ``valid=False``; the replacement is built on the side from
the new snapshot plus the buffered deltas and swapped in only once it has caught up, when
``BookValid`` is emitted. A bot must quote only while :meth:`is_valid` is True. A symbol
whose book is STALE (no applied update for ``stale_after_ns``, see :meth:`check_stale`) is
served as it is, not valid, until its next applied update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from connectivity.core.book import (
    BookDelta,
    BookSnapshot,
    BookView,
    ChecksumFn,
    LevelDecoder,
    OrderBook,
)
from connectivity.core.book_integrity import (
    BookEvent,
    BookInvalid,
    BookStats,
    BookStatus,
    BookValid,
    ConnectionSequence,
    IntegrityMode,
    InvalidReason,
    SequenceRule,
    TopLevelsChecksum,
    UpdateIdRangeRule,
    Verdict,
)
from connectivity.errors import ConfigError, ParseError

__all__ = [
    "BookEvent",
    "BookInvalid",
    "BookStats",
    "BookStatus",
    "BookSync",
    "BookValid",
    "ConnectionSequence",
    "IntegrityMode",
    "InvalidReason",
    "SequenceRule",
    "TopLevelsChecksum",
    "UpdateIdRangeRule",
    "Verdict",
]


_APPLY, _STALE, _GAP = Verdict.APPLY, Verdict.STALE, Verdict.GAP
_VALID = BookStatus.VALID
_new_tuple = tuple.__new__


class _Symbol:
    __slots__ = (
        "book",
        "buffer",
        "deepening",
        "live",
        "pending",
        "requested",
        "stale_mark",
        "stale_run",
        "stats",
        "status",
    )

    def __init__(self, book: OrderBook) -> None:
        self.book = book  # the public object; its contents are swapped on resync
        self.status = BookStatus.SYNCING
        self.live = False  # VALID or STALE: deltas go straight to the book
        self.buffer: list[BookDelta] = []
        self.requested = False  # a snapshot request is outstanding
        self.pending: BookSnapshot | None = None  # a snapshot that arrived before any delta
        self.deepening = False  # live: deltas are also kept for a deeper snapshot (deepen())
        self.stats = BookStats(book)
        self.stale_run = 0  # live deltas ignored as stale since the last applied one
        self.stale_mark = 0  # stats.updates_applied when the run was last extended


class BookSync:
    """Keeps one order book per symbol in sync with a venue (see the module docstring)."""

    def __init__(
        self,
        mode: IntegrityMode,
        rule: SequenceRule | None = None,
        *,
        checksum: ChecksumFn | None = None,
        request_snapshot: Callable[[str], None] | None = None,
        on_event: Callable[[BookEvent], None] | None = None,
        stale_after_ns: int | None = None,
        check_crossed: bool = True,
        max_buffer: int = 10_000,
        max_stale_run: int | None = 20,
        price_scale: int = 8,
        qty_scale: int = 8,
        max_depth: int | None = None,
    ) -> None:
        if mode is IntegrityMode.SEQUENCE and rule is None:
            raise ConfigError("IntegrityMode.SEQUENCE needs a SequenceRule")
        if mode is IntegrityMode.CHECKSUM and checksum is None:
            raise ConfigError("IntegrityMode.CHECKSUM needs a checksum function")
        if max_buffer < 1:
            raise ConfigError(f"max_buffer must be >= 1, got {max_buffer}")
        if max_stale_run is not None and max_stale_run < 1:
            raise ConfigError(f"max_stale_run must be >= 1 or None, got {max_stale_run}")
        self.mode = mode
        self._rule = rule
        # A rule whose check is the plain id-range comparison says so: the text hot path then
        # inlines it. Derived once; ``rule`` is read-only so this can never disagree with it.
        self._id_range = rule is not None and rule.inline_range_check
        self._checksum = checksum
        self._request = request_snapshot
        self._emit = on_event
        self.stale_after_ns = stale_after_ns
        self.check_crossed = check_crossed
        self.max_buffer = max_buffer
        # Checksum venues keep only their top N levels (see OrderBook.truncate); such books
        # take the parsed-delta path, which truncates after every update.
        self.max_depth = max_depth
        self._text_live = max_depth is None
        self.max_stale_run = max_stale_run
        self._scales = (price_scale, qty_scale)
        self._symbols: dict[str, _Symbol] = {}

    @property
    def rule(self) -> SequenceRule | None:
        """Return the venue's sequence rule (fixed at construction)."""
        return self._rule

    # -- symbols and reading -----------------------------------------------------------------

    def add_symbol(
        self, symbol: str, price_scale: int | None = None, qty_scale: int | None = None
    ) -> OrderBook:
        """Register a symbol (optional: unknown symbols are added with the default scales)."""
        state = self._symbols.get(symbol)
        if state is None:
            book = OrderBook(
                symbol,
                self._scales[0] if price_scale is None else price_scale,
                self._scales[1] if qty_scale is None else qty_scale,
            )
            state = self._symbols[symbol] = _Symbol(book)
        return state.book

    def _state(self, symbol: str) -> _Symbol:
        state = self._symbols.get(symbol)
        if state is None:
            self.add_symbol(symbol)
            state = self._symbols[symbol]
        return state

    def symbols(self) -> list[str]:
        """Return the symbols known to this sync."""
        return list(self._symbols)

    def book(self, symbol: str) -> OrderBook:
        """Return the symbol's book object (stable across resyncs; check :meth:`is_valid`)."""
        return self._state(symbol).book

    def view(self, symbol: str, n: int = 10) -> BookView:
        """Return an immutable top-``n`` view, with ``valid`` set from :meth:`is_valid`."""
        state = self._state(symbol)
        return state.book.view(n, valid=state.status is BookStatus.VALID)

    def is_valid(self, symbol: str) -> bool:
        """Return True only when the symbol's book may be quoted off."""
        state = self._symbols.get(symbol)
        return state is not None and state.status is BookStatus.VALID

    def status(self, symbol: str) -> BookStatus:
        """Return the symbol's life-cycle status."""
        return self._state(symbol).status

    def stats(self, symbol: str) -> BookStats:
        """Return the symbol's counters."""
        return self._state(symbol).stats

    def needs_snapshot(self, symbol: str) -> bool:
        """Return True while the symbol is waiting for a snapshot to (re)build its book."""
        state = self._symbols.get(symbol)
        if state is None:
            return False
        if self.mode is IntegrityMode.SNAPSHOT_ONLY:
            return state.status is not BookStatus.VALID  # snapshots are the feed itself
        return not state.live and state.pending is None

    def buffered(self, symbol: str) -> int:
        """Return how many deltas are buffered for the symbol."""
        return len(self._state(symbol).buffer)

    # -- input -------------------------------------------------------------------------------

    def on_delta(self, symbol: str, delta: BookDelta, ts_recv: int | None = None) -> bool:
        """Feed one parsed delta; return True when a NEW snapshot request was issued."""
        state = self._symbols.get(symbol) or self._state(symbol)
        if ts_recv is None:
            ts_recv = delta.ts_recv
        if not state.live:
            return self._buffer(state, delta, ts_recv)
        # The hot path: a live book. Kept flat (few calls, one unpack) on purpose.
        _, first, last, bids, asks, ts_event, _, checksum = delta
        book = state.book
        rule = self._rule
        if rule is not None:
            verdict = rule.check(book.update_id, first, last)
            if verdict is not _APPLY:
                if verdict is _STALE:
                    return self._stale(state, ts_recv)
                return self._gap(state, book.update_id, delta, ts_recv)
        crossed = book.apply(bids, asks)
        if self.max_depth is not None:
            book.truncate(self.max_depth)
        book.update_id = last
        book.ts_event = ts_event
        stats = state.stats
        stats.updates_applied += 1
        stats.last_ts_recv = ts_recv
        if state.deepening:
            self._keep_for_deeper(state, delta)
        verify = self._checksum
        if checksum is not None and verify is not None and book.checksum(verify) != checksum:
            return self._restart(state, InvalidReason.CHECKSUM_MISMATCH, "checksum", ts_recv)
        if crossed and self.check_crossed:
            return self._restart(state, InvalidReason.CROSSED, repr(book), ts_recv)
        if state.status is not _VALID:
            state.status = _VALID
            self._event(BookValid(book.symbol, book.update_id, ts_recv))
        return False

    def on_delta_text(
        self,
        symbol: str,
        first_id: int,
        last_id: int,
        bids: Sequence[Sequence[str]],
        asks: Sequence[Sequence[str]],
        ts_event: int,
        ts_recv: int,
        decoder: LevelDecoder,
    ) -> bool:
        """Feed one delta as CLEAN venue text rows: a live book decodes and applies in one pass.

        Same result as ``on_delta(symbol, BookDelta(.., decoder.fast(bids),
        decoder.fast(asks), ..))`` without building the levels first (see
        :meth:`OrderBook.apply_text`). A malformed row invalidates the symbol (``MALFORMED``,
        resync) and raises :class:`ParseError`. Return True when a NEW snapshot request was
        issued.
        """
        state = self._symbols.get(symbol) or self._state(symbol)
        if state.live and self._text_live:
            book = state.book
            if self._id_range:
                # The rule's check inlined (the same comparisons): no call per delta.
                book_id = book.update_id
                if last_id < book_id:
                    return self._stale(state, ts_recv)
                applies = first_id <= book_id + 1
            else:
                rule = self._rule
                verdict = _APPLY if rule is None else rule.check(book.update_id, first_id, last_id)
                if verdict is _STALE:
                    return self._stale(state, ts_recv)
                applies = verdict is _APPLY
            if applies:
                try:
                    crossed = book.apply_text(bids, asks, decoder)
                except ParseError:
                    self._malformed(state, "malformed level", ts_recv)
                    raise
                book.update_id = last_id
                book.ts_event = ts_event
                stats = state.stats
                stats.updates_applied += 1
                stats.last_ts_recv = ts_recv
                if state.deepening:
                    levels = (decoder.fast(bids), decoder.fast(asks))
                    delta = BookDelta(symbol, first_id, last_id, *levels, ts_event, ts_recv)
                    self._keep_for_deeper(state, delta)
                if crossed and self.check_crossed:
                    return self._restart(state, InvalidReason.CROSSED, repr(book), ts_recv)
                if state.status is not _VALID:
                    state.status = _VALID
                    self._event(BookValid(book.symbol, last_id, ts_recv))
                return False
        # Buffering, or a gap: the general path decides (and records) what happens.
        try:
            bid_levels = decoder.fast(bids)
            ask_levels = decoder.fast(asks)
        except ParseError:
            self._malformed(state, "malformed level", ts_recv)
            raise
        delta = _new_tuple(
            BookDelta, (symbol, first_id, last_id, bid_levels, ask_levels, ts_event, ts_recv, None)
        )
        return self.on_delta(symbol, delta, ts_recv)

    def drop_delta(self, symbol: str, detail: str, ts_recv: int) -> None:
        """Record that a delta of ``symbol`` was dropped unread (malformed): resync its book.

        The book has missed an update, so it never stays valid, whichever parser path dropped
        the delta. An unknown symbol is added, as :meth:`on_delta` would have added it.
        """
        self._malformed(self._state(symbol), detail, ts_recv)

    def _buffer(self, state: _Symbol, delta: BookDelta, ts_recv: int) -> bool:
        if self.mode is IntegrityMode.SNAPSHOT_ONLY:
            raise ConfigError(f"{state.book.symbol}: deltas are not accepted in SNAPSHOT_ONLY mode")
        self._append(state, delta)
        if state.pending is not None:
            snapshot, state.pending = state.pending, None
            return self._load(state, snapshot, ts_recv)
        return self._ask_snapshot(state)

    def _append(self, state: _Symbol, delta: BookDelta) -> None:
        buffer = state.buffer
        buffer.append(delta)
        if len(buffer) > self.max_buffer:
            # Forget the oldest half: as if buffering had started later (the snapshot must
            # then cover the new first delta, which the rule checks).
            del buffer[: len(buffer) // 2]
            state.stats.buffer_overflows += 1

    def deepen(self, symbol: str) -> bool:
        """Keep a VALID book's live deltas until a deeper snapshot arrives; False if not valid.

        The book stays valid and live meanwhile; :meth:`on_snapshot` then rebuilds it from
        the deeper snapshot plus the kept deltas and swaps it in once it has reached the live
        book's update id (if it cannot, e.g. the snapshot predates the kept deltas, the book
        simply stays as it was). Needs a sequence rule to align the two.
        """
        state = self._symbols.get(symbol)
        if state is None or state.status is not _VALID or state.deepening or self._rule is None:
            return False
        state.deepening = True
        state.buffer = []
        return True

    def on_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_recv: int | None = None) -> bool:
        """Feed a fetched snapshot; return True when it was too old and was requested again."""
        state = self._state(symbol)
        state.requested = False
        if ts_recv is None:
            ts_recv = snapshot.ts_recv
        if self.mode is IntegrityMode.SNAPSHOT_ONLY:
            shadow = OrderBook(state.book.symbol, state.book.price_scale, state.book.qty_scale)
            shadow.load(
                snapshot.bids, snapshot.asks, snapshot.last_id, snapshot.ts_event, snapshot.depth
            )
            state.stats.snapshots_applied += 1
            return self._swap_in(state, shadow, ts_recv)
        if state.live:
            if state.deepening:
                if snapshot.last_id > state.book.update_id:
                    state.pending = snapshot  # newer than the book: rebuild once it caught up
                else:
                    self._deepen(state, snapshot)
            return False  # else an answer to a request that a later resync made moot
        if not state.buffer:
            state.pending = snapshot  # step 1 says buffer first: judge it on the first delta
            return False
        return self._load(state, snapshot, ts_recv)

    def on_stream_snapshot(
        self, symbol: str, snapshot: BookSnapshot, ts_recv: int | None = None
    ) -> None:
        """Feed a snapshot the venue sent in the stream itself (Coinbase, Kraken): it covers
        every delta received before it and none after, so it is loaded at once, buffered deltas
        dropped; a live book is replaced in place and stays valid (a rollover's new connection).
        """
        state = self._state(symbol)
        state.requested = False
        state.pending = None
        if state.deepening:
            self._stop_deepening(state)
        state.stats.dropped_covered += len(state.buffer)
        state.buffer = []
        book = state.book
        shadow = OrderBook(book.symbol, book.price_scale, book.qty_scale)
        # A venue keeping its top ``max_depth`` sends the levels that enter it from below: no
        # covered price range to clip updates to (truncation keeps the book to that depth).
        depth = snapshot.depth if self.max_depth is None else None
        shadow.load(snapshot.bids, snapshot.asks, snapshot.last_id, snapshot.ts_event, depth)
        if self.max_depth is not None:
            shadow.truncate(self.max_depth)
        ts = snapshot.ts_recv if ts_recv is None else ts_recv
        if self.check_crossed and shadow.is_crossed():
            self._restart(state, InvalidReason.CROSSED, repr(shadow), ts)  # never served
            return
        state.stats.snapshots_applied += 1
        self._swap_in(state, shadow, ts)

    def snapshot_failed(self, symbol: str) -> None:
        """Record that a requested snapshot could not be fetched (the next delta re-requests)."""
        state = self._state(symbol)
        state.requested = False
        if state.deepening:
            self._stop_deepening(state)

    def reset(
        self,
        symbols: Iterable[str] | None = None,
        detail: str = "reset",
        reason: InvalidReason = InvalidReason.RESET,
    ) -> None:
        """Resync the given symbols (all when None), e.g. after a reconnect; ``GAP`` when the
        connector saw updates lost (a per-connection sequence jumped): counted as a gap."""
        for symbol in list(self._symbols) if symbols is None else symbols:
            state = self._state(symbol)
            if reason is InvalidReason.GAP:
                state.stats.gaps += 1
            state.buffer = []
            state.pending = None
            state.requested = False
            self._invalidate(state, reason, detail, state.stats.last_ts_recv)

    def check_stale(self, now_ns: int) -> list[str]:
        """Flag VALID books with no update for ``stale_after_ns``; return the newly stale."""
        limit = self.stale_after_ns
        if limit is None:
            return []
        stale = []
        for symbol, state in self._symbols.items():
            if state.status is BookStatus.VALID and now_ns - state.stats.last_ts_recv > limit:
                state.status = BookStatus.STALE
                stale.append(symbol)
                age = (now_ns - state.stats.last_ts_recv) // 1_000_000
                self._event(
                    BookInvalid(
                        symbol,
                        InvalidReason.STALE,
                        f"no update for {age} ms",
                        state.book.update_id,
                        now_ns,
                    )
                )
        return stale

    # -- internals ---------------------------------------------------------------------------

    def _gap(self, state: _Symbol, book_id: int, delta: BookDelta, ts_recv: int) -> bool:
        state.stats.gaps += 1
        detail = f"update ids jumped: book at {book_id}, delta starts at {delta.first_id}"
        self._invalidate(
            state, InvalidReason.GAP, detail, ts_recv, expected=book_id + 1, received=delta.first_id
        )
        # The gapped delta is the first event of the new buffer (spec 3.1: restart at step 1).
        state.buffer = [delta]
        return self._ask_snapshot(state)

    def _stale(self, state: _Symbol, ts_recv: int) -> bool:
        """Ignore a live delta older than the book; resync after ``max_stale_run`` in a row."""
        stats = state.stats
        stats.stale_ignored += 1
        # A run is stale deltas with nothing applied in between; comparing the applied count
        # with its value at the previous stale delta costs the applying hot path nothing.
        if state.stale_mark != stats.updates_applied:
            state.stale_mark = stats.updates_applied
            state.stale_run = 0
        state.stale_run += 1
        limit = self.max_stale_run
        if limit is None or state.stale_run < limit:
            return False
        # The feed flows but nothing applies: our update id is wrong (e.g. a diff with an
        # absurd last id was applied), and every later diff would be ignored forever.
        detail = f"{state.stale_run} deltas in a row older than book id {state.book.update_id}"
        return self._restart(state, InvalidReason.STALE_RUN, detail, ts_recv)

    def _malformed(self, state: _Symbol, detail: str, ts_recv: int) -> None:
        state.stats.malformed += 1
        state.buffer = []  # a buffer with a hole is useless: the next delta starts a new one
        self._invalidate(state, InvalidReason.MALFORMED, detail, ts_recv)

    def _restart(self, state: _Symbol, reason: InvalidReason, detail: str, ts_recv: int) -> bool:
        if reason is InvalidReason.CROSSED:
            state.stats.crossed += 1
        elif reason is InvalidReason.CHECKSUM_MISMATCH:
            state.stats.checksum_failures += 1
        self._invalidate(state, reason, detail, ts_recv)
        state.buffer = []  # the next delta starts the new buffer
        return False

    def _invalidate(
        self,
        state: _Symbol,
        reason: InvalidReason,
        detail: str,
        ts: int,
        *,
        expected: int | None = None,
        received: int | None = None,
    ) -> None:
        was = state.status
        state.live = False
        state.stale_run = 0
        if state.deepening:
            self._stop_deepening(state)
        if was is BookStatus.SYNCING:
            return  # never valid: nothing to withdraw
        if was is not BookStatus.RESYNCING:
            state.stats.resyncs += 1
        state.status = BookStatus.RESYNCING
        book = state.book
        self._event(
            BookInvalid(book.symbol, reason, detail, book.update_id, ts, expected, received)
        )

    def _ask_snapshot(self, state: _Symbol) -> bool:
        if state.requested:
            return False
        state.requested = True
        if self._request is not None:
            self._request(state.book.symbol)
        return True

    def _load(self, state: _Symbol, snapshot: BookSnapshot, ts_recv: int) -> bool:
        rule = self._rule
        stats = state.stats
        buffer = state.buffer
        snap_id = snapshot.last_id
        if rule is not None and not rule.snapshot_usable(snap_id, buffer[0]):
            stats.snapshot_refetches += 1
            return self._ask_snapshot(state)
        shadow = OrderBook(state.book.symbol, state.book.price_scale, state.book.qty_scale)
        shadow.load(snapshot.bids, snapshot.asks, snap_id, snapshot.ts_event, snapshot.depth)
        depth = self.max_depth
        if depth is not None:
            shadow.truncate(depth)
        stats.snapshots_applied += 1
        state.buffer = []
        if rule is None:
            # No ids to align with: the snapshot is taken to be newer than the buffer.
            stats.dropped_covered += len(buffer)
            buffer = []
        gap = self._replay(stats, shadow, snap_id, buffer)
        if gap is not None:
            state.buffer = buffer[gap:]  # re-buffer from the gap, fetch again
            return self._ask_snapshot(state)
        last_recv = buffer[-1].ts_recv if buffer else ts_recv
        return self._swap_in(state, shadow, max(last_recv, ts_recv))

    def _replay(
        self, stats: BookStats, shadow: OrderBook, snap_id: int, buffer: list[BookDelta]
    ) -> int | None:
        """Apply the buffered deltas newer than the snapshot to ``shadow``; a gap's index."""
        rule = self._rule
        depth = self.max_depth
        for index, delta in enumerate(buffer):
            if rule is not None:
                if rule.covered_by_snapshot(snap_id, delta):
                    stats.dropped_covered += 1
                    continue
                verdict = rule.check(shadow.update_id, delta.first_id, delta.last_id)
                if verdict is Verdict.STALE:
                    stats.stale_ignored += 1
                    continue
                if verdict is Verdict.GAP:
                    stats.gaps += 1
                    return index
            shadow.apply(delta.bids, delta.asks)
            if depth is not None:
                shadow.truncate(depth)
            shadow.update_id = delta.last_id
            shadow.ts_event = delta.ts_event
            stats.updates_applied += 1
        return None

    # -- deepening a live book ---------------------------------------------------------------

    def _keep_for_deeper(self, state: _Symbol, delta: BookDelta) -> None:
        self._append(state, delta)
        pending = state.pending
        if pending is not None and state.book.update_id >= pending.last_id:
            self._deepen(state, pending)

    def _deepen(self, state: _Symbol, snapshot: BookSnapshot) -> None:
        """Swap in the deeper snapshot plus the kept deltas if they reach the live book."""
        buffer = state.buffer
        self._stop_deepening(state)
        book = state.book
        shadow = OrderBook(book.symbol, book.price_scale, book.qty_scale)
        shadow.load(
            snapshot.bids, snapshot.asks, snapshot.last_id, snapshot.ts_event, snapshot.depth
        )
        # Counted on a scratch BookStats: these deltas are already in the live book's counts.
        gap = self._replay(BookStats(shadow), shadow, snapshot.last_id, buffer)
        if gap is not None or shadow.update_id != book.update_id or shadow.is_crossed():
            state.stats.snapshot_refetches += 1  # it did not fit: the book stays as it was
            return
        state.stats.snapshots_applied += 1
        book.replace_with(shadow)

    @staticmethod
    def _stop_deepening(state: _Symbol) -> None:
        state.deepening = False
        state.pending = None
        state.buffer = []

    def _swap_in(self, state: _Symbol, shadow: OrderBook, ts_recv: int) -> bool:
        """Make a caught-up replacement book the served one, unless it is crossed."""
        if self.check_crossed and shadow.is_crossed():
            # Never serve a crossed rebuild: keep the old (invalid) book, start a new buffer.
            state.stats.crossed += 1
            state.buffer = []
            return False
        state.book.replace_with(shadow)
        state.stats.last_ts_recv = ts_recv
        # In SNAPSHOT_ONLY mode deltas must keep taking the refusing (non-live) path.
        state.live = self.mode is not IntegrityMode.SNAPSHOT_ONLY
        if state.status is not BookStatus.VALID:
            state.status = BookStatus.VALID
            self._event(BookValid(state.book.symbol, state.book.update_id, ts_recv))
        return False

    def _event(self, event: BookEvent) -> None:
        if self._emit is not None:
            self._emit(event)
