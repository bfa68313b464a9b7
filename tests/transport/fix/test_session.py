"""Sans-I/O FIX session: initiator and acceptor wired back to back through memory.

The QuickFIX scripts (test_quickfix_scripts.py) pin the acceptor's reactions to bad input;
these tests cover the initiator, the timers, persistence, venue policies and the hooks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectivity.core.clock import NS_PER_SECOND, ManualClock
from connectivity.core.store import FileStore, MemoryStore, Store
from connectivity.errors import ConfigError, ConnectionLost
from connectivity.transport.fix.codec import FixMessage, encode, parse_message
from connectivity.transport.fix.dictionary import FixDictionary
from connectivity.transport.fix.framing import FixFramer
from connectivity.transport.fix.session import Session, SessionEvent, SessionEventKind
from connectivity.transport.fix.session_rules import (
    LogonContext,
    Role,
    SessionConfig,
    SessionPolicy,
    SessionReject,
    SessionState,
    format_utc_timestamp,
    parse_utc_timestamp,
)

BINANCE_LIKE = SessionPolicy(
    reset_on_logon=True, resend_supported=False, min_heartbeat_s=5, max_heartbeat_s=60
)


class Endpoint:
    """One side of an in-memory connection: its session, what it got, its events."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.messages: list[FixMessage] = []
        self.events: list[SessionEvent] = []
        session.on_message = self.messages.append
        session.on_event = self.events.append

    def kinds(self) -> list[SessionEventKind]:
        return [event.kind for event in self.events]


def make(
    role: Role,
    clock: ManualClock,
    *,
    policy: SessionPolicy | None = None,
    store: Store | None = None,
    heartbeat: int = 30,
    **kwargs: object,
) -> Endpoint:
    ours, theirs = ("CLIENT", "VENUE") if role is Role.INITIATOR else ("VENUE", "CLIENT")
    config = SessionConfig(
        ours, theirs, role=role, heartbeat_interval_s=heartbeat, policy=policy or SessionPolicy()
    )
    return Endpoint(Session(config, clock=clock, store=store or MemoryStore(), **kwargs))  # type: ignore[arg-type]


def shuttle(a: Endpoint, b: Endpoint) -> None:
    """Move bytes both ways until neither side has anything to say."""
    for _ in range(100):
        ab, ba = a.session.data_to_send(), b.session.data_to_send()
        if not ab and not ba:
            return
        if ab and b.session.connected:
            b.session.data_received(ab)
        if ba and a.session.connected:
            a.session.data_received(ba)
    raise AssertionError("sessions never went quiet")


def connect(initiator: Endpoint, acceptor: Endpoint) -> None:
    acceptor.session.connection_made()
    initiator.session.connection_made()
    shuttle(initiator, acceptor)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_initiator_and_acceptor_log_on_and_exchange_application_messages(
    clock: ManualClock,
) -> None:
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    assert client.session.state is venue.session.state is SessionState.ACTIVE
    assert (
        SessionEventKind.LOGGED_ON in client.kinds() and SessionEventKind.LOGGED_ON in venue.kinds()
    )
    seq = client.session.send("D", [(11, "order-1"), (55, "BTCUSDT"), (54, 1)])
    shuttle(client, venue)
    assert seq == 2
    assert [(m.msg_type, m[11]) for m in venue.messages] == [(b"D", b"order-1")]
    venue.session.send(b"8", [(11, b"order-1"), (150, b"0")])
    shuttle(client, venue)
    assert client.messages[0][150] == b"0"
    assert (client.session.next_sender_seq, client.session.next_target_seq) == (3, 3)


