"""Order book: the same synthetic Binance diffs applied by ours, ccxt pro and cryptofeed.

Command (from the repository root)::

    python benchmarks/book.py [--messages 200000] [--levels 10] [--seed 7]

A deterministic generator produces one ``GET /api/v3/depth`` snapshot (1000 levels a side
around a mid of 30000.00) and ``--messages`` combined-stream ``depthUpdate`` frames for
BTCUSDT, each with ``--levels`` level updates (bids and asks, about 20% deletes of levels
that exist, quantities with 8 decimals, levels spread around a random-walking mid, contiguous
``U``/``u`` ids). Each contender loads the snapshot (untimed), then the timer runs over every
frame from its raw form to the applied book, through the contender's own code:

- ours: ``parse_frame`` (orjson, exact fixed-point ints) -> ``BookSync.on_delta``
  (Binance U/u rule, crossed check) on raw ``bytes`` (what our websocket reader delivers);
- ccxt pro: ``Client.handle_text_or_binary_message`` (its JSON decode) ->
  ``binance.handle_message`` -> ``handle_order_book`` (nonce rules) ->
  ``handle_order_book_message`` -> ``handle_deltas`` on its ``OrderBook`` (float prices),
  fed ``str`` frames (what aiohttp delivers);
- cryptofeed: ``Binance.message_handler`` (yapic JSON) -> ``_book`` (update-id rule, Decimal
  prices, its C ``order_book``), an ``async`` call awaited in one asyncio task, fed ``str``.

All final books are compared level by level after normalising to ``Decimal`` (the run fails
if any differs from ours or from the generator's truth). The last line is JSON with the
figures, the ratio to the faster peer and whether the target (>= 2x) was met. A peer that is
not installed is reported as skipped.
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
from exchanges.binance.constants import BOOK_INTEGRITY, BOOK_SEQUENCE_RULE  # noqa: E402
from exchanges.binance.parsers import (  # noqa: E402
    feed_frame,
    parse_depth_snapshot,
    parse_frame,
)

TARGET_RATIO = 2.0
SYMBOL = "BTCUSDT"
STREAM = "btcusdt@depth@100ms"
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


def _timed(run: Any) -> tuple[float, Any]:
    gc.collect()
    start = time.process_time()
    result = run()
    return time.process_time() - start, result


def _our_sync(snapshot: str) -> BookSync:
    sync = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE)
    sync.on_snapshot(SYMBOL, parse_depth_snapshot(snapshot.encode(), SYMBOL, 0))
    return sync


def _our_book(sync: BookSync) -> Book:
    if not sync.is_valid(SYMBOL):
        raise SystemExit(f"our book is not valid: {sync.stats(SYMBOL)}")
    book = sync.book(SYMBOL)
    return (
        [(level.price, level.quantity) for level in book.bid_levels()],
        [(level.price, level.quantity) for level in book.ask_levels()],
    )


def bench_ours(snapshot: str, frames: list[str]) -> tuple[float, Book]:
    """feed_frame: raw bytes decoded and applied in one pass through BookSync."""
    raw_frames = [frame.encode() for frame in frames]
    sync = _our_sync(snapshot)

    def run() -> None:
        for raw in raw_frames:
            feed_frame(raw, 0, sync)

    seconds, _ = _timed(run)
    return seconds, _our_book(sync)


def bench_ours_two_step(snapshot: str, frames: list[str]) -> tuple[float, Book]:
    """parse_frame to a BookDelta of int levels, then BookSync.on_delta."""
    raw_frames = [frame.encode() for frame in frames]
    sync = _our_sync(snapshot)

    def run() -> None:
        on_delta = sync.on_delta
        for raw in raw_frames:
            msg = parse_frame(raw, 0)
            if type(msg) is BookDelta:
                on_delta(msg.symbol, msg, 0)

    seconds, _ = _timed(run)
    return seconds, _our_book(sync)


def bench_ccxt(snapshot: str, frames: list[str]) -> tuple[float, Book]:
    """Drive ccxt pro's own Binance websocket message path on its OrderBook."""
    import ccxt.pro

    async def main() -> tuple[float, Book]:
        exchange = ccxt.pro.binance({"newUpdates": False})
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
        url = "wss://stream.binance.com:9443/stream?streams=" + STREAM
        client = exchange.client(url)
        response = json.loads(snapshot)
        parsed = exchange.parse_order_book(response, "BTC/USDT")
        parsed["nonce"] = response["lastUpdateId"]  # as binance.fetch_order_book does
        orderbook = exchange.order_book({})
        orderbook.reset(parsed)
        exchange.orderbooks["BTC/USDT"] = orderbook
        handle = client.handle_text_or_binary_message

        def run() -> None:
            for frame in frames:
                handle(frame)

        seconds, _ = _timed(run)
        book = exchange.orderbooks["BTC/USDT"]
        result = (
            [(Decimal(repr(p)), Decimal(repr(q))) for p, q in book["bids"]],
            [(Decimal(repr(p)), Decimal(repr(q))) for p, q in book["asks"]],
        )
        await exchange.close()
        return seconds, result

    return asyncio.run(main())


