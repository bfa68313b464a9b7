"""Replay recorded Binance market data through ``BookSync`` and report per symbol.

Commands (from the repository root)::

    python scripts/replay_book.py FILE                 # our record format (stream_book --record)
    python scripts/replay_book.py tests/data/recorded/BINANCE.ws.1.0 [--http HTTP_FILE]

``FILE`` is either our venue-neutral record format (JSON lines, one record per line; defined
in ``connectivity/connector/recording.py``, its meta line naming the venue:
``{"t": ts_recv_ns, "kind": "meta"|"connect"|"ws"|"snapshot", "url": .., "symbol": ..,
"data": <raw text>}``) or cryptofeed's recorded format
(``<url> <-> <ts>`` connects, ``<ts>: <frame>`` websocket lines, and a separate ``.http.``
file of ``<url> -> <ts>: <body>`` REST answers; found beside the ``.ws.`` file when
``--http`` is not given). Records are replayed in receive order through the same parsers and
``BookSync`` (Binance spec 3.1 rule) the live connector uses; a ``connect`` to a URL seen
before is a reconnect of that connection: the symbols whose diffs came over it are resynced
(other shards are left alone).

Checks made while replaying, reported per symbol:
- ``rule_violations``: applied deltas that break the current rule (after a snapshot with id
  S, drop ``u <= S``; then each applied delta needs ``U <= bookId + 1`` and ``u >= bookId``);
- ``pre2024_rule_violations``: the same chain checked against the pre-2024 text (first
  applied ``U <= S+1 <= u``, then ``U == previous u + 1``); 0 means the recording (made under
  the old rule, snapshot limit 1000) is consistent with both;
- ``crossed_ever``: the served book was ever crossed while valid;
- ``ticker_matches`` / ``ticker_mismatches``: bookTicker events whose update id equals the
  book's: best bid/ask (price and quantity) must be identical.

A diff that cannot be parsed is counted under ``parse_errors`` and, as in the live
connector (``feed_frame``), its symbol's book is resynced (``malformed`` per symbol).

Damaged files (a crash while recording, a disk error) are replayed as far as they can be:

- a truncated last line (no newline: what a crash while writing leaves) is reported with a
  warning, and the records before it are replayed and reported (``torn_line`` in the report);
- a bad line in the middle is skipped with a warning naming it (the first 10; all are counted
  in ``skipped_lines``): as for a frame lost on the wire, the books find the gap and resync;
- a file whose first line is not a record is not a recording: one line on stderr, exit 2, as
  for a missing or unreadable path, a directory or a recording of another venue;
- a recording with no frame and no snapshot says so on stderr and exits with status 1.

The last line printed is a JSON object: ``{"symbols": {SYM: {...}}, "records": .., ...}``.
Exit status 1 when a check failed or the recording held no market data.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from connectivity.cli import ArgumentParser  # noqa: E402
from connectivity.connector.recording import (  # noqa: E402
    BadLine,
    OnBadLine,
    Record,
    read_recording,
    venue_of,
)
from connectivity.core.book import BookDelta, BookSnapshot  # noqa: E402
from connectivity.core.book_sync import BookEvent, BookSync, BookValid  # noqa: E402
from connectivity.core.decimal import format_fixed  # noqa: E402
from connectivity.errors import ParseError  # noqa: E402
from exchanges.binance.constants import (  # noqa: E402
    BOOK_INTEGRITY,
    BOOK_SEQUENCE_RULE,
    VENUE,
)
from exchanges.binance.parsers import (  # noqa: E402
    BookTicker,
    feed_frame,
    parse_depth_snapshot,
    parse_frame,
)
from exchanges.binance.recording import read_cryptofeed  # noqa: E402


class _Checker:
    """Independent re-check of the update-id chain of one symbol (the spec, re-derived)."""

    def __init__(self) -> None:
        self.pending: list[BookDelta] = []  # deltas fed while the book was being (re)built
        self.snapshot_id: int | None = None
        self.old_id: int | None = None  # the pre-2024 procedure's last processed u
        self.old_first = True
        self.violations = 0
        self.old_violations = 0
        self.tickers: dict[int, BookTicker] = {}  # bookTickers ahead of the book, by id
        self.ticker_matches = 0
        self.ticker_mismatches = 0
        self.crossed_ever = False

    def chain(self, book_id: int, delta: BookDelta) -> None:
        """Check one delta the sync applied on top of ``book_id`` (current rule)."""
        if not (delta.first_id <= book_id + 1 and delta.last_id >= book_id):
            self.violations += 1

    def old_rule(self, delta: BookDelta) -> None:
        """Feed one delta to the pre-2024 procedure: drop u <= id, then strict contiguity."""
        if self.old_id is None or delta.last_id <= self.old_id:
            return
        if self.old_first:
            ok = delta.first_id <= self.old_id + 1 <= delta.last_id
        else:
            ok = delta.first_id == self.old_id + 1
        if not ok:
            self.old_violations += 1
        self.old_id = delta.last_id
        self.old_first = False

    def rebuilt(self, final_id: int) -> None:
        """Check the buffered chain the sync applied when it swapped a new book in."""
        if self.snapshot_id is None:
            return
        book_id = self.snapshot_id
        self.old_id = self.snapshot_id
        self.old_first = True
        for delta in self.pending:
            self.old_rule(delta)
            if delta.last_id <= self.snapshot_id or delta.last_id < book_id:
                continue  # covered by the snapshot, or stale: not applied
            self.chain(book_id, delta)
            book_id = delta.last_id
        if book_id != final_id:
            self.violations += 1
        self.pending = []

    def restart(self, head: list[BookDelta]) -> None:
        """The sync discarded its book: start collecting the new buffer."""
        self.pending = head
        self.old_id = None
        self.tickers = {}


def _symbols_of(results: dict[str, _Checker], symbol: str) -> _Checker:
    checker = results.get(symbol)
    if checker is None:
        checker = results[symbol] = _Checker()
    return checker


def replay(records: Iterable[Record]) -> dict[str, Any]:
    """Replay records through a fresh BookSync; return the report (see the module docstring)."""
    events: list[BookEvent] = []
    sync = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE, on_event=events.append)
    checkers: dict[str, _Checker] = {}
    errors: dict[str, int] = {}
    counts = {"records": 0, "frames": 0, "snapshots": 0, "reconnects": 0}
    by_url: dict[str, set[str]] = {}  # connection URL -> symbols whose diffs came over it
    for record in records:
        counts["records"] += 1
        url = record.url or ""
        if record.kind == "connect":
            if url in by_url:  # that connection reconnected: resync the symbols it carried
                counts["reconnects"] += 1
                sync.reset(sorted(by_url[url]), detail="reconnect")
                for carried in by_url[url]:
                    _symbols_of(checkers, carried).restart([])
            by_url.setdefault(url, set())
        elif record.kind == "snapshot" and record.symbol and record.data is not None:
            counts["snapshots"] += 1
            _snapshot(sync, checkers, record, errors, events)
        elif record.kind == "ws" and record.data is not None:
            counts["frames"] += 1
            fed = _frame(sync, checkers, record, errors, events)
            if fed is not None:
                by_url.setdefault(url, set()).add(fed)
    report: dict[str, Any] = {"symbols": {}, **counts, "parse_errors": errors}
    for symbol in sorted(set(sync.symbols()) | set(checkers)):
        report["symbols"][symbol] = _summary(sync, symbol, _symbols_of(checkers, symbol))
    return report


def _count(errors: dict[str, int], exc: Exception) -> None:
    name = type(exc).__name__
    errors[name] = errors.get(name, 0) + 1


def _snapshot(
    sync: BookSync,
    checkers: dict[str, _Checker],
    record: Record,
    errors: dict[str, int],
    events: list[BookEvent],
) -> None:
    assert record.symbol is not None and record.data is not None
    try:
        snapshot: BookSnapshot = parse_depth_snapshot(record.data, record.symbol, record.t)
    except ParseError as exc:
        _count(errors, exc)
        return
    checker = _symbols_of(checkers, record.symbol)
    was_live = sync.is_valid(record.symbol)
    events.clear()
    sync.on_snapshot(record.symbol, snapshot, record.t)
    if not was_live and any(isinstance(e, BookValid) for e in events):
        checker.snapshot_id = snapshot.last_id
        checker.rebuilt(sync.book(record.symbol).update_id)
    elif not sync.is_valid(record.symbol):
        checker.snapshot_id = snapshot.last_id
    _check_crossed(sync, checker, record.symbol)


def _frame(
    sync: BookSync,
    checkers: dict[str, _Checker],
    record: Record,
    errors: dict[str, int],
    events: list[BookEvent],
) -> str | None:
    """Replay one frame; return the symbol of a depth diff (None for anything else)."""
    assert record.data is not None
    raw = record.data.encode()
    try:
        msg = parse_frame(raw, record.t)
    except ParseError as exc:
        _count(errors, exc)  # counted; the replay goes on, as a live feed would
        _dropped(sync, checkers, raw, record.t)
        return None
    if isinstance(msg, BookTicker):
        _ticker(sync, _symbols_of(checkers, msg.symbol), msg)
        return None
    if not isinstance(msg, BookDelta):
        return None
    symbol = msg.symbol
    checker = _symbols_of(checkers, symbol)
    live = sync.is_valid(symbol)
    before = sync.book(symbol).update_id
    applied_before = sync.stats(symbol).updates_applied
    events.clear()
    sync.on_delta(symbol, msg, record.t)
    if live:
        if sync.stats(symbol).updates_applied > applied_before:
            checker.chain(before, msg)
        checker.old_rule(msg)
        if not sync.is_valid(symbol):
            checker.restart([msg])  # the sync restarted: this delta heads the new buffer
    else:
        checker.pending.append(msg)
        if any(isinstance(e, BookValid) for e in events):  # a waiting snapshot was used
            checker.rebuilt(sync.book(symbol).update_id)
    _check_tickers(sync, checker, symbol)
    _check_crossed(sync, checker, symbol)
    return symbol


def _dropped(sync: BookSync, checkers: dict[str, _Checker], raw: bytes, t: int) -> None:
    """Resync the book of an unreadable diff exactly as the live connector does."""
    before = {symbol: sync.stats(symbol).malformed for symbol in sync.symbols()}
    # parse_frame and feed_frame accept the same frames: this raises again, after feed_frame
    # resynced the diff's symbol (BookSync.drop_delta) when the frame names one.
    with contextlib.suppress(ParseError):
        feed_frame(raw, t, sync)
    for symbol in sync.symbols():
        if sync.stats(symbol).malformed != before.get(symbol, 0):
            _symbols_of(checkers, symbol).restart([])


def _check_crossed(sync: BookSync, checker: _Checker, symbol: str) -> None:
    if sync.is_valid(symbol) and sync.book(symbol).is_crossed():
        checker.crossed_ever = True


def _ticker(sync: BookSync, checker: _Checker, ticker: BookTicker) -> None:
    # bookTicker is real time, depth diffs come every 100 ms: a ticker usually runs ahead of
    # the book, so keep it until the book reaches exactly its update id.
    if len(checker.tickers) > 10_000:
        checker.tickers.clear()
    checker.tickers[ticker.update_id] = ticker
    _check_tickers(sync, checker, ticker.symbol)


def _check_tickers(sync: BookSync, checker: _Checker, symbol: str) -> None:
    if not checker.tickers or not sync.is_valid(symbol):
        return
    book = sync.book(symbol)
    ticker = checker.tickers.pop(book.update_id, None)
    if ticker is None:
        return
    same = book.best_bid() == (ticker.bid_price, ticker.bid_qty) and book.best_ask() == (
        ticker.ask_price,
        ticker.ask_qty,
    )
    if same:
        checker.ticker_matches += 1
    else:
        checker.ticker_mismatches += 1


def _level(level: tuple[int, int] | None, price_scale: int, qty_scale: int) -> list[str] | None:
    if level is None:
        return None
    return [format_fixed(level[0], price_scale), format_fixed(level[1], qty_scale)]


def _summary(sync: BookSync, symbol: str, checker: _Checker) -> dict[str, Any]:
    book = sync.book(symbol)
    stats = sync.stats(symbol)
    return {
        "status": sync.status(symbol).value,
        "best_bid": _level(book.best_bid(), book.price_scale, book.qty_scale),
        "best_ask": _level(book.best_ask(), book.price_scale, book.qty_scale),
        "depth": list(book.depth()),
        "last_update_id": book.update_id,
        "updates_applied": stats.updates_applied,
        "resyncs": stats.resyncs,
        "gaps": stats.gaps,
        "malformed": stats.malformed,
        "stale_ignored": stats.stale_ignored,
        "dropped_covered": stats.dropped_covered,
        "snapshots_applied": stats.snapshots_applied,
        "snapshot_refetches": stats.snapshot_refetches,
        "crossed_ever": checker.crossed_ever or stats.crossed > 0,
        "rule_violations": checker.violations,
        "pre2024_rule_violations": checker.old_violations,
        "ticker_matches": checker.ticker_matches,
        "ticker_mismatches": checker.ticker_mismatches,
    }


def records_of(
    path: Path, http: Path | None = None, on_bad_line: OnBadLine | None = None
) -> Iterator[Record]:
    """Return the records of ``path`` in either supported format."""
    with open(path, "rb") as file:
        head = file.read(1)
    if head == b"{":
        venue, records = venue_of(read_recording(path, on_bad_line))
        if venue not in (None, VENUE):
            raise ParseError(f"{path.name} records {venue!r}; this replay checks {VENUE!r}")
        return records
    if http is None:
        prefix = path.name.split(".ws.")[0]
        found = sorted(path.parent.glob(f"{prefix}.http.*"))
        http = found[0] if found else None
    return read_cryptofeed(path, http, on_bad_line)


def failed(report: dict[str, Any]) -> bool:
    """Return True when any symbol broke a rule, crossed, or disagreed with a bookTicker."""
    return any(
        s["rule_violations"] or s["crossed_ever"] or s["ticker_mismatches"]
        for s in report["symbols"].values()
    )


class NotARecording(Exception):
    """The file's first line is not a record of either format."""


