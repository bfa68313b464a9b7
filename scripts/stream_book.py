"""Stream Binance order books through the real connector and show them live.

With no arguments an embedded simulated Binance venue is started in-process (real loopback
HTTP and websocket servers) and its books are streamed through exactly the code path used
live; ``--live`` streams Binance's public endpoints (data-api.binance.vision and
stream.binance.com) instead.

    python scripts/stream_book.py                       # simulated venue, until Ctrl-C
    python scripts/stream_book.py --symbol BTCUSDT --symbol ETHUSDT --depth 5 --duration 10
    python scripts/stream_book.py --live --symbol BTC-USDT --record /tmp/btc.jsonl

A progress line says how many books are valid out of how many watched and how many snapshots
are queued or in flight (startup of many symbols is planned against the weight budget).
On a terminal the view refreshes in place (ANSI, no curses): top N levels per symbol, spread,
mid, update rate, last update id, resyncs and feed latency (venue event time to book applied,
percentiles). Otherwise (CI, pipes) one compact line per symbol per second. Ctrl-C or
``--duration`` ends the run with a summary; the exit code is 1 if a book never became valid.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from connectivity.runtime import patch

patch()  # before anything else imports socket, ssl, threading or time

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
from typing import Any, TextIO  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from connectivity.cli import ArgumentParser, bounded_int, positive_seconds  # noqa: E402
from connectivity.connector.recording import RecordWriter  # noqa: E402
from connectivity.core.book_sync import BookInvalid, BookValid  # noqa: E402
from connectivity.core.clock import NS_PER_SECOND, SystemClock  # noqa: E402
from connectivity.core.decimal import format_fixed  # noqa: E402
from connectivity.errors import ConfigError  # noqa: E402
from exchanges.binance.connector import (  # noqa: E402
    BinanceMarketData,
    BinanceMarketDataConfig,
    venue_symbol,
)
from exchanges.binance.constants import (  # noqa: E402
    PRICE_SCALE,
    QTY_SCALE,
    REST_BASE_URLS,
    SNAPSHOT_LIMIT_MAX,
    VENUE,
)

LIVE_WS_URL = "wss://stream.binance.com:9443"
CLEAR_EOL, CLEAR_EOS, HOME = "\x1b[K", "\x1b[J", "\x1b[H"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


def _price(value: int) -> str:
    return format_fixed(value, PRICE_SCALE, min_decimals=2)


def _qty(value: int) -> str:
    return format_fixed(value, QTY_SCALE)


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f}"


class Monitor:
    """Counts book events per symbol and derives update rates between two samples."""

    def __init__(self, symbols: list[str]) -> None:
        self.valid_events = dict.fromkeys(symbols, 0)
        self.invalid_events = dict.fromkeys(symbols, 0)
        self.trades = 0
        self.tickers = 0
        self._last_updates = dict.fromkeys(symbols, 0)
        self.rates = dict.fromkeys(symbols, 0.0)

    def __call__(self, event: Any) -> None:
        """Event sink of the connector."""
        if isinstance(event, BookValid):
            self.valid_events[event.symbol] = self.valid_events.get(event.symbol, 0) + 1
        elif isinstance(event, BookInvalid):
            self.invalid_events[event.symbol] = self.invalid_events.get(event.symbol, 0) + 1
        elif type(event).__name__ == "PublicTrade":
            self.trades += 1
        else:
            self.tickers += 1

    def sample(self, md: BinanceMarketData, elapsed_s: float) -> None:
        """Update the per-symbol update rates from the connector's counters."""
        for symbol in md.symbols:
            applied = md.stats(symbol).updates_applied
            self.rates[symbol] = (applied - self._last_updates[symbol]) / max(elapsed_s, 1e-9)
            self._last_updates[symbol] = applied


def _latency(md: BinanceMarketData, symbol: str, q: float) -> int | None:
    ring = md.latency.get(symbol)
    return None if ring is None else ring.percentile(q)


