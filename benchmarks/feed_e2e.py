"""Feed end to end: a flood of Binance depth diffs over loopback, socket to book applied.

Command (from the repository root)::

    python benchmarks/feed_e2e.py [--messages 100000] [--actions 4] [--seed 3]

For each contender a fresh simulated Binance venue (``exchanges.binance.sim``) is started in a
separate server process with the same seed, so every contender gets byte-identical data: the
venue freezes its market and pre-encodes ``--messages`` combined-stream ``depthUpdate`` frames
for BTCUSDT (each from up to ``--actions`` random level changes around the mid; exact 8-decimal
strings; contiguous ``U``/``u``). The default ``--actions 4`` gives 2.4 level updates and about
205 bytes per message, which is what the real Binance recording in ``tests/data/recorded``
averages (2.38 levels, 205 bytes per ``depthUpdate``); ``--actions 20`` gives about 9.5 levels
per message (the size ``benchmarks/book.py`` uses). A new ``btcusdt@depth@100ms`` subscriber
gets one lead diff; the venue serves a REST snapshot pinned right after it and then writes the
whole flood to the socket back to back. Each contender runs in its own client process:

- ours: ``BinanceMarketData`` (the real connector: live SUBSCRIBE, ``WebSocketConnection``'s
  reader, the stream router, the Binance parsers, ``BookSync`` with the U/u rule and crossed
  check, snapshot through ``RestClient`` and its limiter) under gevent;
- cryptofeed: its ``Binance`` feed (``/stream?streams=`` URL, aiohttp snapshot, ``websockets``
  reader, its update-id check, Decimal book, book callback) on asyncio with uvloop, its default.
  Its endpoints are pointed at the local venue by subclassing ``Binance`` with local
  ``websocket_endpoints`` / ``rest_endpoints`` (the class attributes it reads them from).

The venue holds the flood until the contender asks for it (``POST /sim/release_flood``, a
simulator hook): the clock starts when the contender's book is valid (snapshot applied), the
contender then releases the flood (the same blocking loopback request for both) and the clock
stops when its book reaches the flood's final update id; the rate is flood messages / elapsed.

cryptofeed only accepts ``wss://`` addresses (one check in ``WSAsyncConn.__init__``); the
local venue speaks plain ``ws://`` to both contenders, so the client passes that check with a
``wss://`` spelling and then connects to the real ``ws://`` address. TLS is thus out of both
measurements; nothing else in cryptofeed's path is changed.

Both final books are compared with the venue's true book (a digest of every level); a mismatch
fails the run. The last line is a JSON object: per contender the wall-clock rate (``rate``) and,
because the machine may be shared, messages per CPU second of the client process
(``rate_per_cpu_second``), with the 1-minute load average at the end of the run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

SYMBOL = "BTCUSDT"
TARGET_RATE = 60_000
TIMEOUT_S = 120.0


def digest(bids: Iterable[tuple[Decimal, Decimal]], asks: Iterable[tuple[Decimal, Decimal]]) -> str:
    """Return a digest of a book (bids best first, then asks best first), exact decimals."""
    from connectivity.core.decimal import format_decimal

    text = ";".join(f"{format_decimal(p)}:{format_decimal(q)}" for p, q in bids)
    text += "|" + ";".join(f"{format_decimal(p)}:{format_decimal(q)}" for p, q in asks)
    return hashlib.sha256(text.encode()).hexdigest()


# -- server process ------------------------------------------------------------------------------
def serve(messages: int, actions: int, seed: int) -> None:
    """Run the flooding venue until stdin closes; print its URLs and the truth first."""
    from connectivity.runtime import patch

    patch()
    import attrs
    import gevent
    import gevent.os

    from exchanges.binance.constants import DEPTH_STREAM
    from exchanges.binance.sim import BINANCE_SIM_SETTINGS, DEFAULT_SYMBOLS, BinanceSimVenue

    venue = BinanceSimVenue(
        [DEFAULT_SYMBOLS[0]], seed=seed, settings=attrs.evolve(BINANCE_SIM_SETTINGS, tick_s=3600.0)
    )
    venue.start()
    level_updates = venue.prepare_flood(SYMBOL, messages, max_actions=actions, hold=True)
    truth = venue.true_book(SYMBOL)
    stream = DEPTH_STREAM.format(symbol=SYMBOL.lower())
    info = {
        "rest": venue.rest_url,
        "ws": venue.ws_url,
        "final_id": truth.update_id,
        "digest": digest(truth.bids, truth.asks),
        "levels": len(truth.bids) + len(truth.asks),
        "levels_per_message": round(level_updates / messages, 2),
        "bytes_per_message": round(venue.flood_bytes(stream, True) / messages),
    }
    print(json.dumps(info), flush=True)
    while gevent.os.tp_read(sys.stdin.fileno(), 1):  # until the parent closes our stdin
        pass
    venue.close()


# -- client processes ----------------------------------------------------------------------------
def release(info: dict[str, Any]) -> None:
    """Ask the venue to write the held flood now (the clock has just started)."""
    import urllib.request

    url = f"{info['rest']}/sim/release_flood?symbol={SYMBOL}"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as reply:
        assert reply.status == 200


def client_ours(info: dict[str, Any]) -> dict[str, Any]:
    """Stream the flood through our Binance connector."""
    from connectivity.runtime import patch

    patch()
    import gevent
    import gevent.event

    from connectivity.core.book_sync import BookValid
    from connectivity.core.decimal import fixed_to_decimal
    from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig

    valid = gevent.event.Event()

    def sink(event: object) -> None:
        if isinstance(event, BookValid):
            valid.set()

    config = BinanceMarketDataConfig(
        symbols=[SYMBOL],
        rest_url=info["rest"],
        ws_url=info["ws"],
        trade_stream=None,
        book_ticker=False,
        stream_stale_after_s=None,
    )
    md = BinanceMarketData.from_config(config, sink=sink)
    md.start()
    book = md.book(SYMBOL)
    final = info["final_id"]
    try:
        with gevent.Timeout(TIMEOUT_S):
            valid.wait()
            t0, c0 = time.perf_counter(), time.process_time()
            release(info)
            while book.update_id < final:
                gevent.sleep(0.0005)
        t1, c1 = time.perf_counter(), time.process_time()
        view = md.view(SYMBOL, 1_000_000)
        stats = md.stats(SYMBOL)
        ok = view.valid and view.update_id == final
        bids = [
            (fixed_to_decimal(p, view.price_scale), fixed_to_decimal(q, view.qty_scale))
            for p, q in view.bids
        ]
        asks = [
            (fixed_to_decimal(p, view.price_scale), fixed_to_decimal(q, view.qty_scale))
            for p, q in view.asks
        ]
        return {
            "seconds": t1 - t0,
            "cpu_seconds": c1 - c0,
            "book_ok": ok and digest(bids, asks) == info["digest"],
            "resyncs": stats.resyncs,
            "errors": dict(md.errors),
        }
    finally:
        md.close()


def client_cryptofeed(info: dict[str, Any]) -> dict[str, Any]:
    """Stream the flood through cryptofeed's Binance feed, pointed at the local venue."""
    import asyncio
    import logging

    from cryptofeed import FeedHandler, connection
    from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint
    from cryptofeed.defines import L2_BOOK
    from cryptofeed.exchanges import Binance

    logging.disable(logging.WARNING)
    # cryptofeed refuses any address that is not wss:// (one check in WSAsyncConn.__init__);
    # the loopback venue speaks plain ws://, as it does to ours. Pass the check, then connect
    # to the real address: nothing else in cryptofeed's path changes.
    original_init = connection.WSAsyncConn.__init__

    def init(self: Any, address: str, *args: Any, **kwargs: Any) -> None:
        original_init(self, "wss://" + address.removeprefix("ws://"), *args, **kwargs)
        self.address = address

    connection.WSAsyncConn.__init__ = init

    class LocalBinance(Binance):
        websocket_endpoints = [WebsocketEndpoint(info["ws"])]
        rest_endpoints = [
            RestEndpoint(
                info["rest"],
                routes=Routes("/api/v3/exchangeInfo", l2book="/api/v3/depth?symbol={}&limit={}"),
            )
        ]

    final = info["final_id"]
    marks: dict[str, Any] = {}
    handler = FeedHandler(config={"log": {"filename": os.devnull, "level": "ERROR"}})
    loop = asyncio.get_event_loop()
    done = loop.create_future()

    async def on_book(book: Any, receipt_timestamp: float) -> None:
        if "t0" not in marks:  # the first callback is the snapshot: the book is valid
            marks["t0"], marks["c0"] = time.perf_counter(), time.process_time()
            release(info)
            return
        if book.sequence_number >= final and not done.done():
            marks["t1"], marks["c1"] = time.perf_counter(), time.process_time()
            bids = sorted(book.book.bids.to_dict().items(), reverse=True)
            asks = sorted(book.book.asks.to_dict().items())
            marks["book_ok"] = (
                book.sequence_number == final and digest(bids, asks) == info["digest"]
            )
            done.set_result(True)

    handler.add_feed(
        LocalBinance(symbols=["BTC-USDT"], channels=[L2_BOOK], callbacks={L2_BOOK: on_book})
    )
    handler.run(start_loop=False, install_signal_handlers=False)
    loop.run_until_complete(asyncio.wait_for(done, TIMEOUT_S))
    return {
        "seconds": marks["t1"] - marks["t0"],
        "cpu_seconds": marks["c1"] - marks["c0"],
        "book_ok": marks["book_ok"],
    }


