"""Recording of raw Binance market data, and readers for replay.

Our record format (``scripts/stream_book.py --record FILE`` writes it, ``scripts/replay_book.py``
reads it) is JSON lines, one record per line, each an object with:

- ``"t"``: int, our receive time in ns (the Clock's ``time_ns()``);
- ``"kind"``: ``"meta"`` (optional first line: ``{"format": FORMAT, "venue": "binance"}``
  in ``"data"``), ``"connect"`` (a websocket (re)connected to ``"url"``), ``"ws"`` (one
  inbound text frame from ``"url"``, exactly as received, in ``"data"``) or ``"snapshot"``
  (a ``GET /api/v3/depth`` body for ``"symbol"`` (Binance spelling) in ``"data"``, fetched
  from ``"url"``);
- ``"url"``, ``"symbol"``, ``"data"``: strings, present as the kind requires.

Records are in receive order. A ``connect`` after the first means the feed reconnected:
replay resets the books (as the connector does). :func:`read_cryptofeed` turns cryptofeed's
recorded format (``../shared/data/recorded/``, see ``data/SOURCES.md``) into the same records.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson

from connectivity.core.decimal import parse_fixed
from connectivity.errors import ParseError

__all__ = ["FORMAT", "KINDS", "Record", "RecordWriter", "read_cryptofeed", "read_recording"]

FORMAT = "connectivity-record/1"
KINDS = frozenset({"meta", "connect", "ws", "snapshot"})


class Record(NamedTuple):
    """One recorded event."""

    t: int  # receive time, ns
    kind: str
    url: str | None = None
    symbol: str | None = None
    data: str | None = None


def _text(data: bytes | bytearray | memoryview | str) -> str:
    if isinstance(data, str):
        return data
    return bytes(data).decode("utf-8", "replace")


class RecordWriter:
    """Write records in our format to a path or an open text file (closed only if opened here)."""

    def __init__(self, target: str | Path | IO[str], *, venue: str = "binance") -> None:
        if isinstance(target, (str, Path)):
            self._file: IO[str] = open(target, "w", encoding="utf-8")  # noqa: SIM115
            self._owned = True
        else:
            self._file = target
            self._owned = False
        self.records = 0
        self._write(
            {
                "t": 0,
                "kind": "meta",
                "data": orjson.dumps({"format": FORMAT, "venue": venue}).decode(),
            }
        )

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(record).decode())
        self._file.write("\n")
        self.records += 1

    def connect(self, ts_recv: int, url: str) -> None:
        """Record that a websocket connected (or reconnected) to ``url``."""
        self._write({"t": ts_recv, "kind": "connect", "url": url})

    def ws(self, ts_recv: int, url: str, data: bytes | bytearray | memoryview | str) -> None:
        """Record one inbound websocket text frame exactly as received."""
        self._write({"t": ts_recv, "kind": "ws", "url": url, "data": _text(data)})

    def snapshot(
        self, ts_recv: int, symbol: str, data: bytes | bytearray | memoryview | str, url: str = ""
    ) -> None:
        """Record a depth snapshot body for ``symbol`` (Binance spelling, e.g. ``"BTCUSDT"``)."""
        self._write(
            {"t": ts_recv, "kind": "snapshot", "symbol": symbol, "url": url, "data": _text(data)}
        )

    def flush(self) -> None:
        """Flush buffered records to the file."""
        self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        self._file.flush()
        if self._owned:
            self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _field(obj: dict[str, Any], name: str, line_no: int) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise ParseError(f"recording line {line_no}: {name!r} must be a string")
    return value


def read_recording(path: str | Path) -> Iterator[Record]:
    """Yield the records of a file in our format (ParseError on a malformed line)."""
    with open(path, "rb") as file:
        for line_no, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ParseError(f"recording line {line_no}: invalid JSON", payload=line) from exc
            if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
                raise ParseError(f"recording line {line_no}: unknown record", payload=line)
            t = obj.get("t")
            if type(t) is not int:
                raise ParseError(f"recording line {line_no}: 't' must be int ns", payload=line)
            yield Record(
                t,
                obj["kind"],
                _field(obj, "url", line_no),
                _field(obj, "symbol", line_no),
                _field(obj, "data", line_no),
            )


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
