"""L2 order book keyed by exact fixed-point prices, plus the delta/snapshot values fed to it.

Prices and quantities are plain ``int`` holding ``value * 10**scale`` (see
:mod:`connectivity.core.decimal`); ``Decimal`` appears only when a consumer asks for
:class:`~connectivity.core.models.BookLevel` values or a mid price.

Data structure (chosen by measurement, see ``benchmarks/book.py``): each side is a
``dict`` price -> quantity plus a sorted ``list`` of prices maintained with ``bisect``, with
the best price at the END of the list (bids ascending; asks stored negated, so ascending
``-price`` also ends with the best ask). Activity concentrates at the top of the book, so an
insert or delete of a level near the top moves only a few list slots, a quantity change on
an existing level is one dict store, and best bid/ask is O(1) after every message.

Quantities are absolute: a level update replaces the level's quantity; quantity 0 deletes
the level, and deleting a level we do not hold is normal (the venue's snapshot is
depth-limited) and ignored.

Covered range: a book loaded from a snapshot of ``depth`` levels per side that came back full
is exact only between its worst bid and worst ask: levels beyond them existed but were not
sent. Updates outside that price range are ignored (keeping them would serve a partial side as
if complete), so every level the book holds is exact and top-N never reaches past the covered
range; :meth:`OrderBook.covered_prices` and :meth:`OrderBook.complete_depth` tell how far it
reaches. A side that came back with fewer levels than asked is complete and unbounded.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple

from connectivity.core.decimal import FixedCache, fixed_to_decimal
from connectivity.core.models import BookLevel
from connectivity.errors import ConfigError, ParseError

__all__ = [
    "BookDelta",
    "BookSnapshot",
    "BookView",
    "ChecksumFn",
    "Level",
    "LevelDecoder",
    "OrderBook",
]

_UNBOUNDED = float("inf")  # an ask ceiling no price exceeds

Level = tuple[int, int]
"""One ``(price, quantity)`` level as fixed-point ints."""

ChecksumFn = Callable[["OrderBook"], int]
"""A venue's checksum over our book (e.g. CRC32 of the top levels), compared with theirs."""


class BookDelta(NamedTuple):
    """One incremental book update as parsed from a venue (absolute level quantities).

    ``first_id``/``last_id`` are the venue's update-id range (Binance ``U``/``u``); venues
    with a single sequence number put it in both. ``checksum`` is the venue-published value
    for venues that have one.
    """

    symbol: str
    first_id: int
    last_id: int
    bids: list[Level]
    asks: list[Level]
    ts_event: int
    ts_recv: int
    checksum: int | None = None


class BookSnapshot(NamedTuple):
    """A full (depth-limited) book from the venue, valid as of update id ``last_id``.

    ``depth`` is the number of levels per side that was asked for (None: the whole book); a
    side that came back with that many levels is exact only down to its last level.
    """

    symbol: str
    last_id: int
    bids: list[Level]
    asks: list[Level]
    ts_event: int
    ts_recv: int
    depth: int | None = None