def test_logon_hook_signs_exactly_the_sending_time_and_seq_that_go_out(clock: ManualClock) -> None:
    seen: list[LogonContext] = []

    def sign(ctx: LogonContext) -> list[tuple[int, bytes]]:
        seen.append(ctx)
        payload = b"\x01".join(
            [ctx.msg_type, ctx.sender_comp_id, ctx.target_comp_id, b"%d" % ctx.msg_seq_num,
             ctx.sending_time]
        )  # fmt: skip
        signature = hashlib.sha256(payload).hexdigest().encode()
        return [(95, len(signature)), (96, signature), (553, b"api-key"), (25035, 2)]

    client = make(Role.INITIATOR, clock, logon_hook=sign)
    client.session.connection_made()
    logon = parse_message(client.session.data_to_send())
    ctx = seen[0]
    assert (logon[34], logon[52]) == (b"%d" % ctx.msg_seq_num, ctx.sending_time)
    expected = b"\x01".join([b"A", logon[49], logon[56], logon[34], logon[52]])
    assert logon[96] == hashlib.sha256(expected).hexdigest().encode()
    assert (logon[553], logon[25035], logon[108]) == (b"api-key", b"2", b"30")
    assert ctx.role is Role.INITIATOR and ctx.peer_logon is None


def test_heartbeat_sent_after_interval_of_silence(clock: ManualClock) -> None:
    client, venue = make(Role.INITIATOR, clock, heartbeat=10), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    deadline = client.session.next_deadline_ns()
    assert deadline == clock.monotonic_ns() + 10 * NS_PER_SECOND
    clock.advance(10)
    client.session.tick()
    heartbeat = parse_message(client.session.data_to_send())
    assert heartbeat.msg_type == b"0"


def test_unanswered_test_request_disconnects_without_logout(clock: ManualClock) -> None:
    client, venue = make(Role.INITIATOR, clock, heartbeat=10), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    sent: list[bytes] = []
    for _ in range(20):
        deadline = client.session.next_deadline_ns()
        if deadline is None:
            break
        clock.advance((deadline - clock.monotonic_ns()) / NS_PER_SECOND)
        client.session.tick()
        sent += [m.msg_type for m in FixFramer().feed(client.session.data_to_send())]
    assert sent == [b"0", b"1"]  # a heartbeat at 10 s, a TestRequest at 12 s, nothing after
    assert client.session.wants_close and client.session.state is SessionState.DISCONNECTED
    assert "TestRequest" in client.session.close_reason


def test_test_request_is_answered_with_its_id(clock: ManualClock) -> None:
    client, venue = make(Role.INITIATOR, clock, heartbeat=10), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    clock.advance(12)
    venue.session.tick()  # the venue heard nothing for 1.2 x HeartBtInt
    (request,) = FixFramer().feed(venue.session.data_to_send())
    assert (request.msg_type, request[112]) == (b"1", b"TEST")
    client.session.data_received(request.raw)
    (answer,) = FixFramer().feed(client.session.data_to_send())
    assert (answer.msg_type, answer[112]) == (b"0", b"TEST")
    venue.session.data_received(answer.raw)
    clock.advance(10)
    venue.session.tick()  # answered: no disconnect, just the venue's own heartbeat
    assert venue.session.is_logged_on


def test_too_high_seq_queues_and_requests_resend_then_replays_in_order(clock: ManualClock) -> None:
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    for i in range(3):
        client.session.send("D", [(11, f"o{i}")])
    burst = FixFramer().feed(client.session.data_to_send())
    venue.session.data_received(burst[2].raw)  # seq 4 arrives first: 2 and 3 are missing
    request = parse_message(venue.session.data_to_send())
    assert (request.msg_type, request[7], request[16]) == (b"2", b"2", b"0")
    assert venue.messages == []
    client.session.data_received(request.raw)
    shuttle(client, venue)
    assert [m[11] for m in venue.messages] == [b"o0", b"o1", b"o2"]
    assert [m.get(43) for m in venue.messages] == [b"Y", b"Y", None]
    assert venue.session.next_target_seq == 5


def test_resend_filter_turns_vetoed_orders_into_a_gap_fill(clock: ManualClock) -> None:
    client = make(Role.INITIATOR, clock, resend_filter=lambda m: m.get(11) != b"stale")
    venue = make(Role.ACCEPTOR, clock)
    connect(client, venue)
    client.session.send("D", [(11, "stale")])
    client.session.send("D", [(11, "fresh")])
    client.session.data_to_send()  # lost on the wire
    request = encode(b"FIX.4.4", b"2", [(34, 2), (49, b"VENUE"), (52, format_utc_timestamp(
        clock.time_ns())), (56, b"CLIENT"), (7, 2), (16, 0)])  # fmt: skip
    client.session.data_received(request)
    out = FixFramer().feed(client.session.data_to_send())
    assert [(m.msg_type, m[34], m.get(36), m.get(11)) for m in out] == [
        (b"4", b"2", b"3", None),
        (b"D", b"3", None, b"fresh"),
    ]