# -- orchestration -------------------------------------------------------------------------------
def run_contender(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start a fresh flooding venue, run one client process against it, return its result."""
    me = [sys.executable, str(Path(__file__).resolve())]
    flood = [
        "--messages",
        str(args.messages),
        "--actions",
        str(args.actions),
        "--seed",
        str(args.seed),
    ]
    server = subprocess.Popen(
        [*me, "--serve", *flood], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        result = subprocess.run(
            [*me, "--client", name, "--info", json.dumps(info)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S + 30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{name} client failed:\n{result.stderr[-3000:]}")
        out = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    out["rate"] = round(args.messages / out["seconds"])
    out["rate_per_cpu_second"] = round(args.messages / out["cpu_seconds"])
    out["seconds"] = round(out["seconds"], 4)
    out["cpu_seconds"] = round(out["cpu_seconds"], 4)
    out["book_levels"] = info["levels"]
    out["levels_per_message"] = info["levels_per_message"]
    out["bytes_per_message"] = info["bytes_per_message"]
    return out


def main() -> int:
    """Run the benchmark (or one of its processes) and print the JSON result last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--actions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=["ours", "cryptofeed"], help=argparse.SUPPRESS)
    parser.add_argument("--info", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.messages, args.actions, args.seed)
        return 0
    if args.client:
        run = client_ours if args.client == "ours" else client_cryptofeed
        print(json.dumps(run(json.loads(args.info))), flush=True)
        os._exit(0)  # cryptofeed leaves connection tasks behind; the result is already out
    results: dict[str, Any] = {"ours": run_contender("ours", args)}
    try:
        import cryptofeed  # noqa: F401
    except ImportError:
        results["cryptofeed"] = {"skipped": "cryptofeed is not installed (pip install cryptofeed)"}
    else:
        results["cryptofeed"] = run_contender("cryptofeed", args)
    ours = results["ours"]
    peer = results["cryptofeed"].get("rate")
    books_ok = ours["book_ok"] and results["cryptofeed"].get("book_ok", True)
    summary = {
        "benchmark": "feed_e2e",
        "messages": args.messages,
        "actions_per_diff": args.actions,
        "seed": args.seed,
        "results": results,
        "ratio_vs_cryptofeed": round(ours["rate"] / peer, 2) if peer else None,
        "cpu_ratio_vs_cryptofeed": (
            round(ours["rate_per_cpu_second"] / results["cryptofeed"]["rate_per_cpu_second"], 2)
            if peer
            else None
        ),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "target_rate": TARGET_RATE,
        "target_met": ours["rate"] >= TARGET_RATE and (peer is None or ours["rate"] > peer),
        "books_identical_to_truth": books_ok,
    }
    print(json.dumps(summary))
    return 0 if books_ok else 1


if __name__ == "__main__":
    sys.exit(main())
