"""FIX codec fast paths: they are optimisations only, so they must agree with the careful ones."""

from __future__ import annotations

import pytest
import simplefix
from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.transport.fix.codec import (
    DEFAULT_DATA_PAIRS,
    SOH,
    FixEncodeError,
    GarbledMessage,
    _parse_pieces,
    _parse_plain,
    checksum,
    encode,
    parse_message,
)
from connectivity.transport.fix.framing import FixFramer

# Values without "=" and SOH take parse's fast path; "=" inside a value sends it to the careful one.
plain_values = st.binary(min_size=1, max_size=20).filter(lambda v: SOH not in v and b"=" not in v)
any_values = st.binary(min_size=1, max_size=20).filter(lambda v: SOH not in v)
# Few distinct tags, so that repeated (group) tags are common.
tags = st.sampled_from([1, 11, 34, 44, 49, 52, 55, 56, 58, 268, 269, 270, 1057, 25001, 99999])
field_lists = st.lists(st.tuples(tags, st.one_of(plain_values, any_values)), max_size=40)


@settings(max_examples=150)
@given(fields=field_lists)
def test_fast_parse_agrees_with_the_careful_parse_on_any_frame(
    fields: list[tuple[int, bytes]],
) -> None:
    raw = encode(b"FIX.4.4", b"8", fields)
    message = parse_message(raw)
    body_start = raw.index(b"\x0135=") + 1
    careful = _parse_pieces(raw, body_start, raw.rindex(b"\x0110=") + 1, DEFAULT_DATA_PAIRS)
    fast = _parse_plain(raw, DEFAULT_DATA_PAIRS)
    assert (fast is None) == any(b"=" in value for _, value in fields)
    assert message.fields == careful.fields and message.fields[3:-1] == fields
    assert message.msg_type == careful.msg_type == b"8" and len(message) == len(careful)
    for tag, _ in message.fields:  # first occurrence wins in both
        assert tag in message and message.get(tag) == careful.get(tag) == message[tag]
        assert message.get_all(tag) == careful.get_all(tag)
    assert message.get(77777) is None and 77777 not in message
    assert FixFramer().feed(raw) == [careful]


def test_len_and_lookups_do_not_need_the_list_of_pairs() -> None:
    raw = encode(b"FIX.4.4", b"8", [(269, "0"), (270, "1.5"), (269, "1"), (270, "1.6")])
    message = parse_message(raw)
    assert len(message) == 8 and message[269] == b"0" and message.get(270) == b"1.5"
    assert message.get_all(269) == [b"0", b"1"] and list(message)[3] == (269, b"0")


def test_a_repeated_beginstring_in_a_plain_body_is_garbled() -> None:
    body = b"35=0\x0134=2\x018=FIX.4.4\x0134=3\x01"
    head = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    with pytest.raises(GarbledMessage, match="inside the body"):
        parse_message(head + b"10=" + checksum(head) + SOH)


@settings(max_examples=200)
@given(data=st.one_of(st.binary(max_size=1500), st.text(max_size=1500).map(str.encode)))
def test_checksum_is_the_byte_sum_mod_256_for_ascii_and_binary_of_any_length(
    data: bytes,
) -> None:
    ascii_data = bytes(b & 0x7F for b in data)  # exercises the long ASCII chunks
    for sample in (data, ascii_data, b"\x7e" * len(data), b"\xff" * len(data)):
        assert checksum(sample) == b"%03d" % (sum(sample) % 256)


def test_encode_of_one_shape_with_new_values_and_types_matches_simplefix() -> None:
    calls: list[list[tuple[int, str | bytes | int]]] = [
        [(34, 2), (49, "A"), (44, "10.5")],
        [(34, "3"), (49, b"B"), (44, 11)],
        [(34, 4), (49, b"C=D"), (44, b"12")],
        [(34, 5), (49, "A"), (44, "10.5"), (59, "1")],
        [(34, 6), (49, "A")],
    ]
    for fields in calls:
        theirs = simplefix.FixMessage()
        theirs.append_pair(8, "FIX.4.4")
        theirs.append_pair(35, "D")
        for tag, value in fields:
            theirs.append_pair(tag, value)
        assert encode(b"FIX.4.4", b"D", fields) == theirs.encode()


@pytest.mark.parametrize("bad", [(44, "1", "x"), (44,)])
def test_encode_refuses_a_field_that_is_not_a_pair(bad: tuple[object, ...]) -> None:
    with pytest.raises(ValueError):
        encode(b"FIX.4.4", b"D", [(34, 2), bad])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("value", "match"),
    [(True, "bool"), (1.5, "float"), (None, "NoneType"), ("", "empty"), ("a\x01b", "SOH")],
)
def test_encode_refuses_bad_values_even_after_the_shape_was_cached(
    value: object, match: str
) -> None:
    encode(b"FIX.4.4", b"D", [(34, 2), (58, "ok")])
    with pytest.raises(FixEncodeError, match=match):
        encode(b"FIX.4.4", b"D", [(34, 2), (58, value)])  # type: ignore[list-item]