def test_binance_policy_resets_on_every_logon_and_never_asks_for_resends(
    clock: ManualClock,
) -> None:
    client = make(Role.INITIATOR, clock, policy=BINANCE_LIKE)
    venue = make(Role.ACCEPTOR, clock, policy=BINANCE_LIKE)
    for _ in range(2):  # two connections: both start at 1 with 141=Y
        venue.session.connection_made()
        client.session.connection_made()
        logon = parse_message(client.session.data_to_send())
        assert (logon[34], logon[141]) == (b"1", b"Y")
        venue.session.data_received(logon.raw)
        shuttle(client, venue)
        assert client.session.is_logged_on
        client.session.send("D", [(11, "x")])
        shuttle(client, venue)
        client.session.connection_lost()
        venue.session.connection_lost()
    venue.session.connection_made()
    client.session.connection_made()
    shuttle(client, venue)
    client.session.send("D", [(11, "lost")])
    client.session.data_to_send()
    client.session.send("D", [(11, "after-gap")])
    venue.session.data_received(client.session.data_to_send())
    logout = parse_message(venue.session.data_to_send())
    assert logout.msg_type == b"5" and b"too high" in logout[58]
    assert SessionEventKind.SEQUENCE_GAP in venue.kinds()
    assert venue.session.stats["resend_requests_sent"] == 0


def test_binance_policy_answers_resend_request_with_gap_fill_only(clock: ManualClock) -> None:
    client = make(Role.INITIATOR, clock, policy=BINANCE_LIKE)
    venue = make(Role.ACCEPTOR, clock, policy=BINANCE_LIKE)
    connect(client, venue)
    client.session.send("D", [(11, "a")])
    client.session.data_to_send()
    request = encode(b"FIX.4.4", b"2", [(34, 2), (49, b"VENUE"), (52, format_utc_timestamp(
        clock.time_ns())), (56, b"CLIENT"), (7, 1), (16, 0)])  # fmt: skip
    client.session.data_received(request)
    (fill,) = FixFramer().feed(client.session.data_to_send())
    assert (fill.msg_type, fill[34], fill[36], fill[123]) == (b"4", b"1", b"3", b"Y")


def test_acceptor_refuses_heartbeat_interval_outside_policy(clock: ManualClock) -> None:
    client = make(Role.INITIATOR, clock, heartbeat=120)
    venue = make(Role.ACCEPTOR, clock, policy=BINANCE_LIKE)
    connect(client, venue)
    assert client.session.state is SessionState.DISCONNECTED
    assert "Logon refused: HeartBtInt must be 5..60" in client.session.close_reason
    assert venue.session.wants_close


def test_logon_check_refusal_sends_logout_with_its_text(clock: ManualClock) -> None:
    client = make(Role.INITIATOR, clock)
    venue = make(Role.ACCEPTOR, clock, logon_check=lambda logon: "Signature is invalid")
    connect(client, venue)
    refused = [e for e in client.events if e.kind is SessionEventKind.LOGGED_OUT]
    assert refused and refused[0].text == "Logon refused: Signature is invalid"


def test_logout_handshake_and_timeout(clock: ManualClock) -> None:
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    client.session.logout("bye")
    assert client.session.state is SessionState.LOGOUT_SENT
    shuttle(client, venue)
    assert client.session.state is venue.session.state is SessionState.DISCONNECTED
    assert client.session.close_reason == "logout"
    assert venue.events[-2].kind is SessionEventKind.LOGGED_OUT and venue.events[-2].text == "bye"
    # Now a peer that never answers: the logout timeout closes the connection.
    client.session.connection_lost()
    venue.session.connection_lost()
    connect(client, venue)
    client.session.logout()
    client.session.data_to_send()
    clock.advance(2)
    client.session.tick()
    assert "logout timeout" in client.session.close_reason


def test_send_before_logon_raises_connection_lost(clock: ManualClock) -> None:
    client = make(Role.INITIATOR, clock)
    with pytest.raises(ConnectionLost):
        client.session.send("D", [(11, "x")])