def progress(md: BinanceMarketData) -> str:
    """Return the startup progress line: books valid / watched and snapshots under way."""
    valid, total = md.books_valid()
    planner = md.snapshots.planner
    return (
        f"books valid {valid}/{total} snapshots pending={planner.pending} "
        f"in_flight={planner.in_flight} fetched={md.snapshots_fetched}"
    )


def _header(md: BinanceMarketData, mon: Monitor, symbol: str) -> str:
    view = md.view(symbol, 1)
    stats = md.stats(symbol)
    state = "VALID" if view.valid else md.sync.status(symbol).value.upper()
    spread = mid = "-"
    if view.best_bid and view.best_ask:
        spread = _price(view.best_ask[0] - view.best_bid[0])
        mid = format_fixed((view.best_bid[0] + view.best_ask[0]) // 2, PRICE_SCALE, min_decimals=2)
    return (
        f"{symbol} {state} id={view.update_id} spread={spread} mid={mid} "
        f"upd/s={mon.rates[symbol]:.0f} resyncs={stats.resyncs} "
        f"lat_ms p50={_ms(_latency(md, symbol, 50))} p99={_ms(_latency(md, symbol, 99))}"
    )


def render_plain(md: BinanceMarketData, mon: Monitor, out: TextIO) -> None:
    """Write the progress line, then one compact line per symbol."""
    out.write(progress(md) + "\n")
    for symbol in md.symbols:
        view = md.view(symbol, 1)
        top = "bid=- ask=-"
        if view.best_bid and view.best_ask:
            bid, ask = view.best_bid, view.best_ask
            top = f"bid={_price(bid[0])}x{_qty(bid[1])} ask={_price(ask[0])}x{_qty(ask[1])}"
        out.write(f"{_header(md, mon, symbol)} {top}\n")
    out.flush()


def render_terminal(md: BinanceMarketData, mon: Monitor, depth: int, out: TextIO) -> None:
    """Redraw the whole view in place."""
    lines = [f"Binance books via {md.config.ws_url}  (Ctrl-C to stop)", progress(md), ""]
    for symbol in md.symbols:
        view = md.view(symbol, depth)
        lines.append(_header(md, mon, symbol))
        lines.append(f"  {'bid qty':>16} {'bid':>16} | {'ask':<16} {'ask qty':<16}")
        for i in range(depth):
            bid = view.bids[i] if i < len(view.bids) else None
            ask = view.asks[i] if i < len(view.asks) else None
            left = f"{_qty(bid[1]):>16} {_price(bid[0]):>16}" if bid else " " * 33
            right = f"{_price(ask[0]):<16} {_qty(ask[1]):<16}" if ask else ""
            lines.append(f"  {left} | {right}")
        lines.append("")
    out.write(HOME + "".join(line + CLEAR_EOL + "\n" for line in lines) + CLEAR_EOS)
    out.flush()


def summary(md: BinanceMarketData, mon: Monitor, elapsed_s: float) -> list[str]:
    """Return the end-of-run summary lines."""
    lines = [
        f"summary after {elapsed_s:.1f}s: trades={mon.trades} tickers={mon.tickers}",
        progress(md),
    ]
    for symbol in md.symbols:
        stats = md.stats(symbol)
        lines.append(
            f"{symbol}: ever_valid={mon.valid_events[symbol] > 0} valid_now={md.is_valid(symbol)} "
            f"updates={stats.updates_applied} resyncs={stats.resyncs} gaps={stats.gaps} "
            f"snapshots={stats.snapshots_applied} last_id={stats.last_update_id} "
            f"lat_ms p50={_ms(_latency(md, symbol, 50))} p90={_ms(_latency(md, symbol, 90))} "
            f"p99={_ms(_latency(md, symbol, 99))}"
        )
    return lines


def _symbol(text: str) -> str:
    """Parse a ``--symbol`` value into Binance's spelling (argparse type)."""
    try:
        symbol = venue_symbol(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    if not (symbol.isascii() and symbol.isalnum()):
        raise argparse.ArgumentTypeError(f"expected BTCUSDT or BTC-USDT, got {text!r}")
    return symbol


def build_parser() -> ArgumentParser:
    """Return the command-line parser (errors are one line on stderr, exit status 2)."""
    parser = ArgumentParser(prog=Path(__file__).name, description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", action="store_true", help="use Binance's public endpoints")
    parser.add_argument(
        "--symbol", action="append", type=_symbol, help="BTCUSDT or BTC-USDT (repeatable)"
    )
    parser.add_argument(
        "--depth",
        type=bounded_int(1, SNAPSHOT_LIMIT_MAX),
        default=10,
        help="levels shown per side",
    )
    parser.add_argument(
        "--book-depth",
        type=bounded_int(1, SNAPSHOT_LIMIT_MAX),
        default=20,
        help="levels per side the books must cover",
    )
    parser.add_argument("--duration", type=positive_seconds, help="seconds, then exit")
    parser.add_argument("--record", metavar="FILE", help="write raw frames and snapshots")
    parser.add_argument("--seed", type=int, default=0, help="simulated market seed")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the stream; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    symbols = list(dict.fromkeys(args.symbol or ["BTCUSDT", "ETHUSDT"]))
    if not args.live:
        from exchanges.binance.sim import DEFAULT_SYMBOLS, BinanceSimVenue

        known = {spec.symbol for spec in DEFAULT_SYMBOLS}
        unknown = [s for s in symbols if s not in known]
        if unknown:
            return parser.fail(f"the simulated venue lists {sorted(known)}, not {unknown}")
    try:  # before anything starts: a bad path must not leave a venue or a feed running
        recorder = RecordWriter(args.record, venue=VENUE) if args.record else None
    except OSError as exc:
        return parser.fail(f"cannot write the recording {args.record!r}: {exc.strerror}")
    venue = None
    if args.live:
        rest_url, ws_url = REST_BASE_URLS["market_data"], LIVE_WS_URL
    else:
        venue = BinanceSimVenue(seed=args.seed).start()
        rest_url, ws_url = venue.rest_url, venue.ws_url
    monitor = Monitor(symbols)
    config = BinanceMarketDataConfig(
        symbols=symbols, rest_url=rest_url, ws_url=ws_url, book_depth=args.book_depth
    )
    clock = SystemClock()
    md = BinanceMarketData.from_config(config, clock=clock, sink=monitor, recorder=recorder)
    stop = gevent.event.Event()
    handlers = [gevent.signal_handler(sig, stop.set) for sig in (signal.SIGINT, signal.SIGTERM)]
    tty = sys.stdout.isatty()
    started = clock.monotonic_ns()
    try:
        md.start()
        if tty:
            sys.stdout.write(HIDE_CURSOR + "\x1b[2J")
        deadline = None if args.duration is None else started + int(args.duration * NS_PER_SECOND)
        interval = 0.25 if tty else 1.0
        last = started
        while not stop.is_set():
            stop.wait(timeout=interval)
            now = clock.monotonic_ns()
            if now - last >= NS_PER_SECOND * 0.9 or not tty:
                monitor.sample(md, (now - last) / NS_PER_SECOND)
                last = now
            if tty:
                render_terminal(md, monitor, args.depth, sys.stdout)
            else:
                render_plain(md, monitor, sys.stdout)
            if deadline is not None and now >= deadline:
                break
    finally:
        for handler in handlers:
            handler.cancel()
        if tty:
            sys.stdout.write(SHOW_CURSOR)
        elapsed = (clock.monotonic_ns() - started) / NS_PER_SECOND
        lines = summary(md, monitor, elapsed)
        md.close()
        if recorder is not None:
            recorder.close()
        if venue is not None:
            venue.close()
    print("\n".join(lines), flush=True)
    return 0 if all(monitor.valid_events[s] > 0 for s in symbols) else 1


if __name__ == "__main__":
    sys.exit(main())
