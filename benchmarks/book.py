"""Order book: the same synthetic Binance diffs applied by ours, ccxt pro and cryptofeed.

Command (from the repository root)::

    python benchmarks/book.py [--messages 200000] [--levels 10] [--seed 7] \
                              [--repeat 2] [--chunk 2000]

A deterministic generator produces one ``GET /api/v3/depth`` snapshot (1000 levels a side
around a mid of 30000.00) and ``--messages`` combined-stream ``depthUpdate`` frames for
BTCUSDT, each with ``--levels`` level updates (bids and asks, about 20% deletes of levels
that exist, quantities with 8 decimals, levels spread around a random-walking mid, contiguous
``U``/``u`` ids). Each contender loads the snapshot (untimed), then the timer runs over every
frame from its raw form to the applied book, through the contender's own code:

- ours: ``feed_frame`` (orjson, exact fixed-point ints, decoded and applied in one pass by
  ``BookSync.on_delta_text``: Binance U/u rule, crossed check) on raw ``bytes`` (what our
  websocket reader delivers); also reported: ``ours_two_step`` = ``parse_frame`` to a
  ``BookDelta`` of int levels, then ``BookSync.on_delta``;
- ccxt pro: ``Client.handle_text_or_binary_message`` (its JSON decode) ->
  ``binance.handle_message`` -> ``handle_order_book`` (nonce rules) ->
  ``handle_order_book_message`` -> ``handle_deltas`` on its ``OrderBook`` (float prices),
  fed ``str`` frames (what aiohttp delivers);
- cryptofeed: ``Binance.message_handler`` (yapic JSON) -> ``_book`` (update-id rule, Decimal
  prices, its C ``order_book``), an ``async`` call awaited in one asyncio task, fed ``str``.

Timing is process CPU time; the contenders run interleaved, ``--chunk`` frames at a time in
rotating order, so a busy shared machine slows them alike; the best of ``--repeat`` full
runs counts. All final books are compared level by level after normalising to ``Decimal``
(the run fails if any differs from ours or from the generator's truth). The last line is
JSON with the figures, the ratio to the faster peer and whether the target (>= 2x) was met.
A peer that is not installed is reported as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from connectivity.core.book import BookDelta  # noqa: E402
from connectivity.core.book_sync import BookSync  # noqa: E402
from connectivity.core.decimal import fixed_to_decimal  # noqa: E402
from exchanges.binance.constants import (  # noqa: E402
    BOOK_INTEGRITY,
    BOOK_SEQUENCE_RULE,
    DEPTH_STREAM,
)
from exchanges.binance.parsers import (  # noqa: E402
    feed_frame,
    parse_depth_snapshot,
    parse_frame,
)

TARGET_RATIO = 2.0
SYMBOL = "BTCUSDT"
STREAM = DEPTH_STREAM.format(symbol="btcusdt")
TICK = 1_000_000  # 0.01 at scale 8
Book = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]


def _fmt(value: int) -> str:
    return f"{value // 100_000_000}.{value % 100_000_000:08d}"


def generate(messages: int, levels: int, seed: int) -> tuple[str, list[str], Book]:
    """Return (snapshot body, frames, the true final book) for a deterministic random run."""
    rng = random.Random(seed)
    mid = 30_000 * 100_000_000
    bids = {mid - i * TICK: rng.randint(1, 10**9) for i in range(1, 1001)}
    asks = {mid + i * TICK: rng.randint(1, 10**9) for i in range(1, 1001)}
    first_id = 1_000_000
    snapshot = json.dumps(
        {
            "lastUpdateId": first_id,
            "bids": [[_fmt(p), _fmt(q)] for p, q in sorted(bids.items(), reverse=True)],
            "asks": [[_fmt(p), _fmt(q)] for p, q in sorted(asks.items())],
        },
        separators=(",", ":"),
    )
    frames = []
    next_id = first_id
    event_ms = 1_700_000_000_000
    for index in range(messages):
        if rng.random() < 0.1:
            mid += TICK if rng.random() < 0.5 else -TICK
        rows: dict[bool, dict[int, int]] = {True: {}, False: {}}
        # Keep the book uncrossed as the mid walks: delete levels on the wrong side first.
        for price in [p for p in bids if p >= mid]:
            rows[True][price] = 0
        for price in [p for p in asks if p <= mid]:
            rows[False][price] = 0
        while sum(len(r) for r in rows.values()) < levels:
            is_bid = rng.random() < 0.5
            side = bids if is_bid else asks
            if rng.random() < 0.2 and side:
                price = (
                    rng.choice(list(side)[-200:]) if rng.random() < 0.5 else rng.choice(list(side))
                )
                rows[is_bid][price] = 0
            else:
                # Half the activity at the top of the book, half anywhere in 1000 ticks: a
                # deep book (hundreds of levels a side) with a busy top.
                if rng.random() < 0.5:
                    distance = 1 + int(rng.expovariate(1 / 20))
                else:
                    distance = rng.randint(1, 1000)
                price = mid - distance * TICK if is_bid else mid + distance * TICK
                rows[is_bid][price] = rng.randint(1, 10**10)
        for is_bid, side in ((True, bids), (False, asks)):
            for price, qty in rows[is_bid].items():
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        span = 2 if index == 0 else rng.randint(1, 3)
        data = {
            "e": "depthUpdate",
            "E": event_ms + index * 100,
            "s": SYMBOL,
            "U": next_id,
            "u": next_id + span - 1,
            "b": [[_fmt(p), _fmt(q)] for p, q in rows[True].items()],
            "a": [[_fmt(p), _fmt(q)] for p, q in rows[False].items()],
        }
        next_id += span
        frames.append(json.dumps({"stream": STREAM, "data": data}, separators=(",", ":")))
    truth = (
        [
            (fixed_to_decimal(p, 8), fixed_to_decimal(q, 8))
            for p, q in sorted(bids.items(), reverse=True)
        ],
        [(fixed_to_decimal(p, 8), fixed_to_decimal(q, 8)) for p, q in sorted(asks.items())],
    )
    return snapshot, frames, truth


class Contender:
    """One implementation: ``load`` the snapshot, ``run`` frames (timed), ``book`` at the end."""

    name = ""

    def load(self, snapshot: str) -> None:
        """Load the snapshot (untimed)."""

    def run(self, frames: list[Any]) -> None:
        """Apply the frames, from their raw form to the book."""

    def prepare(self, frames: list[str]) -> list[Any]:
        """Return the frames in the form this contender's transport delivers (untimed)."""
        return frames

    def book(self) -> Book:
        """Return the final book normalised to Decimal, best first."""
        raise NotImplementedError


