"""The outbound half of a FIX session: numbering, headers, persistence, rejects and replays.

:class:`SessionWriter` builds every message the session sends: it stamps the header (34, 49,
52, 56 plus any extra header fields, in tag order after 8/9/35), stores application messages
before they can reach the wire, and answers ResendRequest by replaying stored messages with
PossDupFlag=Y and OrigSendingTime, gap-filling everything else with SequenceReset-GapFill.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from connectivity.core.clock import Clock
from connectivity.core.store import Store
from connectivity.transport.fix.codec import FixMessage, encode, parse_message
from connectivity.transport.fix.session_rules import (
    REVERSE_ROUTE,
    SessionReject,
    format_utc_timestamp,
    header_and_body,
)

__all__ = ["Field", "SessionWriter", "reverse_route"]

Field = tuple[int, Any]
_BY_TAG = itemgetter(0)


def reverse_route(message: FixMessage) -> list[Field]:
    """Return the header fields that send an answer back the way ``message`` came."""
    return [(out, message.get(tag)) for tag, out in REVERSE_ROUTE if message.get(tag)]


class SessionWriter:
    """Build, number, store and queue outgoing messages of one session."""

    def __init__(
        self, begin: bytes, sender: bytes, target: bytes, store: Store, clock: Clock
    ) -> None:
        self._begin = begin
        self._sender = sender
        self._target = target
        self.store = store
        self._clock = clock
        self.out: list[bytes] = []
        self.last_sent = clock.monotonic_ns()
        self.sent = 0
        self.resent = 0

    def now_text(self) -> bytes:
        """Return the current SendingTime value."""
        return format_utc_timestamp(self._clock.time_ns())

    def emit(
        self,
        msg_type: bytes,
        body: Sequence[Field],
        *,
        header: Sequence[Field] = (),
        store: bool = False,
        sending_time: bytes | None = None,
    ) -> int:
        """Send a message with the next MsgSeqNum; ``store`` keeps it for resends."""
        seq = self.store.next_sender_seq()
        stamp = sending_time if sending_time is not None else self.now_text()
        head: list[Field] = [(34, seq), (49, self._sender), (52, stamp), (56, self._target)]
        if header:
            head.extend(header)
            head.sort(key=_BY_TAG)
        head.extend(body)
        raw = encode(self._begin, msg_type, head)
        if store:
            self.store.save_sent(seq, raw)  # persisted before it can reach the wire
        self.store.set_next_sender_seq(seq + 1)
        self.write(raw)
        return seq

    def write(self, raw: bytes) -> None:
        """Queue encoded bytes for the transport."""
        self.out.append(raw)
        self.last_sent = self._clock.monotonic_ns()
        self.sent += 1

    def take(self) -> bytes:
        """Return and forget everything queued, in order."""
        if not self.out:
            return b""
        data = b"".join(self.out)
        self.out.clear()
        return data

    def reject(self, message: FixMessage, reject: SessionReject) -> None:
        """Send a session-level Reject(3) for ``message``."""
        ref_seq = message.get(34)
        body: list[Field] = [(45, ref_seq if ref_seq and ref_seq.isdigit() else b"0")]
        body.append((58, reject.text))
        if reject.ref_tag is not None:
            body.append((371, reject.ref_tag))
        body.append((372, message.msg_type))
        body.append((373, reject.reason))
        self.emit(b"3", body, header=reverse_route(message))

    def business_reject(self, message: FixMessage, reason: int, text: str) -> None:
        """Send BusinessMessageReject(j) for an application message."""
        body: list[Field] = [(45, message.get(34) or b"0"), (58, text), (372, message.msg_type)]
        body.append((380, reason))
        self.emit(b"j", body, header=reverse_route(message))

    def answer_resend(
        self,
        begin: int,
        end: int,
        *,
        replay: bool,
        keep: Callable[[FixMessage], bool] | None = None,
    ) -> tuple[int, int] | None:
        """Answer ResendRequest(begin, end); return the range answered, None if empty.

        With ``replay`` stored application messages go out again (unless ``keep`` vetoes
        one); every other number in the range is covered by SequenceReset-GapFill.
        """
        last = self.store.next_sender_seq() - 1
        if end == 0 or end > last:
            end = last
        begin = max(begin, 1)
        if begin > end:
            return None
        gap_start: int | None = begin
        if replay:
            for seq, raw in self.store.get_sent(begin, end):
                original = parse_message(raw)
                if keep is not None and not keep(original):
                    continue  # vetoed (e.g. a stale order): it falls into a gap fill
                if gap_start is not None and gap_start < seq:
                    self.gap_fill(gap_start, seq)
                self.resend(original)
                gap_start = seq + 1 if seq < end else None
        if gap_start is not None and gap_start <= end:
            self.gap_fill(gap_start, end + 1)
        return begin, end

    def gap_fill(self, seq: int, new_seq: int) -> None:
        """Send SequenceReset-GapFill at ``seq`` covering up to ``new_seq``."""
        now = self.now_text()
        fields: list[Field] = [(34, seq), (43, b"Y"), (49, self._sender), (52, now)]
        fields += [(56, self._target), (122, now), (36, new_seq), (123, b"Y")]
        self.write(encode(self._begin, b"4", fields))

    def resend(self, original: FixMessage) -> None:
        """Send a stored message again with PossDupFlag=Y and OrigSendingTime."""
        header, body = header_and_body(original)
        head = [field for field in header if field[0] not in (43, 52, 122)]
        original_time = original.get(52) or self.now_text()
        head += [(43, b"Y"), (52, self.now_text()), (122, original_time)]
        head.sort(key=_BY_TAG)
        self.write(encode(self._begin, original.msg_type, head + body))
        self.resent += 1