def test_garbled_message_after_logon_is_dropped_and_counted(clock: ManualClock) -> None:
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    client.session.send("D", [(11, "x")])
    good = client.session.data_to_send()
    bad = good.replace(b"11=x", b"11=y")  # checksum no longer matches
    venue.session.data_received(bad)
    assert venue.session.stats["garbled"] == 1 and venue.messages == []
    assert venue.session.is_logged_on
    venue.session.data_received(good)
    assert [m[11] for m in venue.messages] == [b"x"]


def test_file_store_lets_a_restarted_process_resume_the_session(
    clock: ManualClock, tmp_path: Path
) -> None:
    venue = make(Role.ACCEPTOR, clock)
    client = make(Role.INITIATOR, clock, store=FileStore(tmp_path, "CLIENT-VENUE", fsync=False))
    connect(client, venue)
    client.session.send("D", [(11, "before-crash")])
    shuttle(client, venue)
    client.session.store.close()
    venue.session.connection_lost()
    # A new process: new Session object over the same files.
    restarted = make(Role.INITIATOR, clock, store=FileStore(tmp_path, "CLIENT-VENUE", fsync=False))
    assert (restarted.session.next_sender_seq, restarted.session.next_target_seq) == (3, 2)
    connect(restarted, venue)
    assert restarted.session.is_logged_on and venue.session.next_target_seq == 4
    stored = restarted.session.store.get_sent(2, 2)
    assert parse_message(stored[0][1])[11] == b"before-crash"
    restarted.session.store.close()


def test_first_message_other_than_logon_disconnects_acceptor(clock: ManualClock) -> None:
    venue = make(Role.ACCEPTOR, clock)
    venue.session.connection_made()
    heartbeat = encode(b"FIX.4.4", b"0", [(34, 1), (49, b"CLIENT"), (52, format_utc_timestamp(
        clock.time_ns())), (56, b"VENUE")])  # fmt: skip
    venue.session.data_received(heartbeat)
    assert venue.session.wants_close and venue.session.data_to_send() == b""


def test_logon_timeout_disconnects_a_silent_peer(clock: ManualClock) -> None:
    venue = make(Role.ACCEPTOR, clock)
    venue.session.connection_made()
    clock.advance(10)
    venue.session.tick()
    assert venue.session.wants_close and "logon timeout" in venue.session.close_reason


def test_utc_timestamps_round_trip_and_reject_garbage() -> None:
    ns = 1_700_000_000_123_000_000
    text = format_utc_timestamp(ns)
    assert text == b"20231114-22:13:20.123"
    assert parse_utc_timestamp(text) == ns
    assert parse_utc_timestamp(b"20231114-22:13:20.123456") == ns + 456_000
    assert parse_utc_timestamp(b"20231114-22:13:20") == ns - 123_000_000
    for bad in (b"2023111-22:13:20", b"20231314-22:13:20", b"20231114-22:13:20.", b"x" * 17):
        with pytest.raises(ValueError):
            parse_utc_timestamp(bad)


def test_invalid_configs_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        SessionConfig("A\x01B", "C")
    with pytest.raises(ConfigError):
        SessionPolicy(min_heartbeat_s=10, max_heartbeat_s=5)


@settings(max_examples=60, deadline=None)
@given(drops=st.lists(st.booleans(), min_size=1, max_size=25))
def test_any_pattern_of_lost_messages_is_recovered_exactly_once_in_order(
    drops: list[bool],
) -> None:
    clock = ManualClock()
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    ids = [b"o%d" % i for i in range(len(drops))] + [b"last"]
    for cl_ord_id, dropped in zip(ids, [*drops, False], strict=True):
        client.session.send("D", [(11, cl_ord_id)])
        data = client.session.data_to_send()
        if not dropped:
            venue.session.data_received(data)
        shuttle(client, venue)
    assert [m[11] for m in venue.messages] == ids
    assert venue.session.next_target_seq == client.session.next_sender_seq
    assert client.session.is_logged_on and venue.session.is_logged_on