class Ours(Contender):
    """feed_frame: raw bytes decoded and applied in one pass through BookSync."""

    name = "ours"

    def load(self, snapshot: str) -> None:
        self.sync = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE)
        self.sync.on_snapshot(SYMBOL, parse_depth_snapshot(snapshot.encode(), SYMBOL, 0))

    def prepare(self, frames: list[str]) -> list[Any]:
        return [frame.encode() for frame in frames]  # our websocket reader yields bytes

    def run(self, frames: list[Any]) -> None:
        sync = self.sync
        for raw in frames:
            feed_frame(raw, 0, sync)

    def book(self) -> Book:
        if not self.sync.is_valid(SYMBOL):
            raise SystemExit(f"{self.name}: book not valid: {self.sync.stats(SYMBOL)}")
        book = self.sync.book(SYMBOL)
        return (
            [(level.price, level.quantity) for level in book.bid_levels()],
            [(level.price, level.quantity) for level in book.ask_levels()],
        )


class OursTwoStep(Ours):
    """parse_frame to a BookDelta of int levels, then BookSync.on_delta."""

    name = "ours_two_step"

    def run(self, frames: list[Any]) -> None:
        on_delta = self.sync.on_delta
        for raw in frames:
            msg = parse_frame(raw, 0)
            if type(msg) is BookDelta:
                on_delta(msg.symbol, msg, 0)


class Ccxt(Contender):
    """ccxt pro's own Binance websocket message path on its OrderBook."""

    name = "ccxt"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        import ccxt.pro

        self.loop = loop
        self.exchange = ccxt.pro.binance({"newUpdates": False})

    def load(self, snapshot: str) -> None:
        exchange = self.exchange
        exchange.set_markets(
            [
                {
                    "id": SYMBOL,
                    "symbol": "BTC/USDT",
                    "base": "BTC",
                    "quote": "USDT",
                    "baseId": "BTC",
                    "quoteId": "USDT",
                    "type": "spot",
                    "spot": True,
                    "active": True,
                    "precision": {},
                    "limits": {},
                }
            ]
        )

        async def client() -> Any:  # ccxt's Client wants a running loop to exist
            return exchange.client("wss://stream.binance.com:9443/stream?streams=" + STREAM)

        self.client = self.loop.run_until_complete(client())
        response = json.loads(snapshot)
        parsed = exchange.parse_order_book(response, "BTC/USDT")
        parsed["nonce"] = response["lastUpdateId"]  # as binance.fetch_order_book does
        orderbook = exchange.order_book({})
        orderbook.reset(parsed)
        exchange.orderbooks["BTC/USDT"] = orderbook

    def run(self, frames: list[Any]) -> None:
        handle = self.client.handle_text_or_binary_message  # JSON decode + handle_message
        for frame in frames:
            handle(frame)

    def book(self) -> Book:
        book = self.exchange.orderbooks["BTC/USDT"]
        result = (
            [(Decimal(repr(p)), Decimal(repr(q))) for p, q in book["bids"]],
            [(Decimal(repr(p)), Decimal(repr(q))) for p, q in book["asks"]],
        )
        self.loop.run_until_complete(self.exchange.close())
        return result


