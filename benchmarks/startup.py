"""Startup of many books: time until every book is valid under Binance's weight budget.

Command (from the repository root)::

    python benchmarks/startup.py [--symbols 100 1000 3000] [--active 200] [--steady 5]

For each symbol count a fresh simulated Binance venue (``exchanges.binance.sim``) runs in its
own server process with Binance's weight limits (6,000 per calendar minute, depth limit 100
costs 5) and ``--active`` of its symbols stepped per 100 ms tick, in rotation (every symbol
publishes ``depthUpdate`` on ``<sym>@depth@100ms`` in Binance's exact wire format). A client
process then runs the real connector (``BinanceMarketData``: sharded subscriptions, BookSync,
snapshots planned at the cheapest tier covering the default book depth, bot's order first,
through the REST limiter) and measures:

- ``all_valid_s``: from ``start()`` until every book is valid (and when 50 % / 90 % were);
- ``earliest_budget_s``: when the budget lets the last snapshot start at the earliest, from
  the same start (windows are calendar minutes, so this depends on where in the minute the
  run began: ``start_second_in_minute``) and ``after_budget_s`` = the difference;
- ``peak_rss_mb`` of the client process, and ``cpu_us_per_message``: client CPU per depth
  message over ``--steady`` seconds once every book is valid;
- 429s received (``rate_limited``), resyncs and snapshots fetched.

Targets (issue 7): 1,000 symbols all valid within 15 s; 3,000 within 10 s of the earliest
moment the budget allows; peak RSS under 200 MB at 1,000 symbols. The last line is a JSON
object with one entry per symbol count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

WEIGHT_LIMIT = 6000
TICK_S = 0.1
TIMEOUT_S = 300.0
TARGETS = {1000: ("all_valid_s", 15.0), 3000: ("after_budget_s", 10.0)}
RSS_TARGET_MB = (1000, 200.0)


def symbol_names(count: int) -> list[str]:
    """Return ``count`` venue symbol names, in the bot's order of importance."""
    return [f"S{i:04d}USDT" for i in range(count)]


# -- server process ------------------------------------------------------------------------------
def serve(count: int, active: int, seed: int) -> None:
    """Run the venue until stdin closes; print its URLs first."""
    from connectivity.runtime import patch

    patch()
    import attrs
    import gevent.os

    from connectivity.sim.market import SymbolSpec
    from exchanges.binance.sim import BINANCE_SIM_SETTINGS, BinanceSimVenue

    specs = [SymbolSpec(name, name[:5], "USDT", mid="100") for name in symbol_names(count)]
    settings = attrs.evolve(BINANCE_SIM_SETTINGS, tick_s=TICK_S)
    venue = BinanceSimVenue(specs, seed=seed, settings=settings)
    venue.active_per_tick = active
    venue.start()
    print(json.dumps({"rest": venue.rest_url, "ws": venue.ws_url}), flush=True)
    while gevent.os.tp_read(sys.stdin.fileno(), 1):  # until the parent closes our stdin
        pass
    venue.close()


# -- client process ------------------------------------------------------------------------------
def client(info: dict[str, Any], count: int, steady_s: float) -> dict[str, Any]:
    """Start the connector on ``count`` symbols; measure startup, then the steady state."""
    from connectivity.runtime import patch

    patch()
    import resource

    import gevent

    from connectivity.connector.snapshots import budget_schedule
    from connectivity.core.clock import NS_PER_SECOND
    from exchanges.binance.connector import BinanceMarketData, BinanceMarketDataConfig
    from exchanges.binance.constants import depth_weight

    config = BinanceMarketDataConfig(
        symbols=symbol_names(count),
        rest_url=info["rest"],
        ws_url=info["ws"],
        trade_stream=None,
        book_ticker=False,
        weight_limit_1m=WEIGHT_LIMIT,
    )
    md = BinanceMarketData.from_config(config)
    limits = [md.snapshots.planner.limit(symbol) for symbol in md.symbols]
    start_wall = time.time_ns()
    t0 = time.perf_counter()
    md.start()
    marks: dict[str, float | None] = {"50": None, "90": None, "100": None}
    try:
        with gevent.Timeout(TIMEOUT_S, False):
            while marks["100"] is None:
                gevent.sleep(0.02)
                valid, total = md.books_valid()
                for key in marks:
                    if marks[key] is None and valid * 100 >= total * int(key):
                        marks[key] = time.perf_counter() - t0
        routers = list(md.routers())
        m0, c0 = sum(r.deltas for r in routers), time.process_time()
        gevent.sleep(steady_s)
        m1, c1 = sum(r.deltas for r in routers), time.process_time()
        starts = budget_schedule(
            [depth_weight(limit) for limit in limits], WEIGHT_LIMIT, 60 * NS_PER_SECOND, start_wall
        )
        earliest = (starts[-1] - start_wall) / NS_PER_SECOND
        all_valid = marks["100"]
        return {
            "symbols": count,
            "all_valid_s": None if all_valid is None else round(all_valid, 2),
            "valid_50pct_s": None if marks["50"] is None else round(marks["50"], 2),
            "valid_90pct_s": None if marks["90"] is None else round(marks["90"], 2),
            "books_valid": md.books_valid()[0],
            "start_second_in_minute": round(start_wall / NS_PER_SECOND % 60, 2),
            "earliest_budget_s": round(earliest, 2),
            "after_budget_s": None if all_valid is None else round(all_valid - earliest, 2),
            "snapshot_limit": limits[0],
            "snapshots_fetched": md.snapshots_fetched,
            "rate_limited": md.errors.get("RateLimited", 0),
            "snapshot_failures": md.snapshot_failures,
            "resyncs": sum(md.stats(s).resyncs for s in md.symbols),
            "steady_messages_per_s": round((m1 - m0) / steady_s),
            "cpu_us_per_message": round((c1 - c0) / max(m1 - m0, 1) * 1e6, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        md.close()


# -- orchestration -------------------------------------------------------------------------------
def run(count: int, args: argparse.Namespace) -> dict[str, Any]:
    """Start a fresh venue process and a client process for ``count`` symbols."""
    me = [sys.executable, str(Path(__file__).resolve())]
    server = subprocess.Popen(
        [*me, "--serve", str(count), "--active", str(args.active), "--seed", str(args.seed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info = server.stdout.readline()
        result = subprocess.run(
            [*me, "--client", str(count), "--info", info, "--steady", str(args.steady)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S + args.steady + 60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"client for {count} symbols failed:\n{result.stderr[-3000:]}")
        out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    target = TARGETS.get(count)
    if target is not None:
        key, limit = target
        out["target"] = f"{key} <= {limit}"
        out["target_met"] = out[key] is not None and out[key] <= limit
    if count == RSS_TARGET_MB[0]:
        out["rss_target_met"] = out["peak_rss_mb"] < RSS_TARGET_MB[1]
    print(json.dumps(out), flush=True)
    return out


def main() -> int:
    """Run the benchmark (or one of its processes) and print the JSON result last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--active", type=int, default=200, help="symbols stepped per tick")
    parser.add_argument("--steady", type=float, default=5.0, help="seconds of steady state")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--info", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.active, args.seed)
        return 0
    if args.client:
        print(json.dumps(client(json.loads(args.info), args.client, args.steady)), flush=True)
        return 0
    results = [run(count, args) for count in args.symbols]
    summary = {
        "benchmark": "startup",
        "weight_limit_1m": WEIGHT_LIMIT,
        "active_symbols_per_tick": args.active,
        "tick_s": TICK_S,
        "results": results,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