def test_session_reject_from_the_venue_reaches_the_application(clock: ManualClock) -> None:
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    client.session.send("D", [(11, "bad-order")])
    order = parse_message(client.session.data_to_send())
    venue.session.data_received(order.raw)
    venue.session._reject(order, SessionReject(5, 40, "Unsupported order type"))
    shuttle(client, venue)
    (reject,) = client.messages
    assert (reject.msg_type, reject[45], reject[371], reject[58]) == (
        b"3",
        order[34],
        b"40",
        b"Unsupported order type",
    )
    assert SessionEventKind.REJECT_RECEIVED in client.kinds()
    assert client.session.is_logged_on


def test_refused_reset_logon_leaves_the_stored_sequence_numbers_alone(clock: ManualClock) -> None:
    store = MemoryStore()
    store.set_next_sender_seq(7)
    store.set_next_target_seq(9)
    venue = make(Role.ACCEPTOR, clock, store=store, logon_check=lambda logon: "bad signature")
    client = make(Role.INITIATOR, clock, policy=SessionPolicy(reset_on_logon=True))
    connect(client, venue)
    assert client.session.state is SessionState.DISCONNECTED
    assert (store.next_sender_seq(), store.next_target_seq()) == (8, 9)  # only our Logout


@settings(max_examples=80, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["flip", "drop", "soh", "digit"])),
        max_size=1,  # one byte changed is always caught; two can cancel in FIX's byte-sum
    ),
    chunk=st.integers(1, 400),
)
def test_corrupted_streams_never_raise_and_leave_a_consistent_session(
    edits: list[tuple[int, str]], chunk: int
) -> None:
    clock = ManualClock()
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    for i in range(8):
        client.session.send("D", [(11, f"order-{i}"), (55, "BTCUSDT"), (38, "1.25")])
    client.session.send_test_request("T")
    stream = bytearray(client.session.data_to_send())
    for position, kind in edits:
        at = position % len(stream)
        if kind == "flip":
            stream[at] ^= 0x20
        elif kind == "drop":
            del stream[at]
        elif kind == "soh":
            stream[at] = 1
        else:
            stream[at] = ord("7")
    for start in range(0, len(stream), chunk):
        venue.session.data_received(bytes(stream[start : start + chunk]))
    ids = [m[11] for m in venue.messages if m.msg_type == b"D"]
    assert len(ids) == len(set(ids))  # never delivered twice
    assert ids == sorted(ids, key=lambda v: int(v.split(b"-")[1]))  # never out of order
    if venue.session.is_logged_on:
        # A loss shows as a gap once anything later arrives; resend then recovers all of it.
        client.session.send("D", [(11, "order-8")])
        shuttle(client, venue)
        delivered = [m[11] for m in venue.messages if m.msg_type == b"D"]
        assert delivered == [b"order-%d" % i for i in range(9)]


@settings(max_examples=60, deadline=None)
@given(noise=st.binary(max_size=600), chunk=st.integers(1, 300))
def test_random_bytes_after_logon_never_raise(noise: bytes, chunk: int) -> None:
    clock = ManualClock()
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock)
    connect(client, venue)
    client.session.send("D", [(11, "x")])
    stream = noise + client.session.data_to_send() + noise
    for start in range(0, len(stream), chunk):
        venue.session.data_received(stream[start : start + chunk])
    assert venue.session.is_logged_on or venue.session.wants_close


def test_validating_session_delivers_known_shapes_parsed_in_one_pass_and_still_rejects(
    clock: ManualClock,
) -> None:
    dictionary = FixDictionary.builtin("FIX44")
    client, venue = make(Role.INITIATOR, clock), make(Role.ACCEPTOR, clock, dictionary=dictionary)
    connect(client, venue)
    now = format_utc_timestamp(clock.time_ns())
    order = [(11, "o1"), (21, 1), (40, 1), (54, 1), (38, "5"), (55, "X"), (60, now)]
    for _ in range(2):
        client.session.send("D", order)
        shuttle(client, venue)
    first, second = venue.messages
    assert first.validated_by is None and second.validated_by is dictionary.validator
    client.session.send("D", [*order[:4], (38, "5e3"), *order[5:]])
    shuttle(client, venue)
    assert len(venue.messages) == 2
    (reject,) = [m for m in client.messages if m.msg_type == b"3"]
    assert (reject[373], reject[371]) == (b"6", b"38")
