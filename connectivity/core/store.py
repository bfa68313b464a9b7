"""Persistent state for sessions: sequence numbers, sent messages, and an append-only journal.

:class:`Store` is what a FIX session needs to survive a restart: the next sender and target
MsgSeqNum and every message it sent (by MsgSeqNum, for answering ResendRequest).
:class:`MemoryStore` keeps it in memory (venues that reset sequence numbers on every Logon need
nothing more); :class:`FileStore` keeps it on disk, crash-safe:

- sequence numbers live in a small file of two checksummed slots written alternately in place
  (:class:`SeqNumFile`): a torn write spoils only the slot being written, so reopening finds
  the new pair or the previous one, never half of one, at the cost of one ``pwrite``;
- sent messages go to an :class:`AppendLog`: length- and CRC-framed records appended to one
  file. A crash mid-append leaves a torn tail, which reopening detects and cuts off.

On reopen the next sender number is ``max(file value, last logged MsgSeqNum + 1)``: messages
are logged before they reach the socket, so a number that may have gone out is never reused.
:class:`AppendLog` is public on its own so an order journal can use the same framing.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from connectivity.errors import ConfigError

__all__ = ["AppendLog", "FileStore", "MemoryStore", "SeqNumFile", "Store"]

log = logging.getLogger(__name__)

# Record header: payload length, key (e.g. MsgSeqNum), CRC32 over key bytes + payload.
_HEADER = struct.Struct("<IQI")
_MAX_RECORD = 64 << 20


@runtime_checkable
class Store(Protocol):
    """Sequence numbers and sent messages of one session."""

    def next_sender_seq(self) -> int:
        """Return the MsgSeqNum the next outgoing message gets."""

    def next_target_seq(self) -> int:
        """Return the MsgSeqNum expected on the next incoming message."""

    def set_next_sender_seq(self, seq: int) -> None:
        """Persist the next outgoing MsgSeqNum."""

    def set_next_target_seq(self, seq: int) -> None:
        """Persist the next expected incoming MsgSeqNum."""

    def save_sent(self, seq: int, raw: bytes) -> None:
        """Persist an outgoing message under its MsgSeqNum (before it is written out)."""

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Return the stored messages with ``begin <= seq <= end``, in MsgSeqNum order."""

    def reset(self) -> None:
        """Start over: both numbers back to 1 and no stored messages."""

    def close(self) -> None:
        """Release files; the store cannot be used afterwards."""


