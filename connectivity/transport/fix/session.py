"""Sans-I/O FIX session: bytes and clock ticks in, application messages and bytes out.

One :class:`Session` is one FIX session identity (CompIDs + sequence numbers in a
:class:`~connectivity.core.store.Store`); it survives reconnects. The transport (the socket pump,
or a test) drives it:

- ``connection_made()`` / ``connection_lost()`` when the connection opens / closes; an initiator
  sends its Logon from ``connection_made``;
- ``data_received(data)`` with whatever the socket read;
- ``tick()`` whenever the clock may have passed :meth:`Session.next_deadline_ns`;
- after each call: write ``data_to_send()`` out and close the connection when ``wants_close``.

The application gets application messages plus Reject(3) (venues refuse orders with it) through
``on_message``, and session events (logon, logout, rejects, gaps; informational) through
``on_event``; it sends with :meth:`Session.send`. Validation order,
reject reasons and texts follow the FIX 4.4 session rules as QuickFIX's acceptance scripts pin
them down; :class:`SessionPolicy` holds what venues change (Binance: reset on every Logon, no
ResendRequest).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from connectivity.core.clock import NS_PER_SECOND, Clock
from connectivity.core.store import MemoryStore, Store
from connectivity.errors import ConnectionLost, ParseError
from connectivity.transport.fix.codec import FixMessage
from connectivity.transport.fix.dictionary import FixDictionary, FixValidationError
from connectivity.transport.fix.framing import FixFramer
from connectivity.transport.fix.session_admin import GapQueue, SessionAdmin
from connectivity.transport.fix.session_rules import (
    LogonContext,
    LogonHook,
    Role,
    SessionConfig,
    SessionEvent,
    SessionEventKind,
    SessionReject,
    SessionState,
    check_structure,
    int_value,
    text_value,
)
from connectivity.transport.fix.session_writer import Field, SessionWriter

__all__ = ["Session", "SessionEvent", "SessionEventKind", "SessionState"]

log = logging.getLogger(__name__)


class Session(SessionAdmin):
    """A FIX session state machine for either role; see the module docstring for the protocol."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        clock: Clock,
        store: Store | None = None,
        dictionary: FixDictionary | None = None,
        logon_hook: LogonHook | None = None,
        logon_check: Callable[[FixMessage], str | None] | None = None,
        resend_filter: Callable[[FixMessage], bool] | None = None,
        on_message: Callable[[FixMessage], None] | None = None,
        on_event: Callable[[SessionEvent], None] | None = None,
    ) -> None:
        self.config = config
        self.policy = config.policy
        self._clock = clock
        self.store: Store = store if store is not None else MemoryStore()
        self._dictionary = dictionary  # None: structural checks only
        self._logon_hook = logon_hook
        self._logon_check = logon_check
        self._resend_filter = resend_filter
        self.on_message = on_message
        self.on_event = on_event
        self._begin = config.begin_string.encode("ascii")
        self._sender = config.sender_comp_id.encode("ascii")
        self._target = config.target_comp_id.encode("ascii")
        self.state = SessionState.DISCONNECTED
        self.stats: Counter[str] = Counter()
        self.close_reason = ""
        self._writer = SessionWriter(self._begin, self._sender, self._target, self.store, clock)
        self._framer: FixFramer | None = None
        self._wants_close = False
        self._reset_clock_state()

    def _reset_clock_state(self) -> None:
        self._queue = GapQueue(self.policy.max_queued, self.policy.max_queued_bytes)
        self._draining = False
        self._resend_range: tuple[int, int] | None = None
        self._heartbeat_ns = 0
        self._last_received = self._clock.monotonic_ns()
        self._writer.last_sent = self._last_received
        self._test_request_at: int | None = None
        self._deadline: int | None = None  # logon or logout timeout
        self._sent_reset = False

    # ------------------------------------------------------------------ transport side

    @property
    def connected(self) -> bool:
        """Return True while a connection is bound to this session."""
        return self.state is not SessionState.DISCONNECTED

    @property
    def is_logged_on(self) -> bool:
        """Return True once Logon completed and until the session ends."""
        return self.state in (SessionState.ACTIVE, SessionState.LOGOUT_SENT)

    @property
    def wants_close(self) -> bool:
        """Return True when the transport should flush ``data_to_send()`` and then close."""
        return self._wants_close

    def connection_made(self) -> None:
        """Start a new connection; an initiator sends Logon now."""
        self._reset_clock_state()
        self._wants_close = False
        self.close_reason = ""
        self._writer.out.clear()
        self._framer = FixFramer(
            max_body_length=self.policy.max_body_length,
            on_garbled=self._on_garbled,
            dictionary=self._dictionary,
            quickfix_resync=self.policy.quickfix_resync,
            printable_only=self.policy.printable_only,
        )
        self._deadline = self._mono() + int(self.policy.logon_timeout_s * NS_PER_SECOND)
        if self.config.role is Role.ACCEPTOR:
            self.state = SessionState.AWAITING_LOGON
            return
        self.state = SessionState.LOGON_SENT
        if self.policy.reset_on_logon:
            self.store.reset()
            self._sent_reset = True
        self._send_logon(self.config.heartbeat_interval_s, None)

    def connection_lost(self, reason: str = "connection lost") -> None:
        """The connection closed (either side); the session keeps its sequence numbers."""
        if self.state is not SessionState.DISCONNECTED:
            self._disconnect(reason)
        self._framer = None

    def data_received(self, data: bytes) -> None:
        """Feed bytes read from the connection."""
        framer = self._framer
        if framer is None or self._wants_close:
            return
        for message in framer.feed(data):
            if self._wants_close:
                break
            self._last_received = self._mono()
            self._test_request_at = None  # anything at all proves the peer is alive
            self.stats["messages_in"] += 1
            self._process(message)
            if not self._draining:
                self._drain_queue()

    def data_to_send(self) -> bytes:
        """Return (and forget) every byte the session wants written, in order."""
        return self._writer.take()

    def next_deadline_ns(self) -> int | None:
        """Return the monotonic ns at which :meth:`tick` has work to do, or None."""
        if self.state in (SessionState.AWAITING_LOGON, SessionState.LOGON_SENT):
            return self._deadline
        if self.state is SessionState.LOGOUT_SENT:
            return self._deadline
        if self.state is not SessionState.ACTIVE or not self._heartbeat_ns:
            return None
        if self._test_request_at is not None:
            watchdog = self._test_request_at + self._heartbeat_ns
        else:
            watchdog = self._last_received + int(
                self.policy.test_request_factor * self._heartbeat_ns
            )
        return min(self._writer.last_sent + self._heartbeat_ns, watchdog)

    def tick(self) -> None:
        """Run the timers: logon/logout timeouts, Heartbeat, TestRequest, dead peer."""
        now = self._mono()
        if self.state in (SessionState.AWAITING_LOGON, SessionState.LOGON_SENT):
            if self._deadline is not None and now >= self._deadline:
                self._disconnect("no Logon within the logon timeout")
            return
        if self.state is SessionState.LOGOUT_SENT:
            if self._deadline is not None and now >= self._deadline:
                self._disconnect("no Logout answer within the logout timeout")
            return
        if self.state is not SessionState.ACTIVE or not self._heartbeat_ns:
            return
        hbi = self._heartbeat_ns
        # The dead-peer check goes first: a late Heartbeat must not hide a dead connection.
        if self._test_request_at is not None and now - self._test_request_at >= hbi:
            self._disconnect("no answer to TestRequest within HeartBtInt")
            return
        silence = int(self.policy.test_request_factor * hbi)
        if self._test_request_at is None and now - self._last_received >= silence:
            self._emit(b"1", [(112, self.config.test_request_id)])
            self._test_request_at = now
        if now - self._writer.last_sent >= hbi:
            self._emit(b"0", [])
            self.stats["heartbeats_out"] += 1

    # ------------------------------------------------------------------ application side

    def send(
        self, msg_type: bytes | str, fields: Iterable[Field], header: Sequence[Field] = ()
    ) -> int:
        """Send an application message; return its MsgSeqNum. ConnectionLost if not logged on."""
        if not self.is_logged_on:
            raise ConnectionLost(f"FIX session {self._name()} is not logged on", operation="send")
        if isinstance(msg_type, str):
            msg_type = msg_type.encode("ascii")
        return self._emit(msg_type, list(fields), header=header, store=True)

    def logout(self, text: str | None = None) -> None:
        """Start the Logout handshake (or just disconnect when not logged on)."""
        if self.state is SessionState.ACTIVE:
            self._send_logout(text)
        elif self.state in (SessionState.AWAITING_LOGON, SessionState.LOGON_SENT):
            self._disconnect(text or "logout before logon completed")

    def send_test_request(self, test_req_id: str) -> None:
        """Send TestRequest(1) now; its Heartbeat answer emits TEST_REQUEST_ANSWERED."""
        if not self.is_logged_on:
            raise ConnectionLost(f"FIX session {self._name()} is not logged on", operation="send")
        self._emit(b"1", [(112, test_req_id)])

    def send_business_reject(self, ref: FixMessage, reason: int, text: str) -> None:
        """Answer an application message with BusinessMessageReject(j)."""
        self._writer.business_reject(ref, reason, text)
        self.stats["business_rejects_sent"] += 1

    @property
    def next_sender_seq(self) -> int:
        """Return the MsgSeqNum our next message gets."""
        return self.store.next_sender_seq()

    @property
    def next_target_seq(self) -> int:
        """Return the MsgSeqNum expected from the peer next."""
        return self.store.next_target_seq()

    # ------------------------------------------------------------------ incoming

    def _process(self, message: FixMessage) -> None:
        msg_type = message.msg_type
        if self.state in (SessionState.AWAITING_LOGON, SessionState.LOGON_SENT):
            if msg_type == b"5" and self.state is SessionState.LOGON_SENT:
                text = (message.get(58) or b"").decode("ascii", "replace")
                self._event(SessionEventKind.LOGGED_OUT, f"Logon refused: {text}", message)
                self._disconnect(f"Logon refused: {text}")
                return
            if msg_type != b"A":
                self._disconnect(f"first message is not a Logon (35={msg_type!r})")
                return
        if message.get(8) != self._begin:  # parse guarantees tag 8 comes first
            self._wrong_begin_string(message)
            return
        try:
            self._validate(message)
        except SessionReject as reject:
            if not self.is_logged_on:
                self._disconnect(f"invalid Logon: {reject.text}")
                return
            self._reject(message, reject)
            return
        seq = int_value(message.get(34))
        if seq is None:
            self._fatal("MsgSeqNum missing or not a number")
            return
        if msg_type == b"A":
            self._on_logon(message, seq)
        elif msg_type == b"5":
            self._on_logout(message, seq)
        elif msg_type == b"2":
            self._on_resend_request(message, seq)
        elif msg_type == b"4":
            self._on_sequence_reset(message, seq)
        elif self._verify(message, seq, check_high=True, check_low=True):
            self._increment_target()
            if msg_type == b"1":
                test_id = message.get(112)
                self._emit(b"0", [(112, test_id)] if test_id else [])
            elif msg_type in (b"3", b"j"):
                # Also an application matter: venues (Binance) refuse orders with Reject(3).
                self.stats["rejects_received"] += 1
                self._event(SessionEventKind.REJECT_RECEIVED, text_value(message), message)
                self._deliver(message)
            elif msg_type == b"0":
                self.stats["heartbeats_in"] += 1
                if 112 in message:
                    answered = (message.get(112) or b"").decode("ascii", "replace")
                    self._event(SessionEventKind.TEST_REQUEST_ANSWERED, answered, message)
            else:
                self._deliver(message)

    def _validate(self, message: FixMessage) -> None:
        for tag in (49, 56):
            if tag not in message:
                raise SessionReject(1, tag)
        dictionary = self._dictionary
        if dictionary is None:
            check_structure(message)
            return
        try:
            dictionary.validate(message)
        except FixValidationError as exc:
            raise SessionReject(exc.reject_reason, exc.ref_tag, exc.text) from exc
        except ParseError as exc:  # not a validation verdict: still a reject, never a crash
            raise SessionReject(99, None, str(exc)[:100]) from exc

    # ------------------------------------------------------------------ outgoing

    def _emit(
        self,
        msg_type: bytes,
        body: Sequence[Field],
        *,
        header: Sequence[Field] = (),
        store: bool = False,
    ) -> int:
        return self._writer.emit(msg_type, body, header=header, store=store)

    def _send_logon(self, heartbeat: int, peer: FixMessage | None, *, reset: bool = False) -> None:
        seq = self.store.next_sender_seq()
        now = self._writer.now_text()
        body: list[Field] = [(98, 0), (108, heartbeat)]
        if reset or self._sent_reset:
            body.append((141, b"Y"))
        if self._logon_hook is not None:
            context = LogonContext(
                self.config.role, b"A", self._sender, self._target, seq, now, peer
            )
            body.extend(self._logon_hook(context))
        self._writer.emit(b"A", body, sending_time=now)

    def _send_logout(self, text: str | None) -> None:
        if self.state is SessionState.LOGOUT_SENT or not self.is_logged_on:
            return
        self._emit(b"5", [(58, text)] if text else [])
        self.state = SessionState.LOGOUT_SENT
        self._deadline = self._mono() + int(self.policy.logout_timeout_s * NS_PER_SECOND)

    def _reject(self, message: FixMessage, reject: SessionReject) -> None:
        self._writer.reject(message, reject)
        self.stats["rejects_sent"] += 1
        self._event(SessionEventKind.REJECT_SENT, reject.text, message)
        seq = int_value(message.get(34))
        if message.msg_type not in (b"A", b"4") and seq == self.store.next_target_seq():
            self._increment_target()

    def _answer_resend(self, begin: int, end: int) -> None:
        policy = self.policy
        replay = policy.resend_supported and policy.resend_app_messages
        answered = self._writer.answer_resend(begin, end, replay=replay, keep=self._resend_filter)
        if answered is not None:
            self.stats["resend_requests_answered"] += 1
            self._event(SessionEventKind.RESEND_ANSWERED, f"{answered[0]}..{answered[1]}")

    def _fatal(self, text: str) -> None:
        """Send Logout with ``text`` and drop the connection without waiting for an answer."""
        if self.connected:
            self._emit(b"5", [(58, text)])
        self._disconnect(text)

    def _disconnect(self, reason: str) -> None:
        if self.state is SessionState.DISCONNECTED and self._wants_close:
            return
        log.info("FIX session %s disconnecting: %s", self._name(), reason)
        self.state = SessionState.DISCONNECTED
        self._wants_close = True
        self.close_reason = reason
        self._queue.clear()
        self._resend_range = None
        if self.policy.reset_on_disconnect:
            self.store.reset()
        self._event(SessionEventKind.DISCONNECT, reason)

    def _deliver(self, message: FixMessage) -> None:
        if self.on_message is not None:
            self.on_message(message)

    def _event(self, kind: SessionEventKind, text: str, message: FixMessage | None = None) -> None:
        if self.on_event is not None:
            self.on_event(SessionEvent(kind, text, message))

    def _on_garbled(self, raw: bytes, reason: str) -> None:
        self.stats["garbled"] += 1
        log.debug("FIX session %s dropped a garbled message: %s", self._name(), reason)
        self._event(SessionEventKind.GARBLED, reason)
        if not self.is_logged_on:
            # Before Logon there is no session to protect: a garbled Logon ends the connection.
            self._disconnect(f"garbled message before Logon: {reason}")

    def _name(self) -> str:
        return f"{self.config.sender_comp_id}->{self.config.target_comp_id}"

    def __repr__(self) -> str:
        return (
            f"Session({self._name()}, {self.config.role.value}, {self.state.value}, "
            f"out={self.store.next_sender_seq()}, in={self.store.next_target_seq()})"
        )
