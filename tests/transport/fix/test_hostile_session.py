"""Hostile peers against the FIX session and the acceptor: typed outcomes, bounded memory.

Also an adversarial sweep: a few thousand random and mutated frames (hypothesis, derandomized
and bounded) through the codec, the framer and sessions with and without a dictionary; only
typed parse errors may leave the codec, and nothing at all may leave the framer or a session.
"""

from __future__ import annotations

import re
import socket
import time

import gevent
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectivity.core.clock import ManualClock, SystemClock
from connectivity.transport.fix.acceptor import FixAcceptor
from connectivity.transport.fix.codec import FixMessage, FixParseError, checksum, parse_message
from connectivity.transport.fix.dictionary import FixDictionary
from connectivity.transport.fix.framing import FixFramer
from connectivity.transport.fix.session import Session
from connectivity.transport.fix.session_rules import (
    Role,
    SessionConfig,
    SessionPolicy,
    SessionState,
    format_utc_timestamp,
)

HUGE = b"9" * 5000  # past Python's 4300-digit limit of int()


def frame(body: bytes) -> bytes:
    """``body`` (35=... onwards) framed with a correct BodyLength and CheckSum."""
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    return head + body + b"10=%s\x01" % checksum(head + body)


def client_message(clock: ManualClock, msg_type: bytes, seq: bytes, rest: bytes = b"") -> bytes:
    """A message from CLIENT to VENUE with raw (possibly hostile) MsgSeqNum and fields."""
    now = format_utc_timestamp(clock.time_ns())
    header = b"35=%s\x0149=CLIENT\x0156=VENUE\x0134=%s\x0152=%s\x01" % (msg_type, seq, now)
    return frame(header + rest)


def venue(clock: ManualClock, policy: SessionPolicy | None = None, **kwargs: object) -> Session:
    config = SessionConfig("VENUE", "CLIENT", role=Role.ACCEPTOR, policy=policy or SessionPolicy())
    session = Session(config, clock=clock, **kwargs)  # type: ignore[arg-type]
    session.connection_made()
    return session


def logged_on(clock: ManualClock, **kwargs: object) -> Session:
    session = venue(clock, **kwargs)  # type: ignore[arg-type]
    session.data_received(client_message(clock, b"A", b"1", b"98=0\x01108=30\x01"))
    assert session.is_logged_on
    session.data_to_send()
    return session


@pytest.fixture(scope="module")
def fix44() -> FixDictionary:
    return FixDictionary.builtin("FIX44")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # 2023-11-14 22:13:20 UTC, the SendingTime of SEEDS below


# -- numbers past int()'s limit ----------------------------------------------------------------


def test_huge_heartbeat_interval_in_logon_refuses_the_logon(clock: ManualClock) -> None:
    session = venue(clock)
    session.data_received(client_message(clock, b"A", b"1", b"98=0\x01108=" + HUGE + b"\x01"))
    assert session.wants_close and not session.is_logged_on
    assert "HeartBtInt" in session.close_reason


@pytest.mark.parametrize("with_dictionary", [False, True])
def test_huge_msg_seq_num_ends_the_session_with_a_logout(
    clock: ManualClock, fix44: FixDictionary, with_dictionary: bool
) -> None:
    session = logged_on(clock, dictionary=fix44 if with_dictionary else None)
    session.data_received(client_message(clock, b"0", HUGE))
    assert session.wants_close and "MsgSeqNum" in session.close_reason
    assert parse_message(session.data_to_send()).msg_type == b"5"


@pytest.mark.parametrize("tag", [7, 16])
def test_huge_resend_range_is_rejected_as_incorrect_data_format(
    clock: ManualClock, tag: int
) -> None:
    values = {7: b"1", 16: b"0", tag: HUGE}
    session = logged_on(clock)
    resend_range = b"7=%s\x0116=%s\x01" % (values[7], values[16])
    session.data_received(client_message(clock, b"2", b"2", resend_range))
    (reject,) = FixFramer().feed(session.data_to_send())
    assert (reject.msg_type, reject[371], reject[373]) == (b"3", b"%d" % tag, b"6")
    assert session.is_logged_on


