"""FIX stream framing: cut received bytes into validated messages, no I/O.

Framing trusts nothing: a frame starts at ``8=FIX``, ``9=`` (BodyLength, zero padding allowed)
must be the second field and ``35=`` the third; the declared BodyLength must land exactly on
``10=NNN<SOH>``, and the CheckSum (sum of every byte before ``10=`` mod 256) must match. A frame
that fails any of these is *garbled*: FIX says drop it without touching sequence numbers, so the
framer counts it, reports it and resynchronises on the next ``8=FIX``. A frame's fields are
split and checked by :mod:`.codec`.

Hostile input costs linear time and bounded memory: every search for a header field stops
after the few bytes a valid one can take, a BodyLength over the limit is refused as soon as
it is read, and the buffer is a ``bytearray`` appended at the end and consumed from the front
(both amortised O(1) in CPython), never copied whole per read. A frame that fails its
CheckSum is rescanned for messages inside it, but candidates overlapping such a frame may
only cost, all together, twice the bytes it spans: otherwise headers announcing lengths that
land on a packed run of ``10=000<SOH>`` would each be checksummed over the same megabyte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from connectivity.errors import ConfigError
from connectivity.transport.fix.codec import (
    BEGIN,
    DEFAULT_DATA_PAIRS,
    MAX_DIGITS,
    SOH,
    FixMessage,
    FixParseError,
    _parse_frame,
)

if TYPE_CHECKING:
    from connectivity.transport.fix.dictionary import FixDictionary

__all__ = ["FixFramer"]

_MAX_BEGIN = 32  # "8=FIXT.1.1<SOH>" and friends: a longer BeginString field is garbage
_BODY_LENGTH_END = 4 + MAX_DIGITS  # SOH + "9=" + digits + SOH, counted from the first SOH
_TRAILER = b"\x0110="
_MAX_TRAILER = 20  # "<SOH>10=" + value + SOH: QuickFIX resync takes no longer CheckSum value

Buffer = bytes | bytearray


def _header(buf: Buffer, start: int, end: int, max_body_length: int) -> tuple[int, int] | str:
    """Locate the body of the frame at ``start``: (body start, body length) or a garble reason.

    Returns (-1, 0) when ``buf`` ends before the header does. Both searches stop after the
    longest valid field, so a run of ``8=FIX`` without SOH costs linear time, not quadratic.
    """
    soh1 = buf.find(SOH, start + 2, start + _MAX_BEGIN)
    if soh1 < 0:
        return (-1, 0) if end - start < _MAX_BEGIN else "BeginString field too long"
    if buf[soh1 + 1 : soh1 + 3] != b"9=":
        return (-1, 0) if end - soh1 < 3 else "BodyLength (9) must be the second field"
    soh2 = buf.find(SOH, soh1 + 3, soh1 + _BODY_LENGTH_END)
    if soh2 < 0:
        return (-1, 0) if end - soh1 < _BODY_LENGTH_END else "BodyLength value too long"
    length = buf[soh1 + 3 : soh2]
    if not length.isdigit():
        return f"BodyLength is not a number: {bytes(length[:20])!r}"
    body_length = int(length)
    if body_length > max_body_length:
        return f"BodyLength {body_length} exceeds the limit {max_body_length}"
    return soh2 + 1, body_length


class FixFramer:
    """Cut a byte stream into validated messages, dropping and counting garbled frames.

    ``feed`` runs in time linear in the bytes fed, whatever they are; at most one frame of
    ``max_body_length`` (plus its header and trailer) is ever buffered. With
    ``quickfix_resync`` a frame whose BodyLength misses ``10=`` swallows everything up to the
    next CheckSum field, as QuickFIX does (its acceptance script 2m expects that); by default
    the framer rescans for the next ``8=FIX``, so an over-long BodyLength does not cost the
    following message. With a ``dictionary`` (whose data pairs it then uses), a frame of a
    shape the dictionary has validated before is parsed and validated in one pass; its
    message needs no further ``validate``.
    """

    def __init__(
        self,
        *,
        max_body_length: int = 1 << 20,
        on_garbled: Callable[[bytes, str], None] | None = None,
        data_pairs: Mapping[int, int] | None = None,
        printable_only: bool = False,
        quickfix_resync: bool = False,
        dictionary: FixDictionary | None = None,
    ) -> None:
        if dictionary is not None and data_pairs is not None:
            raise ConfigError("give data_pairs or a dictionary (which has its own), not both")
        self.max_body_length = max_body_length
        self.on_garbled = on_garbled
        if dictionary is not None:
            data_pairs = dictionary.data_pairs
        self.data_pairs = DEFAULT_DATA_PAIRS if data_pairs is None else data_pairs
        self._match = None if dictionary is None else dictionary.validator.match
        self.printable_only = printable_only
        self.quickfix_resync = quickfix_resync
        self.garbled = 0
        self._buf = bytearray()
        self._need = 0  # bytes the pending frame needs before a rescan is worth it
        self._skipping = False  # inside a junk run already counted
        self._swallowing = False  # quickfix_resync: dropping bytes up to the next CheckSum
        self._horizon = 0  # end (in the buffer) of the frames that failed their CheckSum
        self._allowance = 0  # bytes that candidates starting before _horizon may still cost

    def buffered(self) -> int:
        """Return how many received bytes are waiting for the rest of their frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget buffered bytes (on reconnect)."""
        self._buf.clear()
        self._need = 0
        self._skipping = False
        self._swallowing = False
        self._horizon = self._allowance = 0

    def feed(self, data: bytes) -> list[FixMessage]:
        """Add received bytes; return the complete valid messages now available, in order."""
        messages: list[FixMessage] = []
        buf = self._buf
        if buf or len(data) < self._need:
            buf += data
            if len(buf) < self._need:
                return []
            pos = self._scan(buf, messages)
            del buf[:pos]  # from the front: no copy of the rest
        else:
            pos = self._scan(data, messages)  # the usual read: whole frames, scanned in place
            if pos < len(data):
                buf += memoryview(data)[pos:]
        if self._horizon:
            self._horizon = max(0, self._horizon - pos)
        return messages

    def _drop(self, raw: Buffer, reason: str) -> None:
        self.garbled += 1
        if self.on_garbled is not None:
            self.on_garbled(bytes(raw), reason)

    def _scan(self, buf: Buffer, out: list[FixMessage]) -> int:
        """Extract frames from ``buf`` into ``out``; return where unconsumed bytes begin."""
        pos, end = 0, len(buf)
        self._need = 0
        while True:
            if self._swallowing:
                pos = self._swallow(buf, pos)
                if self._swallowing:
                    return pos
            start = buf.find(BEGIN, pos)
            if start < 0:
                keep = max(pos, end - len(BEGIN) + 1)  # a partial "8=FI" may complete later
                if keep > pos and not self._skipping:
                    self._skipping = True
                    self._drop(buf[pos:keep], "bytes before 8=FIX")
                return keep
            if start > pos and not self._skipping:
                self._drop(buf[pos:start], "bytes before 8=FIX")
            located = _header(buf, start, end, self.max_body_length)
            if isinstance(located, str):
                pos = self._garbled(buf, start, located)
                continue
            body_start, body_length = located
            trailer_at = body_start + body_length
            if body_start < 0 or end < trailer_at + 7:
                self._need = end - start + 1 if body_start < 0 else trailer_at + 7 - start
                return start
            frame_end = trailer_at + 7
            if buf[trailer_at : trailer_at + 3] != b"10=" or buf[frame_end - 1] != 1:
                reason = f"BodyLength {body_length} misses 10="
                if not self.quickfix_resync:
                    pos = self._garbled(buf, start, reason)
                    continue
                self._skipping = False
                self._drop(buf[start:frame_end], reason)
                self._swallowing = True  # the frame runs on to the next CheckSum field
                pos = trailer_at - 1
                continue
            if start < self._horizon:  # inside a frame that failed: bounded extra work
                if frame_end - start > self._allowance:
                    pos = self._garbled(buf, start, "overlaps a frame that failed its CheckSum")
                    continue
                self._allowance -= frame_end - start
            raw = buf[start:frame_end]
            try:
                message = _parse_frame(
                    raw if type(raw) is bytes else bytes(raw), body_start - start,
                    trailer_at - start, self.data_pairs, self.printable_only, self._match,
                )  # fmt: skip
            except FixParseError as exc:  # garbled, or non-printable: never kills the stream
                if start >= self._horizon:
                    self._allowance = 0
                if frame_end > self._horizon:
                    self._allowance += 2 * (frame_end - max(start, self._horizon))
                    self._horizon = frame_end
                pos = self._garbled(buf, start, exc.reason)
                continue
            self._skipping = False
            out.append(message)
            pos = frame_end

    def _swallow(self, buf: Buffer, pos: int) -> int:
        """Skip past the next ``<SOH>10=...<SOH>``; return where to go on (or to wait)."""
        end = len(buf)
        while True:
            trailer = buf.find(_TRAILER, pos)
            if trailer < 0:
                return max(pos, end - len(_TRAILER) + 1)  # "<SOH>10" may complete later
            close = buf.find(SOH, trailer + len(_TRAILER), trailer + _MAX_TRAILER)
            if close >= 0:
                self._swallowing = False
                self._skipping = False
                return close + 1
            if end < trailer + _MAX_TRAILER:
                return trailer  # its CheckSum value is still arriving
            pos = trailer + 1  # no SOH soon after "10=": not a trailer

    def _garbled(self, buf: Buffer, start: int, reason: str) -> int:
        """Count a bad frame at ``start``; resume scanning right after its ``8=``."""
        following = buf.find(BEGIN, start + 1)
        self._skipping = False
        self._drop(buf[start : following if following >= 0 else len(buf)], reason)
        self._skipping = True  # the rest of this frame is part of what was just reported
        return start + 1
