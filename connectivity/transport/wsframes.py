"""RFC 6455 frames over bytes, no I/O: encoding, and a decoder that enforces the framing rules.

:class:`FrameDecoder` is fed the bytes one peer sent, in whatever pieces they were read, and
hands out complete messages: text and binary ones (fragments reassembled) and control frames.
It refuses what RFC 6455 forbids (reserved bits or opcodes, control frames that are fragmented
or longer than 125 bytes, a continuation with nothing to continue, a new message inside a
fragmented one, the wrong masking for the direction, a close frame whose code is not one a peer
may send or whose reason is not UTF-8), what exceeds our limits (a frame or a whole message
above ``max_message_bytes``, a message in more than ``max_fragments`` frames) and, when asked,
text that is not UTF-8, with a :class:`~connectivity.errors.ParseError` whose ``code`` is the
close status to send (1002, 1007 or 1009).

The client (:mod:`connectivity.transport.websocket`) decodes unmasked server frames, millions a
minute on a busy feed, so that direction has its own loop with the header parsing inlined and a
single-frame text message handed straight to ``on_text`` (unless text is validated); every
other frame takes the general path that both directions share. The loopback server of
:mod:`connectivity.sim.wsserver` decodes masked client frames with the same decoder and
encodes with :func:`encode_frame`.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable

from connectivity.errors import ParseError

__all__ = [
    "CLOSE_INVALID_PAYLOAD",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_PROTOCOL_ERROR",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameDecoder",
    "close_payload",
    "encode_frame",
    "encode_text_frame",
    "frame_length",
    "parse_close",
]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005  # what parse_close reports for a close frame without a code
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_MESSAGE_TOO_BIG = 1009
MAX_CONTROL_PAYLOAD = 125
_CONTROL_RULE = "control frames must be final and at most 125 bytes"

Handler = Callable[[bytes, int], None]  # (payload, ts_recv_ns)


def encode_frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None) -> bytes:
    """Return one frame carrying ``payload``, masked with ``mask`` (client to server) if given."""
    first = (0x80 if fin else 0) | opcode
    masked = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, masked | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, masked | 126, n)
    else:
        header = struct.pack("!BBQ", first, masked | 127, n)
    if mask is None:
        return header + payload
    if len(mask) != 4:
        raise ValueError("a masking key is 4 bytes")
    return header + mask + _unmask(payload, mask)


def encode_text_frame(payload: str | bytes) -> bytes:
    """Return one complete unmasked text frame (precompute it once for floods)."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return encode_frame(OP_TEXT, data)


def frame_length(buf: bytes) -> int:
    """Return the whole length (header, masking key, payload) of the frame ``buf`` starts with.

    ``buf`` must hold the frame's header (2, 4 or 10 bytes).
    """
    n = buf[1] & 0x7F
    key = 4 if buf[1] & 0x80 else 0
    if n == 126:
        return 4 + key + struct.unpack_from("!H", buf, 2)[0]
    if n == 127:
        return 10 + key + struct.unpack_from("!Q", buf, 2)[0]
    return 2 + key + n


def parse_close(payload: bytes) -> tuple[int, str]:
    """Return (status code, reason) of a close frame; 1005 when it carries no code."""
    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else CLOSE_NO_STATUS
    return code, payload[2:].decode("utf-8", "replace")


def close_payload(code: int, reason: str = "") -> bytes:
    """Return the payload of a close frame: ``code``, then ``reason`` cut to fit 125 bytes."""
    data = reason.encode("utf-8")[: MAX_CONTROL_PAYLOAD - 2]
    # A cut inside a multi-byte character would send invalid UTF-8 (a 1007 at the peer).
    return struct.pack("!H", code) + data.decode("utf-8", "ignore").encode("utf-8")


def _check_close(payload: bytes) -> None:
    """Refuse a close frame a peer may not send (RFC 6455 5.5.1 and 7.4)."""
    if len(payload) == 1:
        raise _violation("close frame with a one-byte payload")
    if not payload:
        return
    code = (payload[0] << 8) | payload[1]
    # 1004-1006 and 1015 are reserved (never on the wire), 1016-2999 are unassigned.
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise _violation(f"close frame with invalid status code {code}")
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise _violation("close reason is not valid UTF-8", CLOSE_INVALID_PAYLOAD) from None


def _unmask(payload: bytes, mask: bytes) -> bytes:
    # Whole-buffer XOR through big ints: one C-level operation instead of a per-byte loop.
    n = len(payload)
    if n == 0:
        return payload
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def _violation(
    reason: str, code: int = CLOSE_PROTOCOL_ERROR, payload: bytes | None = None
) -> ParseError:
    # The close status to send travels as the error's code.
    return ParseError(reason, code=code, payload=payload)