class LevelDecoder:
    """Exact decoding of venue ``[price_text, qty_text]`` rows into :data:`Level` ints.

    Prices are memoised (:class:`FixedCache`: they repeat). Quantities rarely repeat, so on
    the fast path (the caller vouches the text is *clean*: ASCII with no sign, space, ``_``
    or escape, and no JSON object among the rows, e.g. ``exchanges.binance.parsers.clean_frame``)
    a quantity whose ``.`` sits ``qty_scale`` places from the end costs one ``int()`` of its
    digits; every other string goes through the strict parser, so both paths give identical
    values or a ParseError. A row must be a two-element array: a string row such as ``"97"``
    unpacks into one-character strings, which never take the fast path, and the strict
    parser refuses it (it would otherwise be price 9, quantity 7).
    """

    __slots__ = ("dot", "dot_at", "known", "prices", "quantities", "zero")

    def __init__(self, price_scale: int = 8, qty_scale: int = 8, cache_size: int = 65_536) -> None:
        # Sized for a few hundred symbols' active price grids (a few MB); emptied when full.
        self.prices = FixedCache(price_scale, cache_size)
        # The same prices in a plain dict for apply_text: an exact dict's lookup is specialised
        # by the interpreter, a dict subclass's is not (measurably slower per level).
        self.known: dict[str, int] = {}
        self.quantities = FixedCache(qty_scale, 4096)  # the strict path only
        self.dot = slice(-qty_scale - 1, -qty_scale)  # where '.' sits; never raises
        self.dot_at = -qty_scale - 1  # the same as an index: cheaper, IndexError when short
        self.zero: str | None = "0." + "0" * qty_scale  # a delete, as venues spell it
        if not qty_scale:
            # Integer quantities have no '.' to find, and a one-character quantity may be half
            # of a string row ("90"): every row takes the strict parser (slice(-1, 0) is empty).
            self.dot_at = -sys.maxsize  # always IndexError: apply_text decodes strictly
            self.zero = None

    def strict(self, rows: Iterable[Sequence[str]]) -> list[Level]:
        """Decode rows strictly: each must be a ``[price, qty]`` array, else ParseError."""
        if type(rows) is not list and type(rows) is not tuple:
            raise ParseError("book rows are not an array", payload=rows)
        for row in rows:
            # A string or an object would unpack into its characters or keys.
            if type(row) is not list and type(row) is not tuple:
                raise ParseError("book row is not a [price, qty] array", payload=row)
        prices = self.prices
        quantities = self.quantities
        try:
            return [(prices[p], quantities[q]) for p, q in rows]
        except ParseError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise ParseError(f"malformed book level: {exc!r}") from exc

    def learn(self, text: str) -> int:
        """Decode a price missing from ``known`` (strictly, via ``prices``) and remember it."""
        value = self.prices[text]
        known = self.known
        if len(known) >= self.prices.max_size:
            known.clear()  # bounded like ``prices``
        known[text] = value
        return value

    def fast(self, rows: Sequence[Sequence[str]]) -> list[Level]:
        """Decode rows of a clean frame (see the class docstring)."""
        prices = self.prices
        dot = self.dot
        try:
            levels = [(prices[p], int(q.replace(".", "", 1))) for p, q in rows if q[dot] == "."]
        except ParseError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise ParseError(f"malformed book level: {exc!r}") from exc
        if len(levels) != len(rows):
            return self.strict(rows)
        return levels


def _levels(levels: Sequence[Level], price_scale: int, qty_scale: int) -> list[BookLevel]:
    return [
        BookLevel(fixed_to_decimal(price, price_scale), fixed_to_decimal(qty, qty_scale))
        for price, qty in levels
    ]


class BookView(NamedTuple):
    """An immutable copy of the top of a book: cheap to take, safe to hand to other code.

    ``valid`` is False while the book is being resynchronised or is stale: never quote off
    a view that is not valid.
    """

    symbol: str
    update_id: int
    ts_event: int
    bids: tuple[Level, ...]  # best first
    asks: tuple[Level, ...]  # best first
    price_scale: int
    qty_scale: int
    valid: bool = True

    @property
    def best_bid(self) -> Level | None:
        """Return the best bid ``(price, qty)`` or None."""
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Level | None:
        """Return the best ask ``(price, qty)`` or None."""
        return self.asks[0] if self.asks else None

    def bid_levels(self) -> list[BookLevel]:
        """Return the bids as exact ``BookLevel`` values, best first."""
        return _levels(self.bids, self.price_scale, self.qty_scale)

    def ask_levels(self) -> list[BookLevel]:
        """Return the asks as exact ``BookLevel`` values, best first."""
        return _levels(self.asks, self.price_scale, self.qty_scale)


