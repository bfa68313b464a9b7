"""Readers of foreign recordings of Binance market data (our own format is venue-neutral).

:func:`read_cryptofeed` turns cryptofeed's recorded format (``tests/data/recorded/``,
see ``tests/data/SOURCES.md``) into the :class:`~connectivity.connector.recording.Record` values
of :mod:`connectivity.connector.recording`, so one replay serves both.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlsplit

from connectivity.connector.recording import (
    FORMAT,
    KINDS,
    OnBadLine,
    Record,
    RecordWriter,
    bad_line,
    read_recording,
    recording_lines,
)
from connectivity.core.decimal import parse_fixed
from connectivity.errors import ParseError
from exchanges.binance.constants import VENUE

__all__ = [
    "FORMAT",
    "KINDS",
    "BinanceRecordWriter",
    "Record",
    "RecordWriter",
    "read_cryptofeed",
    "read_recording",
]


class BinanceRecordWriter(RecordWriter):
    """The neutral :class:`RecordWriter`, its meta line naming Binance."""

    def __init__(self, target: str | Path | IO[str], *, venue: str = VENUE) -> None:
        super().__init__(target, venue=venue)


def _ts(text: str) -> int:
    return parse_fixed(text.strip(), 9)  # "1633998512.0633569" seconds -> exact ns


def _text_line(path: Path, line_no: int, line: bytes) -> str:
    try:
        return line.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{path.name} line {line_no}: not UTF-8 text") from exc


def _cryptofeed_ws(path: Path, on_bad_line: OnBadLine | None) -> Iterator[Record]:
    url = None
    for line_no, raw in recording_lines(path):
        try:
            line = _text_line(path, line_no, raw)
            if " <-> " in line:  # "<url> <-> <ts>": connected
                connected, _, ts = line.rpartition(" <-> ")
                record = Record(_ts(ts), "connect", connected)
                url = connected
            else:
                ts, sep, data = line.partition(": ")
                if not sep:
                    raise ParseError(f"{path.name} line {line_no}: expected '<ts>: <frame>'")
                record = Record(_ts(ts), "ws", url, None, data)
        except ParseError as exc:
            bad_line(on_bad_line, path, line_no, raw, exc)
            continue
        yield record


def _cryptofeed_snapshot(path: Path, line_no: int, line: str) -> Record:
    url, sep, rest = line.partition(" -> ")
    ts, sep2, body = rest.partition(": ")
    if not sep or not sep2:
        raise ParseError(f"{path.name} line {line_no}: expected '<url> -> <ts>: <body>'")
    symbols = parse_qs(urlsplit(url).query).get("symbol")
    if not symbols:
        raise ParseError(f"{path.name} line {line_no}: no symbol in {url!r}")
    return Record(_ts(ts), "snapshot", url, symbols[0], body)


def _cryptofeed_http(path: Path, on_bad_line: OnBadLine | None) -> Iterator[Record]:
    for line_no, raw in recording_lines(path):
        try:
            record = _cryptofeed_snapshot(path, line_no, _text_line(path, line_no, raw))
        except ParseError as exc:
            bad_line(on_bad_line, path, line_no, raw, exc)
            continue
        yield record


def read_cryptofeed(
    ws_path: str | Path,
    http_path: str | Path | None = None,
    on_bad_line: OnBadLine | None = None,
) -> Iterator[Record]:
    """Yield cryptofeed-recorded websocket frames and REST snapshots merged by receive time.

    A malformed line raises ParseError, or with ``on_bad_line`` is reported and skipped.
    """
    ws = _cryptofeed_ws(Path(ws_path), on_bad_line)
    if http_path is None:
        yield from ws
        return
    # Stable by time; at equal times the websocket record comes first (it was read first).
    yield from heapq.merge(
        ws,
        _cryptofeed_http(Path(http_path), on_bad_line),
        key=lambda r: (r.t, r.kind != "ws" and r.kind != "connect"),
    )
