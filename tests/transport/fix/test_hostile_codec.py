"""Hostile bytes at the codec and the framer: typed errors only, redaction holds, linear time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from connectivity.errors import ParseError
from connectivity.transport.fix.codec import (
    FixParseError,
    GarbledMessage,
    checksum,
    parse_message,
    redact,
)
from connectivity.transport.fix.framing import FixFramer

HUGE = b"7" * 5000  # past Python's 4300-digit limit of int(): int() raises a bare ValueError


def frame(body: bytes, *, length: bytes | None = None) -> bytes:
    """A frame with a correct CheckSum around ``body`` (35=... onwards, SOH-terminated)."""
    head = b"8=FIX.4.4\x019=%s\x01" % (b"%d" % len(body) if length is None else length)
    return head + body + b"10=%s\x01" % checksum(head + body)


HOSTILE_NUMBERS = {
    "body_length": b"8=FIX.4.4\x019=" + HUGE + b"\x0135=0\x0110=000\x01",
    "tag_number": frame(b"35=0\x01" + HUGE + b"=x\x01"),
    "raw_data_length": frame(b"35=A\x0195=" + HUGE + b"\x0196=x\x01"),
    "zero_padded_tag": frame(b"35=A\x0100058=hello\x01"),
    "padded_secret_tag": frame(b"35=A\x010554=hunter2\x01"),
}


@pytest.mark.parametrize("raw", HOSTILE_NUMBERS.values(), ids=HOSTILE_NUMBERS.keys())
def test_hostile_numbers_and_padded_tags_are_garbled_not_value_errors(raw: bytes) -> None:
    with pytest.raises(GarbledMessage) as caught:
        parse_message(raw)
    assert "hunter2" not in (caught.value.payload or "") and "hunter2" not in str(caught.value)
    garbled: list[str] = []
    framer = FixFramer(on_garbled=lambda _raw, reason: garbled.append(reason))
    assert framer.feed(raw + frame(b"35=0\x0134=2\x01"))[0][34] == b"2"  # and it resyncs
    assert framer.garbled == 1 and len(garbled) == 1


def test_get_int_of_a_huge_number_is_a_fix_parse_error() -> None:
    message = parse_message(frame(b"35=0\x0134=" + HUGE + b"\x01"))
    with pytest.raises(FixParseError, match="not an integer"):
        message.get_int(34)


def test_zero_padded_body_length_is_still_accepted() -> None:
    # Binance pads BodyLength (9=0000113); only absurd digit counts are refused.
    body = b"35=0\x0134=2\x01"
    assert parse_message(frame(body, length=b"%07d" % len(body)))[34] == b"2"
    assert FixFramer().feed(frame(body, length=b"%018d" % len(body)))[0][34] == b"2"


def test_raw_data_with_soh_is_redacted_whole_in_repr_and_error_payloads() -> None:
    secret = b"sig\x01nat=ure\x01tail"
    raw = frame(b"35=A\x0195=%d\x0196=%s\x01553=user\x01" % (len(secret), secret))
    message = parse_message(raw)
    assert message[96] == secret
    for text in (repr(message).encode(), redact(raw)):
        assert b"sig" not in text and b"nat" not in text and b"tail" not in text
        assert b"user" not in text and b"96=***" in text
    broken = raw.replace(b"10=", b"10=9")[:-2] + b"\x01"  # a CheckSum that cannot match
    with pytest.raises(GarbledMessage) as caught:
        parse_message(broken)
    assert caught.value.payload is not None and "tail" not in caught.value.payload


def test_redaction_masks_to_the_end_when_the_length_overshoots() -> None:
    assert redact(b"35=A\x0195=999\x0196=a\x01b=c") == b"35=A\x0195=999\x0196=***"


def test_a_data_tail_without_its_length_field_is_not_echoed_in_the_error() -> None:
    # 96 without 95: the part after the SOH reads as a field; its bytes must not be quoted.
    with pytest.raises(ParseError) as caught:
        parse_message(frame(b"35=A\x0196=a\x01secret\x01"))
    assert "secret" not in str(caught.value)


# -- linear time on hostile streams ---------------------------------------------------------


def _cpu_seconds(feed: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        feed()
        best = min(best, time.process_time() - start)
    return best


def _feed_all(data: bytes, chunk: int, **options: object) -> Callable[[], object]:
    def run() -> object:
        framer = FixFramer(**options)  # type: ignore[arg-type]
        for i in range(0, len(data), chunk):
            framer.feed(data[i : i + chunk])
        assert framer.buffered() <= (1 << 20) + 64  # memory stays bounded too
        return framer

    return run


def _headers(n: int) -> bytes:
    header = b"8=FIX.4.4\x019=%d\x01" % (n // 2)
    return header * (n // len(header))


def _overlapping_candidates(span: int) -> bytes:
    """Headers every 22 bytes whose BodyLengths all land on a packed run of ``10=000<SOH>``:
    each is a candidate frame of about ``span`` bytes that fails its CheckSum."""
    count = span // 22
    heads = b"".join(
        (b"8=FIX.4.4\x019=%06d\x01" % (span - 19 - 15 * i)).ljust(22, b"x") for i in range(count)
    )
    return heads + b"y" * (span - len(heads)) + b"10=000\x01" * count


HOSTILE_STREAMS: dict[str, Callable[[int], Callable[[], object]]] = {
    # Each 8=FIX used to search the rest of the buffer for SOH.
    "begin_strings_without_soh": lambda n: _feed_all(b"8=FIX" * (n // 5), n),
    # Headers announcing n/2 bytes, in small reads: once the first announced frame is
    # complete, every read completes the next one, and the whole buffer used to be copied.
    "announced_frames_completing_on_every_read": lambda n: _feed_all(_headers(n), 64),
    # QuickFIX framing waited for a CheckSum that never comes, rescanning a growing buffer.
    # Each candidate used to be copied and checksummed whole: 345 kB blocked for 80 s.
    "overlapping_frames_failing_their_checksum": lambda n: _feed_all(
        _overlapping_candidates(n // 16), n
    ),
    # A data value of n/4 SOHs was re-joined one piece at a time.
    "raw_data_full_of_soh": lambda n: _feed_all(
        frame(b"35=A\x0195=%d\x0196=%s\x01" % (n // 4, b"\x01" * (n // 4))), n
    ),
    "quickfix_resync_without_trailer": lambda n: _feed_all(
        b"8=FIX.4.4\x019=5\x0135=0\x01" + b"x" * n, 4096, quickfix_resync=True
    ),
}


@pytest.mark.parametrize("make", HOSTILE_STREAMS.values(), ids=HOSTILE_STREAMS.keys())
def test_framing_and_parsing_work_grows_linearly_with_hostile_input(
    make: Callable[[int], Callable[[], object]],
) -> None:
    # A ratio of CPU time at two sizes, each the best of 3 runs: 4x the input must cost well
    # under the 16x a quadratic scan costs (the old framer took 5.6 s for 2 MB of "8=FIX").
    small, large = _cpu_seconds(make(1 << 18)), _cpu_seconds(make(1 << 20))
    assert large < 8 * max(small, 0.002), (small, large)


def test_body_length_over_the_limit_is_garbled_as_soon_as_it_is_read() -> None:
    reasons: list[str] = []
    framer = FixFramer(max_body_length=1000, on_garbled=lambda _raw, reason: reasons.append(reason))
    assert framer.feed(b"8=FIX.4.4\x019=1001\x0135=0\x01") == []
    assert framer.garbled == 1 and "exceeds the limit" in reasons[0]
    assert framer.buffered() < 32  # nothing of the oversized frame is held
    assert framer.feed(frame(b"35=0\x0134=7\x01"))[0][34] == b"7"


def test_a_message_inside_a_frame_that_failed_its_checksum_is_still_recovered() -> None:
    # The bound on rescanning a failed frame leaves room for the real messages inside it.
    inner, body = frame(b"35=0\x0134=3\x01"), b"35=0\x0134=2\x01"
    stretched = b"8=FIX.4.4\x019=%d\x01" % (len(body) + len(inner) - 7) + body + inner
    framer = FixFramer()
    assert [m[34] for m in framer.feed(stretched)] == [b"3"] and framer.garbled == 1
