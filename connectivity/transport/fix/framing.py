"""FIX stream framing: cut received bytes into validated messages, no I/O.

Framing trusts nothing: a frame starts at ``8=FIX``, ``9=`` (BodyLength, zero padding allowed)
must be the second field and ``35=`` the third; the declared BodyLength must land exactly on
``10=NNN<SOH>``, and the CheckSum (sum of every byte before ``10=`` mod 256) must match. A frame
that fails any of these is *garbled*: FIX says drop it without touching sequence numbers, so the
framer counts it, reports it and resynchronises on the next ``8=FIX``. A frame's fields are
split and checked by :mod:`.codec`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from connectivity.transport.fix.codec import (
    BEGIN,
    DEFAULT_DATA_PAIRS,
    SOH,
    FixMessage,
    FixParseError,
    _parse_frame,
)

__all__ = ["FixFramer"]


def _header(buf: bytes, start: int, end: int, max_body_length: int) -> tuple[int, int] | str:
    """Locate the body of the frame at ``start``: (body start, body length) or a garble reason.

    Returns (-1, 0) when ``buf`` ends before the header does.
    """
    soh1 = buf.find(SOH, start + 2, end)
    if soh1 < 0:
        return (-1, 0) if end - start < 32 else "BeginString field too long"
    if buf[soh1 + 1 : soh1 + 3] != b"9=":
        return (-1, 0) if end - soh1 < 3 else "BodyLength (9) must be the second field"
    soh2 = buf.find(SOH, soh1 + 3, end)
    if soh2 < 0:
        return (-1, 0) if end - soh1 < 24 else "BodyLength value too long"
    length = buf[soh1 + 3 : soh2]
    if not length.isdigit():
        return f"BodyLength is not a number: {bytes(length[:20])!r}"
    body_length = int(length)
    if body_length > max_body_length:
        return f"BodyLength {body_length} exceeds the limit {max_body_length}"
    return soh2 + 1, body_length


class FixFramer:
    """Cut a byte stream into validated messages, dropping and counting garbled frames.

    ``feed`` runs in time linear in the bytes fed: while a large frame is still arriving the
    buffer is only appended to. With ``quickfix_resync`` a frame whose BodyLength misses
    ``10=`` swallows everything up to the next CheckSum field, as QuickFIX does (its
    acceptance script 2m expects that); by default the framer rescans for the next ``8=FIX``,
    so an over-long BodyLength does not cost the following message.
    """

    def __init__(
        self,
        *,
        max_body_length: int = 1 << 20,
        on_garbled: Callable[[bytes, str], None] | None = None,
        data_pairs: Mapping[int, int] | None = None,
        printable_only: bool = False,
        quickfix_resync: bool = False,
    ) -> None:
        self.max_body_length = max_body_length
        self.on_garbled = on_garbled
        self.data_pairs = DEFAULT_DATA_PAIRS if data_pairs is None else data_pairs
        self.printable_only = printable_only
        self.quickfix_resync = quickfix_resync
        self.garbled = 0
        self._buf = bytearray()
        self._need = 0  # bytes the pending frame needs before a rescan is worth it
        self._skipping = False  # inside a junk run already counted

    def buffered(self) -> int:
        """Return how many received bytes are waiting for the rest of their frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget buffered bytes (on reconnect)."""
        self._buf.clear()
        self._need = 0
        self._skipping = False

    def feed(self, data: bytes) -> list[FixMessage]:
        """Add received bytes; return the complete valid messages now available, in order."""
        if self._buf or len(data) < self._need:
            self._buf += data
            if len(self._buf) < self._need:
                return []
            buf = bytes(self._buf)
        else:
            buf = bytes(data)
        messages: list[FixMessage] = []
        pos = self._scan(buf, messages)
        self._buf = bytearray(buf[pos:])
        return messages

    def _drop(self, raw: bytes, reason: str) -> None:
        self.garbled += 1
        if self.on_garbled is not None:
            self.on_garbled(raw, reason)

    def _scan(self, buf: bytes, out: list[FixMessage]) -> int:
        """Extract frames from ``buf`` into ``out``; return where unconsumed bytes begin."""
        pos, end = 0, len(buf)
        self._need = 0
        while True:
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
                if not self.quickfix_resync:
                    pos = self._garbled(buf, start, f"BodyLength {body_length} misses 10=")
                    continue
                trailer = buf.find(b"\x0110=", max(trailer_at - 1, body_start - 1))
                close = buf.find(SOH, trailer + 4) if trailer >= 0 else -1
                if close < 0:
                    self._need = end - start + 1
                    return start
                self._skipping = False
                self._drop(buf[start : close + 1], f"BodyLength {body_length} misses 10=")
                pos = close + 1
                continue
            try:
                message = _parse_frame(
                    buf[start:frame_end], body_start - start, trailer_at - start,
                    self.data_pairs, self.printable_only,
                )  # fmt: skip
            except FixParseError as exc:  # garbled, or non-printable: never kills the stream
                pos = self._garbled(buf, start, exc.reason)
                continue
            self._skipping = False
            out.append(message)
            pos = frame_end

    def _garbled(self, buf: bytes, start: int, reason: str) -> int:
        """Count a bad frame at ``start``; resume scanning right after its ``8=``."""
        following = buf.find(BEGIN, start + 1)
        self._skipping = False
        self._drop(buf[start : following if following >= 0 else len(buf)], reason)
        self._skipping = True  # the rest of this frame is part of what was just reported
        return start + 1
