"""RFC 6455 frame encoding and the FrameDecoder, in both directions, over bytes only."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.errors import ParseError
from connectivity.transport.wsframes import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_PROTOCOL_ERROR,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameDecoder,
    close_payload,
    encode_frame,
    encode_text_frame,
    frame_length,
    parse_close,
)

MASK = b"\x11\x22\x33\x44"


class Sink:
    """Collects what a decoder hands out, in order."""

    def __init__(self, masked: bool = False, **kwargs: Any) -> None:
        self.events: list[tuple[str, int | None, bytes]] = []
        self.stamps: list[int] = []
        self.decoder = FrameDecoder(
            self.text,
            self.binary,
            self.control,
            masked=masked,
            **kwargs,  # type: ignore[arg-type]
        )

    def text(self, payload: bytes, ts: int) -> None:
        self.events.append(("text", None, payload))
        self.stamps.append(ts)

    def binary(self, payload: bytes, ts: int) -> None:
        self.events.append(("binary", None, payload))
        self.stamps.append(ts)

    def control(self, opcode: int, payload: bytes) -> None:
        self.events.append(("control", opcode, payload))

    def feed_all(self, chunks: list[bytes]) -> tuple[int, int]:
        frames = messages = 0
        for i, chunk in enumerate(chunks):
            f, m = self.decoder.feed(chunk, 1000 + i)
            frames, messages = frames + f, messages + m
        return frames, messages


def frame(opcode: int, payload: bytes, masked: bool, fin: bool = True) -> bytes:
    return encode_frame(opcode, payload, fin=fin, mask=MASK if masked else None)


def cut(stream: bytes, sizes: list[int]) -> list[bytes]:
    chunks, pos = [], 0
    for size in sizes:
        if pos >= len(stream):
            break
        chunks.append(stream[pos : pos + size])
        pos += size
    return [*chunks, stream[pos:]] if pos < len(stream) else chunks


message_st = st.tuples(
    st.sampled_from(["text", "binary", "fragmented", "ping", "pong"]),
    st.binary(max_size=300)
    | st.builds(lambda n, b: bytes([b]) * n, st.integers(65_530, 65_540), st.integers(0, 255)),
)


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(message_st, max_size=10),
    sizes=st.lists(st.integers(min_value=1, max_value=70_000), max_size=30),
    masked=st.booleans(),
)
def test_every_message_and_control_frame_comes_out_in_order_whatever_the_read_boundaries(
    messages: list[tuple[str, bytes]], sizes: list[int], masked: bool
) -> None:
    stream = b""
    expected: list[tuple[str, int | None, bytes]] = []
    frames = 0
    for kind, payload in messages:
        if kind in ("ping", "pong"):
            opcode = OP_PING if kind == "ping" else OP_PONG
            stream += frame(opcode, payload[:125], masked)
            expected.append(("control", opcode, payload[:125]))
            frames += 1
        elif kind == "fragmented":
            half = len(payload) // 2
            stream += frame(OP_TEXT, payload[:half], masked, fin=False)
            stream += frame(OP_PONG, b"between", masked)
            stream += frame(OP_CONT, payload[half:], masked)
            expected += [("control", OP_PONG, b"between"), ("text", None, payload)]
            frames += 3
        else:
            stream += frame(OP_TEXT if kind == "text" else OP_BINARY, payload, masked)
            expected.append((kind, None, payload))
            frames += 1
    sink = Sink(masked=masked, chunk_bytes=4096)
    seen_frames, delivered = sink.feed_all(cut(stream, sizes))
    assert sink.events == expected
    assert seen_frames == frames
    assert delivered == sum(1 for kind, _, _ in expected if kind != "control")


def test_a_text_message_carries_the_time_of_the_read_that_completed_it() -> None:
    sink = Sink()
    data = encode_text_frame("héllo") + encode_text_frame(b"x" * 200)
    sink.feed_all([data[:5], data[5:12], data[12:]])
    assert sink.events == [("text", None, "héllo".encode()), ("text", None, b"x" * 200)]
    assert sink.stamps == [1001, 1002]


def test_a_frame_larger_than_one_read_is_gathered_and_delivered_once() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    data = encode_frame(OP_BINARY, payload) + encode_text_frame(b"after")
    sink = Sink(chunk_bytes=1024)
    chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    assert sink.feed_all(chunks) == (2, 2)
    assert sink.events == [("binary", None, payload), ("text", None, b"after")]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize(
    ("frames", "why", "code"),
    [
        ([(0x91, b"")], "reserved bits", CLOSE_PROTOCOL_ERROR),
        ([(0x83, b"")], "reserved opcode 0x3", CLOSE_PROTOCOL_ERROR),
        ([(0x8B, b"")], "reserved control opcode 0xb", CLOSE_PROTOCOL_ERROR),
        ([(0x09, b"")], "control frames must be final", CLOSE_PROTOCOL_ERROR),
        ([(0x8A, b"p" * 126)], "at most 125 bytes", CLOSE_PROTOCOL_ERROR),
        ([(0x80, b"x")], "continuation frame without", CLOSE_PROTOCOL_ERROR),
        ([(0x01, b"a"), (0x81, b"b")], "new message inside", CLOSE_PROTOCOL_ERROR),
        ([(0x82, b"z" * 201)], "exceeds the 200-byte limit", CLOSE_MESSAGE_TOO_BIG),
        ([(0x02, b"z" * 90), (0x00, b"z" * 120), (0x80, b"z" * 90)], "size", CLOSE_MESSAGE_TOO_BIG),
    ],
)
def test_protocol_violations_raise_parse_error_carrying_the_close_code(
    masked: bool, frames: list[tuple[int, bytes]], why: str, code: int
) -> None:
    data = b"".join(
        frame(b0 & 0x0F, payload, masked, fin=bool(b0 & 0x80)) for b0, payload in frames
    )
    if frames[0][0] & 0x70:  # encode_frame has no reserved bits: set them by hand
        data = bytes([data[0] | (frames[0][0] & 0x70)]) + data[1:]
    sink = Sink(masked=masked, max_message_bytes=200)
    with pytest.raises(ParseError, match=why) as err:
        sink.decoder.feed(data)
    assert err.value.code == code


def test_a_masked_frame_from_a_server_and_an_unmasked_one_from_a_client_are_refused() -> None:
    with pytest.raises(ParseError, match="server frame is masked") as err:
        Sink(masked=False).decoder.feed(frame(OP_TEXT, b"hi", masked=True))
    assert err.value.code == CLOSE_PROTOCOL_ERROR
    with pytest.raises(ParseError, match="client frames must be masked") as err:
        Sink(masked=True).decoder.feed(frame(OP_TEXT, b"hi", masked=False))
    assert err.value.code == CLOSE_PROTOCOL_ERROR


@pytest.mark.parametrize("fragmented", [False, True])
def test_a_handler_error_goes_to_on_error_and_decoding_continues(fragmented: bool) -> None:
    seen: list[bytes] = []
    errors: list[Exception] = []

    def on_text(payload: bytes, ts: int) -> None:
        if payload == b"bad":
            raise ValueError("handler failed")
        seen.append(payload)

    decoder = FrameDecoder(on_text, on_text, lambda op, p: None, on_error=errors.append)
    bad = (
        encode_frame(OP_TEXT, b"b", fin=False) + encode_frame(OP_CONT, b"ad")
        if fragmented
        else encode_text_frame(b"bad")
    )
    assert decoder.feed(bad + encode_text_frame(b"good")) == (3 if fragmented else 2, 2)
    assert seen == [b"good"] and [str(e) for e in errors] == ["handler failed"]


def test_without_on_error_a_handler_error_propagates() -> None:
    def on_text(payload: bytes, ts: int) -> None:
        raise ParseError("invalid UTF-8", code=1007)

    decoder = FrameDecoder(on_text, on_text, lambda op, p: None, masked=True)
    with pytest.raises(ParseError, match="UTF-8"):
        decoder.feed(frame(OP_TEXT, b"\xff", masked=True))


@pytest.mark.parametrize("masked", [False, True])
def test_once_stopped_after_a_close_frame_the_rest_is_left_unread(masked: bool) -> None:
    events: list[int] = []
    closed: list[bool] = []

    def control(opcode: int, payload: bytes) -> None:
        events.append(opcode)
        closed.append(opcode == OP_CLOSE)

    decoder = FrameDecoder(
        lambda p, t: events.append(OP_TEXT),
        lambda p, t: events.append(OP_BINARY),
        control,
        masked=masked,
        stopped=lambda: any(closed),
    )
    data = b"".join(
        frame(op, payload, masked)
        for op, payload in [(OP_TEXT, b"a"), (OP_CLOSE, b"\x03\xe8"), (OP_TEXT, b"late")]
    )
    assert decoder.feed(data) == (2, 1)
    assert events == [OP_TEXT, OP_CLOSE]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
@pytest.mark.parametrize("masked", [False, True])
def test_frame_length_covers_header_masking_key_and_payload(size: int, masked: bool) -> None:
    data = frame(OP_BINARY, b"\x00" * size, masked)
    assert frame_length(data) == len(data)


@settings(max_examples=50, deadline=None)
@given(payload=st.binary(max_size=300), mask=st.binary(min_size=4, max_size=4))
def test_a_masked_frame_unmasks_to_its_payload(payload: bytes, mask: bytes) -> None:
    sink = Sink(masked=True)
    sink.decoder.feed(encode_frame(OP_BINARY, payload, mask=mask))
    assert sink.events == [("binary", None, payload)]


def test_encode_frame_refuses_a_masking_key_that_is_not_four_bytes() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        encode_frame(OP_TEXT, b"x", mask=b"abc")


def test_parse_close_reads_code_and_reason_or_reports_no_status() -> None:
    assert parse_close(struct.pack("!H", 4000) + "adiós".encode()) == (4000, "adiós")
    assert parse_close(b"") == (1005, "")
    assert parse_close(struct.pack("!H", 1000) + b"\xff") == (1000, "\ufffd")


# -- limits on fragmented messages -----------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True])
def test_the_first_fragment_counts_against_the_message_size_limit(masked: bool) -> None:
    data = frame(OP_TEXT, b"a" * 1000, masked, fin=False) + frame(OP_CONT, b"b" * 1000, masked)
    sink = Sink(masked=masked, max_message_bytes=1000)
    with pytest.raises(ParseError, match="exceeds the 1000-byte size limit") as err:
        sink.decoder.feed(data)
    assert err.value.code == CLOSE_MESSAGE_TOO_BIG and sink.events == []


@pytest.mark.parametrize("masked", [False, True])
def test_a_message_in_more_fragments_than_allowed_is_refused_even_if_they_are_empty(
    masked: bool,
) -> None:
    empty = frame(OP_CONT, b"", masked, fin=False)
    allowed = frame(OP_TEXT, b"a", masked, fin=False) + empty * 6 + frame(OP_CONT, b"", masked)
    sink = Sink(masked=masked, max_fragments=8)
    assert sink.decoder.feed(allowed) == (8, 1)  # eight frames: exactly the limit
    assert sink.events == [("text", None, b"a")]
    with pytest.raises(ParseError, match="more than 8 fragments") as err:
        sink.decoder.feed(frame(OP_BINARY, b"a", masked, fin=False) + empty * 100_000)
    assert err.value.code == CLOSE_MESSAGE_TOO_BIG
    assert len(sink.decoder._frags) == 8  # refused at the ninth, not after holding them all


@pytest.mark.parametrize("masked", [False, True])
def test_a_control_frame_declaring_more_than_125_bytes_is_refused_before_its_payload(
    masked: bool,
) -> None:
    header = frame(OP_PING, b"p" * 70_000, masked)[:14]  # header only: the payload never came
    with pytest.raises(ParseError, match="at most 125 bytes") as err:
        Sink(masked=masked).decoder.feed(header)
    assert err.value.code == CLOSE_PROTOCOL_ERROR


# -- close frames ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x03", CLOSE_PROTOCOL_ERROR),  # one byte: half a status code
        *[
            (struct.pack("!H", status), CLOSE_PROTOCOL_ERROR)
            for status in (0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535)
        ],
        (struct.pack("!H", 1000) + b"\xce", CLOSE_INVALID_PAYLOAD),  # a cut character
        (struct.pack("!H", 4000) + b"bad \xff reason", CLOSE_INVALID_PAYLOAD),
    ],
)
@pytest.mark.parametrize("masked", [False, True])
def test_a_close_frame_a_peer_may_not_send_is_a_protocol_error_with_its_code(
    masked: bool, payload: bytes, code: int
) -> None:
    sink = Sink(masked=masked)
    with pytest.raises(ParseError, match="close") as err:
        sink.decoder.feed(frame(OP_CLOSE, payload, masked))
    assert err.value.code == code and sink.events == []


@pytest.mark.parametrize("status", [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1014, 3000, 4999])
def test_a_close_frame_with_a_valid_code_and_utf8_reason_is_handed_out(status: int) -> None:
    payload = struct.pack("!H", status) + "adiós".encode()
    sink = Sink()
    sink.decoder.feed(frame(OP_CLOSE, payload, False) + frame(OP_CLOSE, b"", False))
    assert sink.events == [("control", OP_CLOSE, payload), ("control", OP_CLOSE, b"")]


def test_close_payload_cuts_a_long_reason_on_a_character_boundary() -> None:
    payload = close_payload(1002, "é" * 100)  # 200 bytes of reason, 123 fit
    assert len(payload) == 124 and payload[:2] == struct.pack("!H", 1002)
    assert parse_close(payload) == (1002, "é" * 61)  # the split 62nd character is dropped
    assert close_payload(1000) == b"\x03\xe8"


# -- UTF-8 validation of text ------------------------------------------------------------------

E_ACUTE = "é".encode()  # two bytes: \xc3\xa9


@pytest.mark.parametrize("masked", [False, True])
def test_utf8_validation_is_off_by_default_and_text_is_handed_out_as_sent(masked: bool) -> None:
    sink = Sink(masked=masked)
    sink.decoder.feed(frame(OP_TEXT, b"\xff\xfe", masked))
    assert sink.events == [("text", None, b"\xff\xfe")]


@pytest.mark.parametrize("masked", [False, True])
def test_validated_text_split_inside_a_character_across_fragments_is_delivered(
    masked: bool,
) -> None:
    data = (
        frame(OP_TEXT, b"caf" + E_ACUTE[:1], masked, fin=False)
        + frame(OP_CONT, E_ACUTE[1:], masked, fin=False)
        + frame(OP_CONT, b"", masked)
        + frame(OP_TEXT, "ok ✓".encode(), masked)
    )
    sink = Sink(masked=masked, validate_utf8=True)
    sink.feed_all(cut(data, [5, 3, 1, 7]))
    assert sink.events == [("text", None, "café".encode()), ("text", None, "ok ✓".encode())]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize(
    "frames",
    [
        [(0x81, b"ok \xff")],  # one frame
        [(0x01, b"ok"), (0x00, b"\xc3"), (0x00, b"A")],  # a character broken across frames
        [(0x01, b"ok \xc3"), (0x00, b"\xff")],  # fails fast: the final frame never comes
        [(0x01, b"ok"), (0x80, b"\xc3")],  # the message ends inside a character
    ],
)
def test_validated_text_that_is_not_utf8_is_refused_with_1007(
    masked: bool, frames: list[tuple[int, bytes]]
) -> None:
    data = b"".join(frame(b0 & 0x0F, p, masked, fin=bool(b0 & 0x80)) for b0, p in frames)
    sink = Sink(masked=masked, validate_utf8=True)
    with pytest.raises(ParseError, match="not valid UTF-8") as err:
        sink.decoder.feed(data)
    assert err.value.code == CLOSE_INVALID_PAYLOAD and sink.events == []