class OrderBook:
    """An L2 book of one symbol with exact fixed-point prices and quantities."""

    __slots__ = (
        "_ask_ceiling",
        "_ask_keys",
        "_asks",
        "_bid_floor",
        "_bid_keys",
        "_bids",
        "price_scale",
        "qty_scale",
        "snapshot_depth",
        "symbol",
        "ts_event",
        "update_id",
    )

    def __init__(self, symbol: str, price_scale: int = 8, qty_scale: int = 8) -> None:
        self.symbol = symbol
        self.price_scale = price_scale
        self.qty_scale = qty_scale
        self.update_id = 0  # venue id the book is valid as of (Binance: bookId)
        self.ts_event = 0  # venue time of the last applied update, ns
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bid_keys: list[int] = []  # ascending prices: best bid last
        self._ask_keys: list[int] = []  # ascending NEGATED prices: best ask last
        self._bid_floor: int = 0  # lowest bid price known exactly (0: the whole side)
        self._ask_ceiling: float = _UNBOUNDED  # highest ask price known exactly
        self.snapshot_depth: int | None = None  # levels per side the loaded snapshot asked for

    # -- writing ---------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove every level (a resync must never keep levels from the old book)."""
        self._bids = {}
        self._asks = {}
        self._bid_keys = []
        self._ask_keys = []
        self._bid_floor, self._ask_ceiling, self.snapshot_depth = 0, _UNBOUNDED, None
        self.update_id = 0
        self.ts_event = 0

    def load(
        self,
        bids: Iterable[Level],
        asks: Iterable[Level],
        update_id: int,
        ts_event: int = 0,
        depth: int | None = None,
    ) -> None:
        """Replace the whole book with a snapshot of ``depth`` levels per side (None: all).

        Zero quantities are skipped. A side with ``depth`` levels sets the covered range.
        """
        self._bids = {price: qty for price, qty in bids if qty}
        self._asks = {price: qty for price, qty in asks if qty}
        self._bid_keys = sorted(self._bids)
        self._ask_keys = sorted(-price for price in self._asks)
        limit = depth if depth is not None and depth > 0 else None  # None: the whole book
        bounded = limit is not None and len(self._bids) >= limit
        self._bid_floor = self._bid_keys[0] if bounded else 0
        bounded = limit is not None and len(self._asks) >= limit
        self._ask_ceiling = -self._ask_keys[0] if bounded else _UNBOUNDED
        self.snapshot_depth = depth
        self.update_id = update_id
        self.ts_event = ts_event

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> bool:
        """Apply absolute level updates; quantity 0 deletes (unknown levels are ignored).

        Return True when the book is crossed afterwards (saves the caller a second call).
        """
        book = self._bids
        keys = self._bid_keys
        floor = self._bid_floor
        for price, qty in bids:
            if price < floor:
                continue  # below the covered range: unknown neighbours, never served
            if qty:
                if price not in book:
                    insort(keys, price)
                book[price] = qty
            elif price in book:
                del book[price]
                del keys[bisect_left(keys, price)]
        book = self._asks
        keys = self._ask_keys
        ceiling = self._ask_ceiling
        for price, qty in asks:
            if price > ceiling:
                continue
            if qty:
                if price not in book:
                    insort(keys, -price)
                book[price] = qty
            elif price in book:
                del book[price]
                del keys[bisect_left(keys, -price)]
        bid_keys = self._bid_keys
        return bool(bid_keys) and bool(keys) and bid_keys[-1] >= -keys[-1]

    def apply_text(
        self,
        bids: Iterable[Sequence[str]],
        asks: Iterable[Sequence[str]],
        decoder: LevelDecoder,
    ) -> bool:
        """Decode and apply clean venue text rows in one pass (no intermediate levels).

        Same result as ``apply(decoder.fast(bids), decoder.fast(asks))``. On a malformed
        row it raises :class:`ParseError` with the rows before it applied: the caller must
        then resync the book. Return True when the book is crossed afterwards.
        """
        known = decoder.known
        learn = decoder.learn
        quantities = decoder.quantities
        dot = decoder.dot_at
        zero = decoder.zero
        try:
            book = self._bids
            keys = self._bid_keys
            floor = self._bid_floor
            for p, q in bids:
                try:
                    price = known[p]
                except KeyError:  # a new price (rare); an unhashable p raises TypeError
                    price = learn(p)
                if q == zero:  # deletes are frequent: skip the int() for them
                    if price in book:  # never below the covered range: nothing to check
                        del book[price]
                        del keys[bisect_left(keys, price)]
                    continue
                # q[dot] raises IndexError for a string shorter than the scale: see below.
                qty = int(q.replace(".", "", 1)) if q[dot] == "." else quantities[q]
                if price < floor:
                    continue  # below the covered range (see the module docstring), but read
                if qty:
                    if price not in book:
                        insort(keys, price)
                    book[price] = qty
                elif price in book:
                    del book[price]
                    del keys[bisect_left(keys, price)]
            book = self._asks
            keys = self._ask_keys
            ceiling = self._ask_ceiling
            for p, q in asks:
                try:
                    price = known[p]
                except KeyError:
                    price = learn(p)
                if q == zero:
                    if price in book:
                        del book[price]
                        del keys[bisect_left(keys, -price)]
                    continue
                qty = int(q.replace(".", "", 1)) if q[dot] == "." else quantities[q]
                if price > ceiling:
                    continue
                if qty:
                    if price not in book:
                        insort(keys, -price)
                    book[price] = qty
                elif price in book:
                    del book[price]
                    del keys[bisect_left(keys, -price)]
        except ParseError:
            raise
        except IndexError:
            # A short quantity ("1", or "" which is refused): decode every row strictly and
            # apply them all again. Rows carry absolute quantities, so re-applying the ones
            # already applied, in the same order, leaves the same book.
            return self.apply(decoder.strict(bids), decoder.strict(asks))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ParseError(f"malformed book level: {exc!r}") from exc
        bid_keys = self._bid_keys
        return bool(bid_keys) and bool(keys) and bid_keys[-1] >= -keys[-1]

    def truncate(self, depth: int) -> int:
        """Keep only the best ``depth`` levels of each side; return how many were removed.

        Checksum venues (Kraken, OKX) define the book as its top N levels and never delete
        a level that falls below them: a local book must drop it the same way.
        """
        if depth < 0:
            raise ConfigError(f"book depth must be >= 0, got {depth}")
        removed = 0
        keys = self._bid_keys  # best last: the worst levels are the first ones
        if len(keys) > depth:
            cut = len(keys) - depth
            for price in keys[:cut]:
                del self._bids[price]
            del keys[:cut]
            removed += cut
        keys = self._ask_keys
        if len(keys) > depth:
            cut = len(keys) - depth
            for key in keys[:cut]:
                del self._asks[-key]
            del keys[:cut]
            removed += cut
        return removed

    def set_level(self, is_bid: bool, price: int, qty: int) -> None:
        """Set one level's absolute quantity (0 deletes)."""
        if is_bid:
            self.apply(((price, qty),), ())
        else:
            self.apply((), ((price, qty),))

    def replace_with(self, other: OrderBook) -> None:
        """Take over ``other``'s levels and ids in O(1) (``other`` is left empty).

        Lets a resync build the new book on the side and swap it in, so consumers holding
        this object keep a valid reference.
        """
        self._bids, other._bids = other._bids, {}
        self._asks, other._asks = other._asks, {}
        self._bid_keys, other._bid_keys = other._bid_keys, []
        self._ask_keys, other._ask_keys = other._ask_keys, []
        self._bid_floor, self._ask_ceiling = other._bid_floor, other._ask_ceiling
        self.snapshot_depth = other.snapshot_depth
        self.update_id = other.update_id
        self.ts_event = other.ts_event

    # -- reading ---------------------------------------------------------------------------

    def best_bid(self) -> Level | None:
        """Return the best bid ``(price, qty)`` or None; O(1)."""
        keys = self._bid_keys
        if not keys:
            return None
        price = keys[-1]
        return price, self._bids[price]

    def best_ask(self) -> Level | None:
        """Return the best ask ``(price, qty)`` or None; O(1)."""
        keys = self._ask_keys
        if not keys:
            return None
        price = -keys[-1]
        return price, self._asks[price]

    def best_bid_price(self) -> int | None:
        """Return the best bid price or None; O(1)."""
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask_price(self) -> int | None:
        """Return the best ask price or None; O(1)."""
        return -self._ask_keys[-1] if self._ask_keys else None

    def is_crossed(self) -> bool:
        """Return True when best bid >= best ask (a broken book: never quote off it)."""
        bids = self._bid_keys
        asks = self._ask_keys
        return bool(bids) and bool(asks) and bids[-1] >= -asks[-1]

    def spread(self) -> int | None:
        """Return best ask - best bid at ``price_scale``, or None when a side is empty."""
        if not self._bid_keys or not self._ask_keys:
            return None
        return -self._ask_keys[-1] - self._bid_keys[-1]

    def mid(self) -> Decimal | None:
        """Return the exact mid price as ``Decimal``, or None when a side is empty."""
        if not self._bid_keys or not self._ask_keys:
            return None
        total = self._bid_keys[-1] - self._ask_keys[-1]
        return fixed_to_decimal(total * 5, self.price_scale + 1)

    def bids(self, n: int | None = None) -> list[Level]:
        """Return up to ``n`` bids (all when None), best first."""
        keys = self._bid_keys if n is None else self._bid_keys[-n:] if n > 0 else []
        book = self._bids
        return [(price, book[price]) for price in reversed(keys)]

    def asks(self, n: int | None = None) -> list[Level]:
        """Return up to ``n`` asks (all when None), best first."""
        keys = self._ask_keys if n is None else self._ask_keys[-n:] if n > 0 else []
        book = self._asks
        return [(-key, book[-key]) for key in reversed(keys)]

    def bid_quantity(self, price: int) -> int:
        """Return the quantity at a bid price (0 when the level is absent)."""
        return self._bids.get(price, 0)

    def ask_quantity(self, price: int) -> int:
        """Return the quantity at an ask price (0 when the level is absent)."""
        return self._asks.get(price, 0)

    def depth(self) -> tuple[int, int]:
        """Return the number of ``(bid, ask)`` levels held."""
        return len(self._bids), len(self._asks)

    def covered_prices(self) -> tuple[int | None, int | None]:
        """Return the lowest bid and highest ask price known exactly (None: unbounded side)."""
        ceiling = self._ask_ceiling
        return self._bid_floor or None, None if ceiling == _UNBOUNDED else int(ceiling)

    def complete_depth(self) -> tuple[int | None, int | None]:
        """Return how many ``(bid, ask)`` levels from the top are exact (None: the whole side).

        A bounded side holds only levels inside the covered range, all exact; an unbounded
        side (its snapshot returned fewer levels than asked) is the venue's whole side.
        """
        bids = len(self._bids) if self._bid_floor else None
        asks = len(self._asks) if self._ask_ceiling != _UNBOUNDED else None
        return bids, asks

    def view(self, n: int = 10, *, valid: bool = True) -> BookView:
        """Return an immutable copy of the top ``n`` levels per side."""
        return BookView(
            self.symbol,
            self.update_id,
            self.ts_event,
            tuple(self.bids(n)),
            tuple(self.asks(n)),
            self.price_scale,
            self.qty_scale,
            valid,
        )

    def bid_levels(self, n: int | None = None) -> list[BookLevel]:
        """Return bids as exact ``BookLevel`` values, best first."""
        return _levels(self.bids(n), self.price_scale, self.qty_scale)

    def ask_levels(self, n: int | None = None) -> list[BookLevel]:
        """Return asks as exact ``BookLevel`` values, best first."""
        return _levels(self.asks(n), self.price_scale, self.qty_scale)

    def checksum(self, fn: ChecksumFn) -> int:
        """Return the venue checksum of this book computed by ``fn`` (the checksum hook)."""
        return fn(self)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol!r}, update_id={self.update_id}, "
            f"best_bid={self.best_bid()}, best_ask={self.best_ask()}, depth={self.depth()})"
        )
