"""Compiled validation gives the verdicts of the original walk, message for message.

Every mutated message (fields dropped, repeated, swapped, re-tagged, inserted, values and group
counts changed, several at once) gets the same verdict - valid, or the same reject reason, tag
and text - from the frozen original (``reference_validation``), from ``validate`` on a parsed
message (the walk) and from ``parse`` (one pass through a learned shape once the shape is
known). Each example uses a fresh validator that first learns every sample message, so the
shapes of a MsgType share one expression with branches.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectivity.errors import ConfigError
from connectivity.transport.fix import shapes
from connectivity.transport.fix.codec import (
    FixMessage,
    FixParseError,
    GarbledMessage,
    checksum,
    parse_message,
)
from connectivity.transport.fix.dictionary import FixDictionary, FixValidationError
from connectivity.transport.fix.framing import FixFramer
from tests.transport.fix.reference_validation import ReferenceValidator
from tests.transport.fix.test_dictionary import BINANCE_MD, BINANCE_OE, LIST_STATUS, NOW

Fields = list[tuple[str, str]]
Verdict = tuple[str, object, object, object]

FIX44_SAMPLES = [
    f"35=D|34=2|49=TW44|52={NOW}|56=ISLD|11=ID|21=1|40=1|54=1|38=200.00|55=INTC|60={NOW}|",
    f"35=D|34=2|49=TW44|52={NOW}|56=ISLD|11=ID|21=1|40=2|44=1.5|54=1|38=200|55=INTC|60={NOW}|"
    "386=2|336=A|625=a|336=B|",
    f"35=D|34=2|49=TW44|52={NOW}|56=ISLD|11=ID|21=1|40=1|54=1|38=1|55=X|60={NOW}|78=2|79=a1|"
    "539=2|524=p1|525=D|524=p2|79=a2|",
    f"35=0|34=2|49=TW44|52={NOW}|56=ISLD|",
    f"35=1|34=3|49=TW44|52={NOW}|56=ISLD|112=HELLO|",
    f"35=5|34=4|49=TW44|52={NOW}|56=ISLD|58=bye=now|",
    f"35=A|34=1|49=TW44|52={NOW}|56=ISLD|98=0|108=30|",
    f"35=8|34=5|49=ISLD|52={NOW}|56=TW44|37=O1|17=E1|150=0|39=0|55=INTC|54=1|38=100|"
    "151=100|14=0|6=0|",
    f"35=D|34=2|49=TW44|52={NOW}|56=ISLD|11=ID|18=0 1|21=1|40=1|54=1|38=5|55=X|60={NOW}|",
]
BINANCE_OE_SAMPLES = [sample for sample in BINANCE_OE if "95=" not in sample]
VALUES = [
    "", "x", "0", "1", "2", "-1", "-0", "007", "Y", "N", "+1", "1e5", "1.5", ".5", "5.",
    "A B", "1 2", "1  2", "1 2 ", "a=b", "9999", NOW, "20241301-00:00:00", "20240101-24:00:00",
    "20240611-09:01:46.228950", "09:01:46", "20240611", "202406", "202406w2",
    "0" * 17 + "1", "0" * 18 + "1", "0" * 18 + "2", "9" * 19,  # 18 digits at most
]  # fmt: skip
TAGS = ["0", "-1", "999", "7000", "25099", "8", "9", "10", "18", "34", "43", "52", "55", "58", "11",
        "336", "386", "625", "146", "268", "269", "73", "79", "539", "524", "25004"]  # fmt: skip
KINDS = ["drop", "repeat", "swap", "value", "tag", "insert", "count"]


def split(text: str) -> Fields:
    return [(tag, value) for tag, _, value in (p.partition("=") for p in text.split("|") if p)]


def build(fields: Fields, begin: str = "FIX.4.4") -> bytes:
    body = "".join(f"{tag}={value}\x01" for tag, value in fields).encode("latin-1")
    head = b"8=%s\x019=%d\x01%s" % (begin.encode(), len(body), body)
    return head + b"10=" + checksum(head) + b"\x01"


def verdict(check: Callable[[], object]) -> Verdict:
    try:
        check()
    except FixValidationError as exc:
        return ("reject", exc.reject_reason, exc.ref_tag, exc.text)
    except FixParseError as exc:
        return (type(exc).__name__, exc.reason, None, None)
    return ("valid", None, None, None)


@st.composite
def mutations(draw: st.DrawFn, samples: list[str], dictionary: FixDictionary) -> bytes:
    fields = split(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(KINDS))
        i = draw(st.integers(1, len(fields) - 1))  # fields[0] is MsgType
        j = draw(st.integers(1, len(fields) - 1))
        tag, value = fields[i]
        if kind == "drop" and len(fields) > 2:
            del fields[i]
        elif kind == "repeat":
            fields.insert(j, fields[i])
        elif kind == "swap":
            fields[i], fields[j] = fields[j], fields[i]
        elif kind == "value":
            number = int(tag) if tag.lstrip("-").isdigit() else 0
            field = dictionary.fields.get(number)
            enums = sorted(v.decode() for v in field.enums or ()) if field else []
            fields[i] = (tag, draw(st.sampled_from(VALUES + enums)))
        elif kind == "tag":
            fields[i] = (draw(st.sampled_from(TAGS)), value)
        elif kind == "insert":
            fields.insert(j, (draw(st.sampled_from(TAGS)), draw(st.sampled_from(VALUES))))
        elif value.isdigit():  # a group count (or any number) off by one, or zero
            near = [str(int(value) + 1), str(max(0, int(value) - 1)), "0"]
            fields[i] = (tag, draw(st.sampled_from(near)))
    if draw(st.integers(0, 9)) == 0:
        fields[0] = ("35", draw(st.sampled_from(["*", "D", "8", "XLR", "W"])))
    return build(fields, "FIX.4.2" if draw(st.integers(0, 19)) == 0 else "FIX.4.4")


def assert_same_verdicts(dictionary: FixDictionary, samples: list[str], raw: bytes) -> None:
    fresh = dictionary.with_options()  # a new validator: nothing learnt yet
    for sample in samples:
        fresh.parse(build(split(sample)))
    try:
        message = parse_message(raw, data_pairs=fresh.data_pairs)
    except GarbledMessage as exc:
        with pytest.raises(GarbledMessage) as caught:
            fresh.parse(raw)
        assert caught.value.reason == exc.reason
        return
    expected = verdict(lambda: ReferenceValidator(fresh).validate(message))
    assert verdict(lambda: fresh.validate(parse_message(raw, data_pairs=fresh.data_pairs))) == (
        expected
    )
    assert verdict(lambda: fresh.parse(raw)) == expected  # learns the shape when valid
    assert verdict(lambda: fresh.parse(raw)) == expected  # the one-pass path when valid
    if expected[0] == "valid" and len(message) <= 200:
        again = fresh.parse(raw)
        assert again.validated_by is fresh.validator
        assert again.fields == message.fields and again.msg_type == message.msg_type


FIX44 = FixDictionary.builtin("FIX44")
BINANCE_OE_DICT = FixDictionary.builtin("binance-spot-fix-oe")
BINANCE_MD_DICT = FixDictionary.builtin("binance-spot-fix-md")
CASES = {
    "fix44": (FIX44, FIX44_SAMPLES),
    "fix44-strict-groups": (FIX44.with_options(strict_group_order=True), FIX44_SAMPLES),
    "fix44-lenient": (
        FIX44.with_options(allow_unknown_message_fields=True, validate_user_defined_fields=False),
        FIX44_SAMPLES,
    ),
    "binance-oe": (BINANCE_OE_DICT, [*BINANCE_OE_SAMPLES, LIST_STATUS]),
    "binance-oe-strict-groups": (
        BINANCE_OE_DICT.with_options(strict_group_order=True),
        BINANCE_OE_SAMPLES,
    ),
    "binance-md": (BINANCE_MD_DICT, BINANCE_MD),
}


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_messages_get_the_reference_verdict_walked_and_in_one_pass(
    case: str, data: st.DataObject
) -> None:
    dictionary, samples = CASES[case]
    assert_same_verdicts(dictionary, samples, data.draw(mutations(samples, dictionary)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_sample_is_valid_and_parsed_in_one_pass_once_its_shape_is_known(case: str) -> None:
    dictionary, samples = CASES[case]
    fresh = dictionary.with_options()
    for sample in samples:
        raw = build(split(sample))
        first = fresh.parse(raw)
        assert first.validated_by is None  # walked, then learnt
        again = fresh.parse(raw)
        assert again.validated_by is fresh.validator
        assert again.fields == first.fields
        assert again.get(35) == first.msg_type == again.msg_type
        ReferenceValidator(fresh).validate(again)


def test_a_known_shape_with_a_bad_value_is_walked_and_gets_the_precise_reject() -> None:
    fresh = FIX44.with_options()
    fresh.parse(build(split(FIX44_SAMPLES[0])))
    bad = build(split(FIX44_SAMPLES[0].replace("38=200.00", "38=2e2")))
    with pytest.raises(FixValidationError) as caught:
        fresh.parse(bad)
    assert (caught.value.reject_reason, caught.value.ref_tag) == (6, 38)
    miscounted = FIX44_SAMPLES[1].replace("386=2", "386=3")
    fresh.parse(build(split(FIX44_SAMPLES[1])))
    with pytest.raises(FixValidationError) as caught:
        fresh.parse(build(split(miscounted)))
    assert (caught.value.reject_reason, caught.value.ref_tag) == (16, 386)


def test_learnt_shapes_are_bounded_and_later_shapes_are_still_validated() -> None:
    fresh = FIX44.with_options()
    for n in range(60):  # 60 shapes of one MsgType: group counts 1..60
        entries = "".join(f"336=S{k}|" for k in range(n + 1))
        fresh.parse(build(split(f"{FIX44_SAMPLES[0]}386={n + 1}|{entries}")))
    trie = fresh.validator.shapes._tries[ord("D")]
    assert 10 < len(trie.leaves) < 60 and trie.nodes <= 400
    entries = "".join(f"336=S{k}|" for k in range(60))
    assert fresh.parse(build(split(f"{FIX44_SAMPLES[0]}386=60|{entries}"))).validated_by is None
    with pytest.raises(FixValidationError) as caught:
        fresh.parse(build(split(f"{FIX44_SAMPLES[0]}386=61|{entries}")))
    assert (caught.value.reject_reason, caught.value.ref_tag) == (16, 386)


def test_message_types_with_the_same_tags_each_get_their_shape() -> None:
    fresh = FIX44.with_options()
    heartbeat = build(split(f"35=0|34=2|49=TW44|52={NOW}|56=ISLD|"))
    logout = build(split(f"35=5|34=2|49=TW44|52={NOW}|56=ISLD|"))
    for raw in (heartbeat, logout):
        fresh.parse(raw)
        assert fresh.parse(raw).validated_by is fresh.validator


def test_a_shape_over_the_node_budget_is_not_learnt_and_its_messages_still_validate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shapes, "_MAX_NODES", 10)
    fresh = FIX44.with_options()
    raw = build(split(FIX44_SAMPLES[4]))  # 9 fields: fits
    fresh.parse(raw)
    order = build(split(FIX44_SAMPLES[0]))  # 15 fields: over what is left
    for _ in range(2):
        assert fresh.parse(order).validated_by is None
    assert fresh.parse(raw).validated_by is fresh.validator
    assert set(fresh.validator.shapes._tries) == {ord("1")}


def test_a_frame_with_raw_data_is_never_shaped() -> None:
    oe = BINANCE_OE_DICT.with_options()
    logon = build(split(next(s for s in BINANCE_OE if "95=" in s)))
    assert oe.parse(logon).validated_by is None
    assert oe.parse(logon).validated_by is None
    assert not oe.validator.shapes._tries


def test_framer_with_a_dictionary_hands_over_known_shapes_validated() -> None:
    fresh = FIX44.with_options()
    raw = build(split(FIX44_SAMPLES[4]))
    framer = FixFramer(dictionary=fresh)
    (first,) = framer.feed(raw)
    fresh.validate(first)
    (second,) = framer.feed(raw)
    assert first.validated_by is None and second.validated_by is fresh.validator
    assert second.fields == first.fields


def test_framer_refuses_data_pairs_beside_a_dictionary_that_has_its_own() -> None:
    with pytest.raises(ConfigError, match="not both"):
        FixFramer(data_pairs={95: 96}, dictionary=FIX44)


def test_messages_parsed_in_one_pass_index_their_first_occurrences() -> None:
    fresh = FIX44.with_options()
    raw = build(split(FIX44_SAMPLES[1]))
    fresh.parse(raw)
    message: FixMessage = fresh.parse(raw)
    assert message.validated_by is fresh.validator
    assert message[336] == b"A" and message.get_all(336) == [b"A", b"B"] and 625 in message
    assert len(message) == len(parse_message(raw))