class Damage:
    """Bad lines met while reading: skipped with a warning (see the module docstring)."""

    WARN_LINES = 10

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.records = 0  # records read so far (a bad line before any: not a recording)
        self.skipped = 0
        self.torn: int | None = None  # the torn last line's number

    def count(self, records: Iterable[Record]) -> Iterator[Record]:
        """Yield ``records``, counting them."""
        for record in records:
            self.records += 1
            yield record

    def __call__(self, bad: BadLine) -> None:
        where = f"{bad.path.name} line {bad.line_no}"
        if self.records == 0:  # torn or not: a binary file is often one unending line
            raise NotARecording(f"{bad.path} is not a recording ({where}: {bad.error.message})")
        if bad.torn:
            self.torn = bad.line_no
            self.warn(f"{where} is truncated (cut while recording): replayed up to there")
            return
        self.skipped += 1
        if self.skipped <= self.WARN_LINES:
            self.warn(f"{where} skipped: {bad.error.message}")

    def warn(self, message: str) -> None:
        """Print one warning line on stderr."""
        print(f"{self.prog}: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Replay FILE and print the JSON report as the last line."""
    parser = ArgumentParser(prog=Path(__file__).name, description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--http", type=Path, default=None, help="cryptofeed .http. file")
    args = parser.parse_args(argv)
    for path in (args.file, args.http):
        if path is not None and path.is_dir():
            return parser.fail(f"{path} is a directory, not a recording")
    damage = Damage(parser.prog)
    try:
        report = replay(damage.count(records_of(args.file, args.http, damage)))
    except OSError as exc:
        return parser.fail(f"cannot read {exc.filename or args.file}: {exc.strerror}")
    except (NotARecording, ParseError) as exc:
        return parser.fail(exc.message if isinstance(exc, ParseError) else str(exc))
    report["skipped_lines"] = damage.skipped
    report["torn_line"] = damage.torn
    if damage.skipped > damage.WARN_LINES:
        damage.warn(f"{damage.skipped} lines skipped in all")
    for symbol, summary in report["symbols"].items():
        print(
            f"{symbol}: {summary['status']} bid={summary['best_bid']} ask={summary['best_ask']} "
            f"applied={summary['updates_applied']} resyncs={summary['resyncs']} "
            f"gaps={summary['gaps']}",
            file=sys.stderr,
        )
    print(json.dumps(report, sort_keys=True))
    if not report["frames"] and not report["snapshots"]:
        empty = f"{args.file} holds no market data (no frame, no snapshot)"
        print(f"{parser.prog}: error: {empty}", file=sys.stderr)
        return 1
    return 1 if failed(report) else 0


if __name__ == "__main__":
    sys.exit(main())