class FrameDecoder:
    """Decode the frames one peer sends into messages, in any read boundaries.

    ``on_text(payload, ts)`` and ``on_binary(payload, ts)`` get complete messages,
    ``on_control(opcode, payload)`` gets pings, pongs and close frames. An exception from a
    message handler goes to ``on_error`` and decoding goes on; without ``on_error`` it
    propagates. ``stopped()`` is asked after every frame but single-frame text messages; once
    it says True the rest of the bytes fed are left unread (a close frame ended the connection).
    ``masked`` is the direction: True to decode a client's frames (each must be masked), False
    for a server's (none may be). ``max_message_bytes`` bounds a frame and a whole message,
    ``max_fragments`` the frames of one message (empty continuations included).
    ``validate_utf8`` checks text messages, fragment by fragment (a bad byte fails at once),
    at some cost per message: leave it off when the consumer validates anyway (orjson does).
    """

    def __init__(
        self,
        on_text: Handler,
        on_binary: Handler,
        on_control: Callable[[int, bytes], None],
        *,
        masked: bool = False,
        max_message_bytes: int = 16 * 1024 * 1024,
        max_fragments: int = 65_536,
        validate_utf8: bool = False,
        chunk_bytes: int = 256 * 1024,
        on_error: Callable[[Exception], None] | None = None,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.on_text = on_text
        self.on_binary = on_binary
        self.on_control = on_control
        self.masked = masked
        self.max_message_bytes = max_message_bytes
        self.max_fragments = max_fragments
        self.validate_utf8 = validate_utf8
        self.chunk_bytes = chunk_bytes  # a partial frame above this is gathered, joined once
        self.on_error = on_error
        self.stopped = stopped
        self.frag_opcode = 0  # opcode of the fragmented message in progress, 0 if none
        self._frags: list[bytes] = []
        self._frag_size = 0
        self._utf8: codecs.IncrementalDecoder | None = None  # of a fragmented text message
        self._buf = b""
        self._pending: list[bytes] = []  # chunks of one large frame, joined once it is complete
        self._need = 0

    def feed(self, chunk: bytes, ts: int = 0) -> tuple[int, int]:
        """Decode the bytes of one read (at wall time ``ts``); return (frames, messages) seen."""
        buf = self._gather(chunk)
        if buf is None:
            return 0, 0
        if self.masked:
            pos, frames, delivered = self._decode_masked(buf, ts)
        else:
            pos, frames, delivered = self._decode_unmasked(buf, ts)
        self._keep(buf, pos)
        return frames, delivered

    def _gather(self, chunk: bytes) -> bytes | None:
        """Return the bytes to decode now, or None while a large frame is still arriving."""
        if self._need:
            self._pending.append(chunk)
            self._need -= len(chunk)
            if self._need > 0:
                return None
            buf = b"".join(self._pending)
            self._pending, self._need = [], 0
            return buf
        return self._buf + chunk if self._buf else chunk

    def _keep(self, buf: bytes, pos: int) -> None:
        """Keep the undecoded tail; a large incomplete frame is collected chunk by chunk."""
        buf = buf[pos:] if pos else buf
        if len(buf) > self.chunk_bytes:
            self._pending, self._need, buf = [buf], frame_length(buf) - len(buf), b""
        self._buf = buf

    def _decode_unmasked(self, buf: bytes, ts: int) -> tuple[int, int, int]:
        """Hot path (server frames): header parsing inlined, text frames straight to on_text."""
        limit = self.max_message_bytes
        on_text = self.on_text
        fast = -1 if self.validate_utf8 else 0x81  # final text frame; validated ones go round
        pos, end, frames, delivered = 0, len(buf), 0, 0
        while end - pos >= 2:
            b0, n = buf[pos], buf[pos + 1]
            if n < 126:
                start = pos + 2
            elif n == 126:
                if end - pos < 4:
                    break
                n, start = (buf[pos + 2] << 8) | buf[pos + 3], pos + 4
            elif n == 127:
                if end - pos < 10:
                    break
                n, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            else:
                raise _violation("server frame is masked", payload=buf[pos : pos + 16])
            if n > limit:
                raise _too_big(n, limit)
            stop = start + n
            if stop > end:
                _check_incomplete(b0, n)
                break
            payload = buf[start:stop]
            pos = stop
            frames += 1
            if b0 == fast and not self.frag_opcode:
                # What _frame does for a final text frame, without its call and checks.
                delivered += 1
                try:
                    on_text(payload, ts)
                except Exception as exc:
                    if self.on_error is None:
                        raise
                    self.on_error(exc)
            else:
                delivered += self._frame(b0, payload, ts)
                if self.stopped():
                    break
        return pos, frames, delivered

    def _decode_masked(self, buf: bytes, ts: int) -> tuple[int, int, int]:
        """Client frames: every one masked, all through the general path."""
        limit = self.max_message_bytes
        pos, end, frames, delivered = 0, len(buf), 0, 0
        while end - pos >= 2:
            if not buf[pos + 1] & 0x80:
                raise _violation("client frames must be masked", payload=buf[pos : pos + 16])
            n = buf[pos + 1] & 0x7F
            start = pos + (10 if n == 127 else 4 if n == 126 else 2)
            if end < start + 4:
                break
            if n >= 126:
                n = int.from_bytes(buf[pos + 2 : start], "big")
            if n > limit:
                raise _too_big(n, limit)
            stop = start + 4 + n
            if stop > end:
                _check_incomplete(buf[pos], n)
                break
            payload = _unmask(buf[start + 4 : stop], buf[start : start + 4])
            frames += 1
            delivered += self._frame(buf[pos], payload, ts)
            pos = stop
            if self.stopped():
                break
        return pos, frames, delivered

    def _frame(self, b0: int, payload: bytes, ts: int) -> int:
        """Apply the rules to one frame (first byte ``b0``); return messages delivered (0/1)."""
        fin, opcode = b0 & 0x80, b0 & 0x0F
        if b0 & 0x70:
            raise _violation("reserved bits set without a negotiated extension")
        if opcode >= OP_CLOSE:
            if not fin or len(payload) > MAX_CONTROL_PAYLOAD:
                raise _violation(_CONTROL_RULE)
            if opcode > OP_PONG:
                raise _violation(f"reserved control opcode {opcode:#x}")
            if opcode == OP_CLOSE:
                _check_close(payload)
            self.on_control(opcode, payload)
            return 0
        if opcode == OP_CONT:
            if not self.frag_opcode:
                raise _violation("continuation frame without a message to continue")
        elif opcode in (OP_TEXT, OP_BINARY):
            if self.frag_opcode:
                raise _violation("new message inside a fragmented message")
            if fin:
                if opcode == OP_TEXT and self.validate_utf8:
                    _check_utf8(payload)
                return self._deliver(opcode, payload, ts)
            self.frag_opcode = opcode
            if opcode == OP_TEXT and self.validate_utf8:
                self._utf8 = codecs.getincrementaldecoder("utf-8")()
        else:
            raise _violation(f"reserved opcode {opcode:#x}")
        return self._fragment(payload, bool(fin), ts)

    def _fragment(self, payload: bytes, fin: bool, ts: int) -> int:
        """Add one frame of a fragmented message; deliver the message on its final frame."""
        self._frag_size += len(payload)
        if self._frag_size > self.max_message_bytes:
            raise _violation(
                f"fragmented message exceeds the {self.max_message_bytes}-byte size limit",
                CLOSE_MESSAGE_TOO_BIG,
            )
        if len(self._frags) >= self.max_fragments:
            raise _violation(
                f"message in more than {self.max_fragments} fragments", CLOSE_MESSAGE_TOO_BIG
            )
        if self._utf8 is not None:
            _check_utf8(payload, self._utf8, fin)
        self._frags.append(payload)
        if not fin:
            return 0
        opcode, message = self.frag_opcode, b"".join(self._frags)
        self.frag_opcode, self._frags, self._frag_size, self._utf8 = 0, [], 0, None
        return self._deliver(opcode, message, ts)

    def _deliver(self, opcode: int, message: bytes, ts: int) -> int:
        handler = self.on_text if opcode == OP_TEXT else self.on_binary
        try:
            handler(message, ts)
        except Exception as exc:
            if self.on_error is None:
                raise
            self.on_error(exc)
        return 1


def _check_incomplete(b0: int, n: int) -> None:
    """Refuse an incomplete control frame that declares too long a payload, before buffering it.

    (A complete one is refused by ``_frame``; checking here keeps the per-frame path short.)
    """
    if n > MAX_CONTROL_PAYLOAD and b0 & 0x08:
        raise _violation(_CONTROL_RULE)


def _too_big(n: int, limit: int) -> ParseError:
    # Refused by the declared length, before the payload is read.
    return _violation(f"frame of {n} bytes exceeds the {limit}-byte limit", CLOSE_MESSAGE_TOO_BIG)


def _check_utf8(
    data: bytes, decoder: codecs.IncrementalDecoder | None = None, final: bool = True
) -> None:
    """Refuse text that is not UTF-8 (``decoder`` carries a character split across frames)."""
    try:
        if decoder is None:
            data.decode("utf-8")
        else:
            decoder.decode(data, final)
    except UnicodeDecodeError:
        raise _violation("text message is not valid UTF-8", CLOSE_INVALID_PAYLOAD) from None
