"""The venue-neutral recording of raw market data (``--record``), and its reader.

The format (``scripts/stream_book.py --record FILE`` writes it through
:class:`RecordWriter`, the market-data connector being its :class:`Recorder`;
``scripts/replay_book.py`` reads it back with :func:`read_recording`) is JSON lines, one
record per line, each an object with:

- ``"t"``: int, our receive time in ns (the Clock's ``time_ns()``);
- ``"kind"``: ``"meta"`` (first line: ``{"format": FORMAT, "venue": <venue name>}`` in
  ``"data"``), ``"connect"`` (a websocket (re)connected to ``"url"``), ``"ws"`` (one inbound
  text frame from ``"url"``, exactly as received, in ``"data"``) or ``"snapshot"`` (a REST
  snapshot body for ``"symbol"`` (venue spelling) in ``"data"``, fetched from ``"url"``);
- ``"url"``, ``"symbol"``, ``"data"``: strings, present as the kind requires.

Records are in receive order. A ``connect`` after the first means the feed reconnected:
replay resets the books (as the connector does). Foreign formats (such as cryptofeed's
recordings of Binance) get a reader in their venue package that yields the same
:class:`Record` values (``exchanges/binance/recording.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, Protocol

import orjson

from connectivity.errors import ParseError

__all__ = [
    "FORMAT",
    "KINDS",
    "BadLine",
    "OnBadLine",
    "Record",
    "RecordWriter",
    "Recorder",
    "bad_line",
    "read_recording",
    "recording_lines",
    "venue_of",
]

FORMAT = "connectivity-record/1"
KINDS = frozenset({"meta", "connect", "ws", "snapshot"})


class Recorder(Protocol):
    """What a connector records through (:class:`RecordWriter` is the file-backed one)."""

    def connect(self, ts_recv: int, url: str) -> None:
        """Record a (re)connect."""

    def ws(self, ts_recv: int, url: str, data: bytes) -> None:
        """Record one raw frame."""

    def snapshot(self, ts_recv: int, symbol: str, data: bytes, url: str = "") -> None:
        """Record one snapshot body."""


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

    def __init__(self, target: str | Path | IO[str], *, venue: str) -> None:
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
        """Record a snapshot body for ``symbol`` (venue spelling, e.g. ``"BTCUSDT"``)."""
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


class BadLine(NamedTuple):
    """A line of a recording that could not be read (see ``on_bad_line`` of the readers)."""

    path: Path
    line_no: int
    error: ParseError
    torn: bool  # the file's last line, cut short (no newline): a crash while recording


OnBadLine = Callable[[BadLine], None]
"""Called for each unreadable line, which is then skipped; without it the reader raises."""


def recording_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_no, line)`` of the non-blank lines, newline kept.

    A line without its newline is the last one: torn (a crash while writing) unless it still
    parses, in which case it is complete but for the newline.
    """
    with open(path, "rb") as file:
        for line_no, line in enumerate(file, 1):
            if line.strip():
                yield line_no, line


def bad_line(
    on_bad_line: OnBadLine | None, path: Path, line_no: int, line: bytes, exc: ParseError
) -> None:
    """Raise ``exc``, or report the line to ``on_bad_line`` (the reader then skips it)."""
    if on_bad_line is None:
        raise exc
    on_bad_line(BadLine(path, line_no, exc, not line.endswith(b"\n")))


def _record(line: bytes, line_no: int) -> Record:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"recording line {line_no}: invalid JSON", payload=line) from exc
    if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
        raise ParseError(f"recording line {line_no}: unknown record", payload=line)
    t = obj.get("t")
    if type(t) is not int:
        raise ParseError(f"recording line {line_no}: 't' must be int ns", payload=line)
    return Record(
        t,
        obj["kind"],
        _field(obj, "url", line_no),
        _field(obj, "symbol", line_no),
        _field(obj, "data", line_no),
    )


def read_recording(path: str | Path, on_bad_line: OnBadLine | None = None) -> Iterator[Record]:
    """Yield the records of a file in our format.

    A malformed line raises ParseError, or with ``on_bad_line`` is reported and skipped.
    """
    path = Path(path)
    for line_no, line in recording_lines(path):
        try:
            record = _record(line, line_no)
        except ParseError as exc:
            bad_line(on_bad_line, path, line_no, line, exc)
            continue
        yield record


def venue_of(records: Iterator[Record]) -> tuple[str | None, Iterator[Record]]:
    """Return the venue named by a recording's meta line (None if absent) and the records."""
    first = next(records, None)
    if first is None:
        return None, iter(())
    venue = None
    if first.kind == "meta" and first.data:
        try:
            meta = orjson.loads(first.data)
        except orjson.JSONDecodeError as exc:
            raise ParseError("recording meta line: invalid JSON", payload=first.data) from exc
        venue = meta.get("venue") if isinstance(meta, dict) else None

    def chained() -> Iterator[Record]:
        yield first
        yield from records

    return venue, chained()