class Cryptofeed(Contender):
    """cryptofeed's Binance message handler and book code, awaited in an asyncio task."""

    name = "cryptofeed"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        from cryptofeed.defines import L2_BOOK
        from cryptofeed.exchanges import Binance
        from cryptofeed.symbols import Symbols

        info = {
            "symbols": [
                {
                    "symbol": SYMBOL,
                    "baseAsset": "BTC",
                    "quoteAsset": "USDT",
                    "status": "TRADING",
                    "filters": [{"tickSize": "0.01000000"}],
                }
            ]
        }
        Symbols.set(Binance.id, *Binance._parse_symbol_data(info))  # no network for the mapping

        async def on_book(book: Any, receipt: float) -> None:
            return None

        async def make() -> Any:
            return Binance(symbols=["BTC-USDT"], channels=[L2_BOOK], callbacks={L2_BOOK: on_book})

        self.loop = loop
        self.feed = loop.run_until_complete(make())

    def load(self, snapshot: str) -> None:
        class SnapshotConn:  # stands in for its HTTP client: returns the recorded body
            async def read(self, *args: Any, **kwargs: Any) -> str:
                return snapshot

            async def close(self) -> None:
                return None

        self.feed.http_conn = SnapshotConn()
        self.loop.run_until_complete(self.feed._snapshot(SYMBOL))

    def run(self, frames: list[Any]) -> None:
        handler = self.feed.message_handler

        async def run() -> None:
            for frame in frames:
                await handler(frame, None, 0.0)

        self.loop.run_until_complete(run())

    def book(self) -> Book:
        book = self.feed._l2_book["BTC-USDT"].book
        return list(book.bids.to_list()), list(book.asks.to_list())


def _contenders(loop: asyncio.AbstractEventLoop, result: dict[str, Any]) -> list[Contender]:
    found: list[Contender] = [Ours(), OursTwoStep()]
    for name, cls in (("ccxt", Ccxt), ("cryptofeed", Cryptofeed)):
        try:
            found.append(cls(loop))
        except ImportError as exc:
            result[f"{name}_skipped"] = f"not installed: {exc}"
    return found


def _same(a: Book, b: Book) -> bool:
    return a[0] == b[0] and a[1] == b[1]


def run_once(
    snapshot: str,
    frames: list[str],
    chunk: int,
    loop: asyncio.AbstractEventLoop,
    result: dict[str, Any],
) -> tuple[dict[str, float], dict[str, Book]]:
    """Run every contender over all frames, interleaved chunk by chunk; return CPU seconds."""
    contenders = _contenders(loop, result)
    inputs = {c.name: c.prepare(frames) for c in contenders}
    for contender in contenders:
        contender.load(snapshot)
    seconds = dict.fromkeys((c.name for c in contenders), 0.0)
    for index, start in enumerate(range(0, len(frames), chunk)):
        # Rotate who goes first so no contender always runs right after another one's garbage.
        order = contenders[index % len(contenders) :] + contenders[: index % len(contenders)]
        for contender in order:
            part = inputs[contender.name][start : start + chunk]
            gc.collect()
            begin = time.process_time()
            contender.run(part)
            seconds[contender.name] += time.process_time() - begin
    return seconds, {c.name: c.book() for c in contenders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2, help="best of N full runs")
    parser.add_argument("--chunk", type=int, default=2_000, help="frames per interleaved slice")
    args = parser.parse_args()
    snapshot, frames, truth = generate(args.messages, args.levels, args.seed)
    result: dict[str, Any] = {
        "benchmark": "book",
        "messages": args.messages,
        "levels_per_message": args.levels,
        "level_updates": args.messages * args.levels,
        "timer": "process CPU time, contenders interleaved every --chunk frames, best of --repeat",
    }
    loop = asyncio.new_event_loop()
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        seconds, books = run_once(snapshot, frames, args.chunk, loop, result)
        if not _same(books["ours"], truth):
            raise SystemExit("our final book differs from the generator's true book")
        for name, book in books.items():
            if not _same(book, books["ours"]):
                raise SystemExit(f"{name}'s final book differs from ours")
        for name, value in seconds.items():
            best[name] = min(value, best.get(name, value))
    loop.close()
    ours_s = best.pop("ours")
    two_step_s = best.pop("ours_two_step")
    result["ours_msgs_per_s"] = round(args.messages / ours_s)
    result["ours_two_step_msgs_per_s"] = round(args.messages / two_step_s)
    for name, value in best.items():
        result[f"{name}_msgs_per_s"] = round(args.messages / value)
    result["books_identical"] = True
    result["final_depth"] = [len(truth[0]), len(truth[1])]
    if best:
        fastest = min(best, key=lambda name: best[name])
        ratio = best[fastest] / ours_s
        result["fastest_peer"] = fastest
        result["ratio_vs_fastest_peer"] = round(ratio, 2)
        result["two_step_ratio_vs_fastest_peer"] = round(best[fastest] / two_step_s, 2)
        result["target_ratio"] = TARGET_RATIO
        result["met"] = ratio >= TARGET_RATIO
    result["python"] = sys.version.split()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
