"""Admin-message rules of a FIX session: Logon, Logout, ResendRequest, SequenceReset, MsgSeqNum.

:class:`SessionAdmin` is the half of :class:`~connectivity.transport.fix.session.Session` that
decides what an incoming message means for the session: SendingTime, CompID and MsgSeqNum
checks (too high: queue it and ask for a resend; too low without PossDupFlag: Logout), the
PossDup/OrigSendingTime rules, the Logon exchange in both roles and the queue of messages
held while a gap is filled. ``Session`` supplies the plumbing declared at the top.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Sequence

from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.store import Store
from connectivity.transport.fix.codec import FixMessage
from connectivity.transport.fix.session_rules import (
    SessionConfig,
    SessionEventKind,
    SessionPolicy,
    SessionReject,
    SessionState,
    int_value,
    parse_utc_timestamp,
    text_value,
)
from connectivity.transport.fix.session_writer import Field, SessionWriter

__all__ = ["GapQueue", "SessionAdmin"]


class GapQueue:
    """Messages received ahead of a sequence gap, held until the gap is filled.

    Bounded by count and by bytes (a peer could otherwise park 1 MiB messages by the
    hundred): a message over either bound is not held, and the open ResendRequest
    (EndSeqNo 0: everything) brings it back once the gap is filled.
    """

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.bytes = 0  # raw bytes of the held messages
        self._held: dict[int, FixMessage | None] = {}  # None: seen already, only consume it
        self._seqs: list[int] = []  # heap of the keys of _held: the lowest is found in O(1)

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, seq: int, message: FixMessage | None) -> bool:
        """Hold ``message`` as ``seq``; False (nothing changed) when a bound would be passed."""
        held = self._held
        old = held.get(seq)
        growth = (0 if message is None else len(message.raw)) - (0 if old is None else len(old.raw))
        if self.bytes + growth > self.max_bytes:
            return False
        if seq not in held:
            if len(held) >= self.max_count:
                return False
            heapq.heappush(self._seqs, seq)  # the heap holds exactly the keys of _held
        held[seq] = message
        self.bytes += growth
        return True

    def take(self, expected: int) -> tuple[bool, FixMessage | None]:
        """Forget what is below ``expected``; (True, entry) if ``expected`` is held."""
        seqs = self._seqs
        while seqs and seqs[0] < expected:
            self._forget(heapq.heappop(seqs))
        if not seqs or seqs[0] != expected:
            return False, None
        heapq.heappop(seqs)
        return True, self._forget(expected)

    def _forget(self, seq: int) -> FixMessage | None:
        message = self._held.pop(seq, None)
        if message is not None:
            self.bytes -= len(message.raw)
        return message

    def clear(self) -> None:
        """Forget everything held."""
        self._held.clear()
        self._seqs.clear()
        self.bytes = 0


class SessionAdmin:
    """Incoming admin-message handling and MsgSeqNum bookkeeping (mixed into Session)."""

    config: SessionConfig
    policy: SessionPolicy
    store: Store
    state: SessionState
    stats: Counter[str]
    _clock: Clock
    _writer: SessionWriter
    _sender: bytes
    _target: bytes
    _queue: GapQueue
    _draining: bool
    _resend_range: tuple[int, int] | None
    _heartbeat_ns: int
    _deadline: int | None
    _sent_reset: bool
    _logon_check: Callable[[FixMessage], str | None] | None
    _wants_close: bool

    # Supplied by Session.
    @property
    def is_logged_on(self) -> bool:
        """Return True once Logon completed and until the session ends."""
        raise NotImplementedError

    def _process(self, message: FixMessage) -> None:
        raise NotImplementedError

    def _emit(self, msg_type: bytes, body: Sequence[Field]) -> int:
        raise NotImplementedError

    def _send_logon(self, heartbeat: int, peer: FixMessage | None, *, reset: bool = False) -> None:
        raise NotImplementedError

    def _send_logout(self, text: str | None) -> None:
        raise NotImplementedError

    def _reject(self, message: FixMessage, reject: SessionReject) -> None:
        raise NotImplementedError

    def _answer_resend(self, begin: int, end: int) -> None:
        raise NotImplementedError

    def _fatal(self, text: str) -> None:
        raise NotImplementedError

    def _disconnect(self, reason: str) -> None:
        raise NotImplementedError

    def _event(self, kind: SessionEventKind, text: str, message: FixMessage | None = None) -> None:
        raise NotImplementedError

    def _increment_target(self) -> None:
        self.store.set_next_target_seq(self.store.next_target_seq() + 1)

    def _mono(self) -> int:
        return self._clock.monotonic_ns()

    def _verify(self, message: FixMessage, seq: int, *, check_high: bool, check_low: bool) -> bool:
        """Check SendingTime, CompIDs and MsgSeqNum; on failure react and return False."""
        raw_time = message.get(52)
        if raw_time is None:
            self._reject(message, SessionReject(1, 52))
            return False
        try:
            sending_time = parse_utc_timestamp(raw_time)
        except ValueError:
            self._reject(message, SessionReject(6, 52))
            return False
        tolerance = self.policy.sending_time_tolerance_s
        if tolerance and abs(self._clock.time_ns() - sending_time) > tolerance * NS_PER_SECOND:
            self._reject(message, SessionReject(10))
            self._send_logout(None)
            return False
        if message.get(49) != self._target or message.get(56) != self._sender:
            self._reject(message, SessionReject(9))
            self._send_logout(None)
            return False
        expected = self.store.next_target_seq()
        if check_high and seq > expected:
            self._too_high(message, seq, expected)
            return False
        if check_low and seq < expected:
            if message.get(43) != b"Y":
                self._fatal(f"MsgSeqNum too low, expecting {expected} but received {seq}")
            elif message.msg_type != b"4":
                self._check_poss_dup(message, sending_time)  # a duplicate: never processed
            return False
        poss_dup = message.get(43) == b"Y" and message.msg_type != b"4"
        if poss_dup and not self._check_poss_dup(message, sending_time):
            return False
        pending = self._resend_range
        if (check_high or check_low) and pending is not None and seq >= pending[1]:
            self._resend_range = None  # the requested range has been filled
        return True

    def _check_poss_dup(self, message: FixMessage, sending_time: int) -> bool:
        raw = message.get(122)
        if raw is None:
            self._reject(message, SessionReject(1, 122))
            return False
        try:
            original = parse_utc_timestamp(raw)
        except ValueError:
            self._reject(message, SessionReject(6, 122))
            return False
        if original > sending_time:
            self._reject(message, SessionReject(10))
            self._send_logout(None)
            return False
        return True

    def _too_high(self, message: FixMessage | None, seq: int, expected: int) -> None:
        text = f"MsgSeqNum too high, expecting {expected} but received {seq}"
        if not self.policy.resend_supported:
            self._event(SessionEventKind.SEQUENCE_GAP, text, message)
            self._send_logout(text)
            return
        if not self._queue.hold(seq, message):
            self.stats["queue_overflows"] += 1  # it comes back with the resend
        if self._resend_range is not None and seq >= self._resend_range[0]:
            return  # the open ResendRequest already covers it
        self._resend_range = (expected, seq - 1)
        self._emit(b"2", [(7, expected), (16, 0)])
        self.stats["resend_requests_sent"] += 1
        self._event(SessionEventKind.SEQUENCE_GAP, text, message)

    def _drain_queue(self) -> None:
        self._draining = True
        try:
            while self._queue and self.is_logged_on and not self._wants_close:
                found, queued = self._queue.take(self.store.next_target_seq())
                if not found:
                    return
                if queued is None:
                    self._increment_target()
                else:
                    self._process(queued)
        finally:
            self._draining = False

    def _on_logon(self, message: FixMessage, seq: int) -> None:
        reset = message.get(141) == b"Y"
        if self.is_logged_on and not reset:
            self._fatal("Logon received while already logged on")
            return
        heartbeat = int_value(message.get(108))
        if heartbeat is None or heartbeat < 0:
            self._disconnect("Logon without a valid HeartBtInt")
            return
        if not self._logon_verify(message, seq):
            return
        answering = self.state is not SessionState.LOGON_SENT  # not the answer to our Logon
        if answering and not self._logon_acceptable(message, heartbeat):
            return
        if reset and not self._sent_reset:  # only once the Logon is known to be genuine
            self.store.reset()
            self._queue.clear()
            self._resend_range = None
            self._event(SessionEventKind.SEQUENCE_RESET, "peer reset sequence numbers", message)
        expected = self.store.next_target_seq()
        if seq < expected:
            self._fatal(f"MsgSeqNum too low, expecting {expected} but received {seq}")
            return
        if answering:
            self._heartbeat_ns = heartbeat * NS_PER_SECOND
            self._send_logon(heartbeat, message, reset=reset)
        else:
            self._heartbeat_ns = self.config.heartbeat_interval_s * NS_PER_SECOND
        self._sent_reset = False
        self.state = SessionState.ACTIVE
        self._deadline = None
        self._event(SessionEventKind.LOGGED_ON, "", message)
        if seq > expected:
            self._too_high(None, seq, expected)  # the Logon itself is done: only consume it
        else:
            self._increment_target()

    def _logon_acceptable(self, message: FixMessage, heartbeat: int) -> bool:
        """Apply the policy's HeartBtInt bounds and the application's logon check."""
        policy = self.policy
        if not policy.min_heartbeat_s <= heartbeat <= policy.max_heartbeat_s:
            self._fatal(f"HeartBtInt must be {policy.min_heartbeat_s}..{policy.max_heartbeat_s}")
            return False
        refusal = self._logon_check(message) if self._logon_check is not None else None
        if refusal:
            self._fatal(refusal)
            return False
        return True

    def _logon_verify(self, message: FixMessage, seq: int) -> bool:
        if self.is_logged_on:  # a reset Logon inside a session follows the normal rules
            return self._verify(message, seq, check_high=False, check_low=False)
        raw_time = message.get(52)
        tolerance = self.policy.sending_time_tolerance_s
        try:
            sending_time = parse_utc_timestamp(raw_time or b"")
        except ValueError:
            self._disconnect("Logon with a missing or malformed SendingTime")
            return False
        if tolerance and abs(self._clock.time_ns() - sending_time) > tolerance * NS_PER_SECOND:
            self._disconnect("Logon SendingTime outside the accepted window")
            return False
        if message.get(49) != self._target or message.get(56) != self._sender:
            self._disconnect("Logon with wrong CompIDs")
            return False
        return True

    def _on_logout(self, message: FixMessage, seq: int) -> None:
        if not self._verify(message, seq, check_high=False, check_low=False):
            return
        text = text_value(message)
        if self.state is not SessionState.LOGOUT_SENT:
            self._emit(b"5", [])
        if seq == self.store.next_target_seq():
            self._increment_target()
        self._event(SessionEventKind.LOGGED_OUT, text, message)
        if self.policy.reset_on_logout:
            self.store.reset()
        self._disconnect(f"logout: {text}" if text else "logout")

    def _on_resend_request(self, message: FixMessage, seq: int) -> None:
        # Answered whatever its MsgSeqNum: the peer is stuck until it gets the messages.
        if not self._verify(message, seq, check_high=False, check_low=False):
            return
        begin, end = int_value(message.get(7)), int_value(message.get(16))
        if begin is None or end is None:
            self._reject(message, _missing_or_malformed(message, 7 if begin is None else 16))
            return
        self._answer_resend(begin, end)
        expected = self.store.next_target_seq()
        if seq == expected:
            self._increment_target()
        elif seq > expected:
            self._too_high(None, seq, expected)

    def _on_sequence_reset(self, message: FixMessage, seq: int) -> None:
        gap_fill = message.get(123) == b"Y"
        if not self._verify(message, seq, check_high=gap_fill, check_low=gap_fill):
            return
        new_seq = int_value(message.get(36))
        if new_seq is None:
            self._reject(message, _missing_or_malformed(message, 36))
            return
        expected = self.store.next_target_seq()
        if new_seq > expected:
            self.store.set_next_target_seq(new_seq)
            self._event(SessionEventKind.SEQUENCE_RESET, f"NewSeqNo {new_seq}", message)
        elif new_seq < expected:
            self._reject(message, SessionReject(5))

    def _wrong_begin_string(self, message: FixMessage) -> None:
        if not self.is_logged_on:
            self._disconnect("wrong BeginString")
            return
        if message.msg_type == b"5":
            seq = int_value(message.get(34))
            self._on_logout(message, seq if seq is not None else 0)
            return
        self._send_logout("Incorrect BeginString")
        self._increment_target()


def _missing_or_malformed(message: FixMessage, tag: int) -> SessionReject:
    """Reject for an int field that int_value() refused: absent (1) or not a usable number (6)."""
    return SessionReject(1 if message.get(tag) is None else 6, tag)