def bench_cryptofeed(snapshot: str, frames: list[str]) -> tuple[float, Book]:
    """Drive cryptofeed's Binance message handler and book code in one asyncio task."""
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

    class SnapshotConn:
        async def read(self, *args: Any, **kwargs: Any) -> str:
            return snapshot

        async def close(self) -> None:
            return None

    async def on_book(book: Any, receipt: float) -> None:
        return None

    async def main() -> tuple[float, Book]:
        feed = Binance(symbols=["BTC-USDT"], channels=[L2_BOOK], callbacks={L2_BOOK: on_book})
        feed.http_conn = SnapshotConn()
        await feed._snapshot(SYMBOL)
        handler = feed.message_handler
        loop = asyncio.get_running_loop()

        async def run() -> None:
            for frame in frames:
                await handler(frame, None, 0.0)

        gc.collect()
        start = time.process_time()
        await run()
        seconds = time.process_time() - start
        del loop
        book = feed._l2_book["BTC-USDT"].book
        bids = book.bids.to_list()
        asks = book.asks.to_list()
        return seconds, ([(p, q) for p, q in bids], [(p, q) for p, q in asks])

    return asyncio.run(main())


def _same(a: Book, b: Book) -> bool:
    return a[0] == b[0] and a[1] == b[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="best of N interleaved runs")
    args = parser.parse_args()
    snapshot, frames, truth = generate(args.messages, args.levels, args.seed)
    result: dict[str, Any] = {
        "benchmark": "book",
        "messages": args.messages,
        "levels_per_message": args.levels,
        "level_updates": args.messages * args.levels,
    }
    contenders = {
        "ours": bench_ours,
        "ours_two_step": bench_ours_two_step,
        "ccxt": bench_ccxt,
        "cryptofeed": bench_cryptofeed,
    }
    best: dict[str, float] = {}
    books: dict[str, Book] = {}
    for _ in range(args.repeat):  # interleaved, best of N: the machine may be shared
        for name, bench in contenders.items():
            if f"{name}_skipped" in result:
                continue
            try:
                seconds, book = bench(snapshot, frames)
            except ImportError as exc:
                result[f"{name}_skipped"] = f"not installed: {exc}"
                continue
            best[name] = min(seconds, best.get(name, seconds))
            books[name] = book
    ours_book = books["ours"]
    if not _same(ours_book, truth):
        raise SystemExit("our final book differs from the generator's true book")
    for name, book in books.items():
        if not _same(book, ours_book):
            raise SystemExit(f"{name}'s final book differs from ours")
    ours_s = best.pop("ours")
    two_step_s = best.pop("ours_two_step")
    result["ours_msgs_per_s"] = round(args.messages / ours_s)
    result["ours_two_step_msgs_per_s"] = round(args.messages / two_step_s)
    peers = best
    for name, seconds in peers.items():
        result[f"{name}_msgs_per_s"] = round(args.messages / seconds)
    result["books_identical"] = True
    result["final_depth"] = [len(ours_book[0]), len(ours_book[1])]
    if peers:
        fastest = min(peers, key=lambda name: peers[name])
        ratio = peers[fastest] / ours_s
        result["fastest_peer"] = fastest
        result["ratio_vs_fastest_peer"] = round(ratio, 2)
        result["two_step_ratio_vs_fastest_peer"] = round(peers[fastest] / two_step_s, 2)
        result["target_ratio"] = TARGET_RATIO
        result["met"] = ratio >= TARGET_RATIO
    result["python"] = sys.version.split()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
