"""The state manager's journal: every accepted change as one record, replayed on restart.

A record is a tuple of plain values (str, int, ``Decimal``, enum members, nested tuples)
whose first item names its kind; :mod:`connectivity.core.state` writes and reads them.
:class:`MemoryJournal` keeps the tuples (a restarted manager in the same process, tests,
benchmarks); :class:`FileJournal` frames each as JSON in an
:class:`~connectivity.core.store.AppendLog`, so a torn tail at any byte is cut off on reopen
and the journal continues from the last complete record. Compaction rewrites the whole
journal atomically (a new log renamed over the old one).
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import attrs

from connectivity.core.store import AppendLog
from connectivity.errors import ParseError

__all__ = ["FileJournal", "Journal", "MemoryJournal", "Record"]

Record = tuple[Any, ...]


@runtime_checkable
class Journal(Protocol):
    """Where the state manager persists accepted changes."""

    def append(self, record: Record) -> None:
        """Persist one record (durable before returning, for a durable journal)."""

    def records(self) -> Iterator[Record]:
        """Yield every record in append order."""

    def rewrite(self, records: Iterable[Record]) -> None:
        """Replace the whole journal with ``records`` (atomically)."""

    def close(self) -> None:
        """Release resources."""


class MemoryJournal:
    """A :class:`Journal` in a list: survives a new manager, not a new process."""

    def __init__(self) -> None:
        self.entries: list[Record] = []
        self.append = self.entries.append  # the hot path: no wrapper call

    def records(self) -> Iterator[Record]:
        """Yield every record in append order."""
        return iter(list(self.entries))

    def rewrite(self, records: Iterable[Record]) -> None:
        """Replace every record."""
        self.entries[:] = list(records)

    def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self.entries)


def _plain(value: object) -> Any:
    # Decimal as its exact string, enum as its value, attrs values as their field tuples:
    # the reader converts by position (Decimal(str) and Enum(value) accept either form).
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if attrs.has(type(value)):
        return attrs.astuple(cast(Any, value), recurse=False)
    raise TypeError(f"cannot journal {type(value).__name__}")


class FileJournal:
    """A :class:`Journal` on disk: JSON records framed by an :class:`AppendLog`."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._log = AppendLog(self.path, fsync=fsync)
        self._key = len(self._log)

    @property
    def dropped_bytes(self) -> int:
        """Return how many bytes of torn tail were cut off when opening."""
        return self._log.dropped_bytes

    def append(self, record: Record) -> None:
        """Append one record."""
        payload = json.dumps(record, default=_plain, separators=(",", ":")).encode()
        self._log.append(self._key, payload)
        self._key += 1

    def records(self) -> Iterator[Record]:
        """Yield every record in append order."""
        for key, payload in self._log:
            try:
                record = json.loads(payload)
            except ValueError as exc:
                raise ParseError(f"{self.path}: journal record {key} is not JSON") from exc
            yield _tuples(record)

    def rewrite(self, records: Iterable[Record]) -> None:
        """Write ``records`` to a new log and rename it over the journal."""
        tmp = self.path.with_name(self.path.name + ".compact")
        tmp.unlink(missing_ok=True)
        fresh = AppendLog(tmp, fsync=False)
        count = 0
        for count, record in enumerate(records, 1):
            fresh.append(count - 1, json.dumps(record, default=_plain).encode())
        if self._fsync:
            os.fsync(fresh._file.fileno())  # durable before the rename
        fresh.close()
        self._log.close()
        os.replace(tmp, self.path)
        self._log = AppendLog(self.path, fsync=self._fsync)
        self._key = count

    def close(self) -> None:
        """Close the file."""
        self._log.close()


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value