def test_huge_group_count_is_rejected_by_the_dictionary(
    clock: ManualClock, fix44: FixDictionary
) -> None:
    session = logged_on(clock, dictionary=fix44)
    now = format_utc_timestamp(clock.time_ns())
    order = b"11=x\x01453=%s\x01448=p\x0121=1\x0155=X\x0154=1\x0160=%s\x0140=1\x01"
    session.data_received(client_message(clock, b"D", b"2", order % (HUGE, now)))
    (reject,) = FixFramer().feed(session.data_to_send())
    assert (reject.msg_type, reject[371], reject[373]) == (b"3", b"453", b"6")


def test_huge_new_seq_no_is_rejected_as_incorrect_data_format(clock: ManualClock) -> None:
    session = logged_on(clock)
    session.data_received(client_message(clock, b"4", b"2", b"36=" + HUGE + b"\x01"))
    (reject,) = FixFramer().feed(session.data_to_send())
    assert (reject.msg_type, reject[371], reject[373]) == (b"3", b"36", b"6")


def test_zero_padded_tag_is_garbled_and_counted(clock: ManualClock) -> None:
    session = logged_on(clock)
    session.data_received(client_message(clock, b"0", b"2", b"00058=hello\x01"))
    assert session.stats["garbled"] == 1 and session.is_logged_on


def test_policy_max_body_length_garbles_a_longer_frame_before_its_body_arrives(
    clock: ManualClock,
) -> None:
    session = logged_on(clock, policy=SessionPolicy(max_body_length=4096))
    session.data_received(b"8=FIX.4.4\x019=4097\x0135=B\x01")
    assert session.stats["garbled"] == 1 and session.is_logged_on
    session.data_received(client_message(clock, b"0", b"2"))
    assert session.next_target_seq == 3


# -- the gap queue is bounded by bytes -------------------------------------------------------


def test_messages_ahead_of_a_gap_are_held_up_to_the_byte_bound_then_recovered(
    clock: ManualClock,
) -> None:
    policy = SessionPolicy(max_queued_bytes=20_000)
    session = logged_on(clock, policy=policy)
    delivered: list[FixMessage] = []
    session.on_message = delivered.append
    text = b"x" * 5000
    for seq in range(3, 13):  # seq 2 is missing: ten 5 kB messages wait for it
        session.data_received(client_message(clock, b"B", b"%d" % seq, b"148=%s\x01" % text))
    assert session._queue.bytes <= 20_000 and len(session._queue) == 3
    assert session.stats["queue_overflows"] == 7
    # The resend (EndSeqNo 0: everything) brings back what was not held, held or not.
    for seq in range(2, 13):
        poss_dup = b"43=Y\x01122=%s\x01" % format_utc_timestamp(clock.time_ns())
        rest = (poss_dup if seq > 2 else b"") + b"148=%s\x01" % text
        session.data_received(client_message(clock, b"B", b"%d" % seq, rest))
    assert [int(m[34]) for m in delivered] == list(range(2, 13))
    assert session._queue.bytes == 0 and session.next_target_seq == 13


def _fill_gap_and_drain(held: int) -> float:
    """CPU seconds to hold ``held`` messages ahead of a gap, then fill it and drain them all."""
    clock = ManualClock()
    session = logged_on(clock, policy=SessionPolicy(max_queued=held))
    ahead = b"".join(client_message(clock, b"0", b"%d" % seq) for seq in range(3, held + 3))
    gap = client_message(clock, b"0", b"2")
    start = time.process_time()
    session.data_received(ahead)
    session.data_received(gap)
    elapsed = time.process_time() - start
    assert len(session._queue) == 0 and session.next_target_seq == held + 3
    return elapsed


def test_holding_and_draining_the_gap_queue_grows_linearly() -> None:
    # The old queue listed every held sequence number after each message received: quadratic.
    # A ratio of CPU time at two sizes (best of 2 each): 4x the messages must cost well under
    # the 16x of a quadratic.
    small = min(_fill_gap_and_drain(3000) for _ in range(2))
    large = min(_fill_gap_and_drain(12000) for _ in range(2))
    assert large < 8 * small, (small, large)


# -- the acceptor refuses and counts; no connection greenlet dies -------------------------------


