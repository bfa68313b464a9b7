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

from connectivity.connector.recording import FORMAT, KINDS, Record, RecordWriter, read_recording
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


def _cryptofeed_ws(path: Path) -> Iterator[Record]:
    url = None
    with open(path, encoding="utf-8") as file:
        for line_no, line in enumerate(file, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if " <-> " in line:  # "<url> <-> <ts>": connected
                url, _, ts = line.rpartition(" <-> ")
                yield Record(_ts(ts), "connect", url)
                continue
            ts, sep, data = line.partition(": ")
            if not sep:
                raise ParseError(f"{path.name} line {line_no}: expected '<ts>: <frame>'")
            yield Record(_ts(ts), "ws", url, None, data)


def _cryptofeed_http(path: Path) -> Iterator[Record]:
    with open(path, encoding="utf-8") as file:
        for line_no, line in enumerate(file, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            url, sep, rest = line.partition(" -> ")
            ts, sep2, body = rest.partition(": ")
            if not sep or not sep2:
                raise ParseError(f"{path.name} line {line_no}: expected '<url> -> <ts>: <body>'")
            symbols = parse_qs(urlsplit(url).query).get("symbol")
            if not symbols:
                raise ParseError(f"{path.name} line {line_no}: no symbol in {url!r}")
            yield Record(_ts(ts), "snapshot", url, symbols[0], body)


def read_cryptofeed(ws_path: str | Path, http_path: str | Path | None = None) -> Iterator[Record]:
    """Yield cryptofeed-recorded websocket frames and REST snapshots merged by receive time."""
    ws = _cryptofeed_ws(Path(ws_path))
    if http_path is None:
        yield from ws
        return
    # Stable by time; at equal times the websocket record comes first (it was read first).
    yield from heapq.merge(
        ws,
        _cryptofeed_http(Path(http_path)),
        key=lambda r: (r.t, r.kind != "ws" and r.kind != "connect"),
    )