class MemoryStore:
    """A :class:`Store` in memory: lost on restart, fine when the venue resets every Logon."""

    def __init__(self, *, keep_messages: bool = True) -> None:
        self._sender = 1
        self._target = 1
        self._keep = keep_messages
        self._sent: dict[int, bytes] = {}

    def next_sender_seq(self) -> int:
        """Return the next outgoing MsgSeqNum."""
        return self._sender

    def next_target_seq(self) -> int:
        """Return the next expected incoming MsgSeqNum."""
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        """Set the next outgoing MsgSeqNum."""
        self._sender = seq

    def set_next_target_seq(self, seq: int) -> None:
        """Set the next expected incoming MsgSeqNum."""
        self._target = seq

    def save_sent(self, seq: int, raw: bytes) -> None:
        """Keep a sent message (unless built with ``keep_messages=False``)."""
        if self._keep:
            self._sent[seq] = raw

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Return the kept messages in ``[begin, end]``."""
        if end - begin < len(self._sent):
            return [(s, self._sent[s]) for s in range(begin, end + 1) if s in self._sent]
        return sorted((s, raw) for s, raw in self._sent.items() if begin <= s <= end)

    def reset(self) -> None:
        """Back to 1/1 with nothing stored."""
        self._sender = 1
        self._target = 1
        self._sent.clear()

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"MemoryStore(sender={self._sender}, target={self._target}, sent={len(self._sent)})"


class AppendLog:
    """An append-only file of ``(key, payload)`` records that survives a crash mid-append.

    Each record is ``<len u32><key u64><crc32 u32><payload>``. Opening scans the file; the
    first record that is incomplete or fails its CRC ends the valid log and everything from
    there on is truncated (a torn write from a crash; :attr:`dropped_bytes` says how much).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self.dropped_bytes = 0
        self._index: list[tuple[int, int, int]] = []  # (key, payload offset, payload length)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = open(self.path, "a+b")  # noqa: SIM115 - owned until close()
        self._end = self._recover()

    def _recover(self) -> int:
        # Streamed record by record: a long-lived log need not fit in memory to be opened.
        size = os.fstat(self._file.fileno()).st_size
        offset = 0
        with open(self.path, "rb") as reader:
            while offset + _HEADER.size <= size:
                header = reader.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    break
                length, key, crc = _HEADER.unpack(header)
                start = offset + _HEADER.size
                if length > _MAX_RECORD or start + length > size:
                    break
                payload = reader.read(length)
                if zlib.crc32(payload, zlib.crc32(key.to_bytes(8, "little"))) != crc:
                    break
                self._index.append((key, start, length))
                offset = start + length
        if offset < size:
            self.dropped_bytes = size - offset
            log.warning("%s: dropping %d bytes of torn/corrupt tail", self.path, self.dropped_bytes)
            self._file.truncate(offset)
            self._sync()
        return offset

    def append(self, key: int, payload: bytes) -> None:
        """Append one record and (if ``fsync``) make it durable before returning."""
        if not 0 <= key < 1 << 64:
            raise ConfigError(f"journal key out of range: {key}")
        crc = zlib.crc32(payload, zlib.crc32(key.to_bytes(8, "little")))
        self._file.seek(self._end)
        self._file.write(_HEADER.pack(len(payload), key, crc) + payload)
        self._file.flush()
        self._sync()
        self._index.append((key, self._end + _HEADER.size, len(payload)))
        self._end += _HEADER.size + len(payload)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        """Yield every ``(key, payload)`` in append order."""
        for key, start, length in list(self._index):
            yield key, self._read(start, length)

    def __len__(self) -> int:
        return len(self._index)

    def keys(self) -> list[int]:
        """Return every record's key in append order."""
        return [key for key, _, _ in self._index]

    def last_key(self) -> int | None:
        """Return the key of the last record, or None when empty."""
        return self._index[-1][0] if self._index else None

    def _read(self, start: int, length: int) -> bytes:
        return os.pread(self._file.fileno(), length, start)

    def read_at(self, position: int) -> tuple[int, bytes]:
        """Return the ``position``-th record (0-based)."""
        key, start, length = self._index[position]
        return key, self._read(start, length)

    def clear(self) -> None:
        """Drop every record (atomically: an empty file replaces the old one)."""
        self._file.close()
        _atomic_write(self.path, b"", fsync=self._fsync)
        self._file = open(self.path, "a+b")  # noqa: SIM115
        self._index.clear()
        self._end = 0

    def _sync(self) -> None:
        if self._fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __repr__(self) -> str:
        return f"AppendLog({str(self.path)!r}, records={len(self._index)})"