def _send_and_wait_closed(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.settimeout(5)
        assert sock.recv(1024) == b""  # refused: closed without a word


@pytest.mark.parametrize(
    "first",
    [
        b"8=FIX.4.4\x019=" + HUGE + b"\x0135=A\x0110=000\x01",
        frame(b"35=A\x01" + HUGE + b"=1\x01"),
        frame(b"35=A\x0149=CLIENT\x0156=VENUE\x0195=" + HUGE + b"\x0196=x\x01"),
    ],
    ids=["body_length", "tag_number", "raw_data_length"],
)
def test_acceptor_refuses_a_hostile_first_message_and_keeps_serving(first: bytes) -> None:
    config = SessionConfig("VENUE", "CLIENT", role=Role.ACCEPTOR)
    acceptor = FixAcceptor([Session(config, clock=SystemClock())], clock=SystemClock())
    _, port = acceptor.start()
    try:
        _send_and_wait_closed(port, first)
        with gevent.Timeout(5):
            while acceptor.refused < 1:
                gevent.sleep(0.01)
        assert acceptor.refused == 1
        assert acceptor.supervisor.failure_count == 0
    finally:
        acceptor.close()


# -- adversarial sweep ------------------------------------------------------------------------

SEEDS = [
    b"35=A\x0149=CLIENT\x0156=VENUE\x0134=1\x0152=20231114-22:13:20.000\x0198=0\x01108=30\x01"
    b"95=7\x0196=ab\x01c=de\x01553=user\x01554=secret\x01",
    b"35=2\x0149=CLIENT\x0156=VENUE\x0134=2\x0152=20231114-22:13:20.000\x017=1\x0116=0\x01",
    b"35=4\x0149=CLIENT\x0156=VENUE\x0134=3\x0152=20231114-22:13:20.000\x01123=Y\x0136=9\x01",
    b"35=D\x0149=CLIENT\x0156=VENUE\x0134=4\x0152=20231114-22:13:20.000\x0111=x\x01453=1\x01"
    b"448=p\x01447=D\x01452=1\x0121=1\x0155=X\x0154=1\x0160=20231114-22:13:20.000\x0140=1\x01",
]
_NUMBER = re.compile(rb"\d+")


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    """Valid messages with numbers blown up, tags padded, bytes flipped, framing refixed."""
    out = []
    for body in draw(st.lists(st.sampled_from(SEEDS), min_size=1, max_size=6)):
        numbers = list(_NUMBER.finditer(body))
        for _ in range(draw(st.integers(0, 3))):
            hit = numbers[draw(st.integers(0, len(numbers) - 1))]
            replacement = draw(
                st.sampled_from([HUGE, b"0" + hit[0], b"-" + hit[0], b"", b"1" * 19])
            )
            body = body[: hit.start()] + replacement + body[hit.end() :]
            numbers = list(_NUMBER.finditer(body))
        if draw(st.booleans()):
            at = draw(st.integers(0, len(body) - 1))
            body = body[:at] + draw(st.sampled_from([b"\x01", b"=", b"8=FIX", b"\xff"])) + body[at:]
        raw = frame(body)
        if draw(st.integers(0, 4)) == 0:  # sometimes the framing itself is broken
            raw = raw[: draw(st.integers(0, len(raw)))]
        out.append(raw)
    return draw(st.sampled_from([b"", b"8=FIX", HUGE])) + b"".join(out)


# derandomize: the same 800 examples (about 2,200 frames) on every run, never a flake.
@settings(
    max_examples=800,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(stream=mutated_streams() | st.binary(max_size=300), chunk=st.sampled_from([7, 64, 4096]))
def test_adversarial_frames_only_ever_raise_typed_parse_errors(
    fix44: FixDictionary, stream: bytes, chunk: int
) -> None:
    for raw in stream.split(b"8=FIX"):
        try:
            parse_message(b"8=FIX" + raw)
        except FixParseError:
            pass  # the one error the codec may raise
    framer = FixFramer(quickfix_resync=chunk == 64)
    for start in range(0, len(stream), chunk):
        framer.feed(stream[start : start + chunk])
    for dictionary in (None, fix44):
        session = venue(ManualClock(), dictionary=dictionary)
        for start in range(0, len(stream), chunk):
            session.data_received(stream[start : start + chunk])  # must never raise
            session.data_to_send()
        waiting = session.state is SessionState.AWAITING_LOGON
        assert session.is_logged_on or waiting or session.wants_close