def _atomic_write(path: Path, data: bytes, *, fsync: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    os.replace(tmp, path)
    if fsync:
        # The rename itself is durable only once the directory entry is.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


_SLOT = struct.Struct("<QQQI")  # generation, next sender, next target, CRC32 of the first 24
_SLOT_SIZE = 32


class SeqNumFile:
    """Two sequence numbers persisted in place in two checksummed slots, written alternately.

    Each update is one 32-byte ``pwrite`` into the older slot (plus ``fsync`` when asked), so
    it costs microseconds rather than a file creation and rename per message. A torn write
    (power loss mid-write) spoils only the slot being written; reopening takes the valid slot
    with the highest generation, i.e. the previous pair. That is safe because the session
    persists a number before the message it covers can reach the wire.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self.generation = 0
        self.values = (1, 1)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        data = os.pread(self._fd, 2 * _SLOT_SIZE, 0)
        best: tuple[int, int, int] | None = None
        for offset in (0, _SLOT_SIZE):
            chunk = data[offset : offset + _SLOT.size]
            if len(chunk) < _SLOT.size:
                continue
            generation, sender, target, crc = _SLOT.unpack(chunk)
            if generation and zlib.crc32(chunk[:24]) == crc and (not best or generation > best[0]):
                best = (generation, sender, target)
        if best is None:
            if data.strip(b"\0"):
                os.close(self._fd)
                raise ConfigError(f"corrupt sequence number file {self.path} (no valid slot)")
            return
        if best[1] < 1 or best[2] < 1:
            os.close(self._fd)
            raise ConfigError(f"invalid sequence numbers in {self.path}: {best[1:]}")
        self.generation, self.values = best[0], (best[1], best[2])

    def write(self, sender: int, target: int) -> None:
        """Persist the pair (durably when ``fsync``)."""
        self.generation += 1
        head = struct.pack("<QQQ", self.generation, sender, target)
        slot = (head + struct.pack("<I", zlib.crc32(head))).ljust(_SLOT_SIZE, b"\0")
        os.pwrite(self._fd, slot, (self.generation % 2) * _SLOT_SIZE)
        if self._fsync:
            os.fsync(self._fd)
        self.values = (sender, target)

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


class FileStore:
    """A crash-safe :class:`Store` in ``directory``: ``<name>.seqnums`` and ``<name>.messages``.

    ``fsync=True`` (the default) also survives power loss; ``fsync=False`` survives a process
    crash only (the kernel still has the writes) and is much faster.
    """

    def __init__(self, directory: str | os.PathLike[str], name: str, *, fsync: bool = True) -> None:
        if not name or "/" in name or name.startswith("."):
            raise ConfigError(f"invalid store name: {name!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seqnums = SeqNumFile(self.directory / f"{name}.seqnums", fsync=fsync)
        self._log = AppendLog(self.directory / f"{name}.messages", fsync=fsync)
        self._positions: dict[int, int] = {}
        for position, seq in enumerate(self._log.keys()):
            self._positions[seq] = position  # a later copy of the same seq wins
        self._sender, self._target = self._seqnums.values
        last = self._log.last_key()
        if last is not None and last + 1 > self._sender:
            # Logged (so maybe sent) but the number update did not land before the crash.
            self._sender = last + 1
            self._write_seqnums()

    def _write_seqnums(self) -> None:
        self._seqnums.write(self._sender, self._target)

    def next_sender_seq(self) -> int:
        """Return the next outgoing MsgSeqNum."""
        return self._sender

    def next_target_seq(self) -> int:
        """Return the next expected incoming MsgSeqNum."""
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        """Persist the next outgoing MsgSeqNum."""
        if seq != self._sender:
            self._sender = seq
            self._write_seqnums()

    def set_next_target_seq(self, seq: int) -> None:
        """Persist the next expected incoming MsgSeqNum."""
        if seq != self._target:
            self._target = seq
            self._write_seqnums()

    def save_sent(self, seq: int, raw: bytes) -> None:
        """Append a sent message to the log (durable before it goes out when ``fsync``)."""
        self._log.append(seq, raw)
        self._positions[seq] = len(self._log) - 1

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Return the logged messages in ``[begin, end]``."""
        seqs = sorted(s for s in self._positions if begin <= s <= end)
        return [(s, self._log.read_at(self._positions[s])[1]) for s in seqs]

    def reset(self) -> None:
        """Back to 1/1 with an empty message log."""
        self._log.clear()
        self._positions.clear()
        self._sender = 1
        self._target = 1
        self._write_seqnums()

    @property
    def dropped_bytes(self) -> int:
        """Return how many bytes of torn log tail were cut off when opening."""
        return self._log.dropped_bytes

    def close(self) -> None:
        """Close both files."""
        self._log.close()
        self._seqnums.close()

    def __repr__(self) -> str:
        return (
            f"FileStore({str(self.directory)!r}, sender={self._sender}, target={self._target}, "
            f"sent={len(self._positions)})"
        )
