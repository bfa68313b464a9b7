"""Pure FIX session-layer rules: tags, reject reasons, timestamps, structural checks, policy.

Everything here is data or a pure function; :mod:`connectivity.transport.fix.session` applies
it. The reject texts are the ones FIX engines (and QuickFIX's acceptance scripts) use.
"""

from __future__ import annotations

import calendar
import enum
import time
from collections.abc import Callable, Iterable

import attrs

from connectivity.errors import ConfigError, ParseError
from connectivity.transport.fix.codec import MAX_DIGITS, FixMessage
from connectivity.transport.fix.dictionary import (
    FIX44_HEADER_TAGS,
    REJECT_TEXT,
    FixValidationError,
    validate_structure,
)

__all__ = [
    "ADMIN_MSG_TYPES",
    "HEADER_TAGS",
    "REJECT_TEXT",
    "REVERSE_ROUTE",
    "LogonContext",
    "LogonHook",
    "Role",
    "SessionConfig",
    "SessionPolicy",
    "SessionEvent",
    "SessionEventKind",
    "SessionReject",
    "SessionState",
    "check_structure",
    "format_utc_timestamp",
    "int_value",
    "parse_utc_timestamp",
    "text_value",
]

HEADER_TAGS = FIX44_HEADER_TAGS
ADMIN_MSG_TYPES = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})
# A reject goes back the way the message came: OnBehalfOf* <-> DeliverTo*.
REVERSE_ROUTE = ((115, 128), (128, 115), (116, 129), (129, 116), (144, 145), (145, 144))

BUSINESS_REJECT_UNSUPPORTED_MSG_TYPE = 3


class Role(enum.Enum):
    """Which side sends Logon first."""

    INITIATOR = "initiator"
    ACCEPTOR = "acceptor"


class SessionReject(ParseError):
    """An incoming message breaks a session rule: answer with Reject(3) ``reason``/``ref_tag``."""

    def __init__(self, reason: int, ref_tag: int | None = None, text: str | None = None) -> None:
        self.reason = reason
        self.ref_tag = ref_tag
        self.text = text or REJECT_TEXT.get(reason, "Other")
        super().__init__(f"FIX session reject {reason}: {self.text}", code=reason)


class SessionState(enum.Enum):
    """Where the session is in its lifecycle."""

    DISCONNECTED = "disconnected"
    AWAITING_LOGON = "awaiting_logon"  # acceptor, connected, no Logon yet
    LOGON_SENT = "logon_sent"  # initiator, waiting for the Logon answer
    ACTIVE = "active"
    LOGOUT_SENT = "logout_sent"  # waiting for the Logout answer (still processing messages)


class SessionEventKind(str, enum.Enum):
    """Kinds of :class:`SessionEvent`."""

    LOGGED_ON = "logged_on"
    LOGGED_OUT = "logged_out"
    DISCONNECT = "disconnect"  # the session wants (or saw) the connection closed
    REJECT_RECEIVED = "reject_received"  # Reject(3) or BusinessMessageReject(j) from the peer
    REJECT_SENT = "reject_sent"
    GARBLED = "garbled"
    SEQUENCE_GAP = "sequence_gap"  # incoming MsgSeqNum jumped (resend requested or fatal)
    SEQUENCE_RESET = "sequence_reset"
    RESEND_ANSWERED = "resend_answered"
    TEST_REQUEST_ANSWERED = "test_request_answered"  # a Heartbeat carrying a TestReqID


@attrs.frozen
class SessionEvent:
    """Something the application may want to know or log; ``message`` is the trigger."""

    kind: SessionEventKind
    text: str = ""
    message: FixMessage | None = None


@attrs.frozen
class LogonContext:
    """What a logon hook may sign or inspect; ``sending_time`` is the exact 52 value sent."""

    role: Role
    msg_type: bytes
    sender_comp_id: bytes
    target_comp_id: bytes
    msg_seq_num: int
    sending_time: bytes
    peer_logon: FixMessage | None  # the counterparty's Logon (acceptor side), else None


# Returns extra Logon body fields (signature 95/96, username 553, venue tags ...).
LogonHook = Callable[[LogonContext], Iterable[tuple[int, bytes | str | int]]]


@attrs.frozen
class SessionPolicy:
    """Venue rules the session follows; the defaults are the FIX 4.4 standard behaviour."""

    reset_on_logon: bool = False  # always send 141=Y and restart at 1 (Binance)
    reset_on_logout: bool = False  # numbers back to 1 after a completed Logout
    reset_on_disconnect: bool = False  # numbers back to 1 whenever the connection drops
    resend_supported: bool = True  # False: a gap is fatal (Logout + event), never ResendRequest
    resend_app_messages: bool = True  # False: answer ResendRequest with gap fills only
    min_heartbeat_s: int = 0  # acceptor: HeartBtInt allowed in the peer's Logon
    max_heartbeat_s: int = 3600
    sending_time_tolerance_s: float = 120.0  # 0 disables the SendingTime accuracy check
    test_request_factor: float = 1.2  # silence of factor * HeartBtInt triggers a TestRequest
    logon_timeout_s: float = 10.0
    logout_timeout_s: float = 2.0
    max_queued: int = 100_000  # messages held while a gap is being filled ...
    max_queued_bytes: int = 16 << 20  # ... and their raw bytes (the rest comes with the resend)
    max_body_length: int = 1 << 20  # a frame announcing a longer body is garbled at once
    printable_only: bool = False  # garble frames with bytes outside printable ASCII + SOH
    # A BodyLength that misses 10= swallows bytes up to the next CheckSum (QuickFIX framing)
    # instead of rescanning at the next 8=FIX; QuickFIX's scripts expect it.
    quickfix_resync: bool = False

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.min_heartbeat_s <= self.max_heartbeat_s:
            raise ConfigError("heartbeat bounds must satisfy 0 <= min <= max")
        if self.test_request_factor < 1.0:
            raise ConfigError("test_request_factor must be at least 1")
        if min(self.max_queued, self.max_queued_bytes, self.max_body_length) < 1:
            raise ConfigError("max_queued, max_queued_bytes and max_body_length must be >= 1")


@attrs.frozen
class SessionConfig:
    """Identity and timing of one FIX session (the same object serves every reconnect)."""

    sender_comp_id: str
    target_comp_id: str
    role: Role = Role.INITIATOR
    begin_string: str = "FIX.4.4"
    heartbeat_interval_s: int = 30  # what an initiator asks for; an acceptor mirrors the peer
    policy: SessionPolicy = attrs.Factory(SessionPolicy)
    test_request_id: str = "TEST"

    def __attrs_post_init__(self) -> None:
        for name in ("sender_comp_id", "target_comp_id", "begin_string"):
            value = getattr(self, name)
            if not value or not value.isascii() or "\x01" in value or "=" in value:
                raise ConfigError(f"invalid {name}: {value!r}")
        if self.heartbeat_interval_s < 0:
            raise ConfigError("heartbeat_interval_s must be >= 0")


_EPOCH_CACHE: dict[int, bytes] = {}


def format_utc_timestamp(ns: int) -> bytes:
    """Format integer ns since the epoch as ``YYYYMMDD-HH:MM:SS.sss`` (UTC)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    prefix = _EPOCH_CACHE.get(seconds)
    if prefix is None:
        if len(_EPOCH_CACHE) > 4096:
            _EPOCH_CACHE.clear()
        prefix = _EPOCH_CACHE[seconds] = time.strftime(
            "%Y%m%d-%H:%M:%S", time.gmtime(seconds)
        ).encode("ascii")
    return b"%s.%03d" % (prefix, rest // 1_000_000)


_SECONDS_CACHE: dict[bytes, int] = {}


def parse_utc_timestamp(value: bytes) -> int:
    """Parse ``YYYYMMDD-HH:MM:SS[.s{1,9}]`` (UTC) into integer ns; ValueError if malformed."""
    frac = value[18:]
    if len(value) > 17 and (value[17:18] != b"." or not frac.isdigit() or len(frac) > 9):
        raise ValueError(f"bad UTC timestamp {value[:32]!r}")
    whole = value[:17]
    seconds = _SECONDS_CACHE.get(whole)  # consecutive messages share their second
    if seconds is None:
        seconds = _parse_seconds(whole)
        if len(_SECONDS_CACHE) > 4096:
            _SECONDS_CACHE.clear()
        _SECONDS_CACHE[whole] = seconds
    return seconds * 1_000_000_000 + (int(frac.ljust(9, b"0")) if frac else 0)


def _parse_seconds(value: bytes) -> int:
    if len(value) < 17 or value[8:9] != b"-" or value[11:12] != b":" or value[14:15] != b":":
        raise ValueError(f"bad UTC timestamp {value[:32]!r}")
    date, hh, mm, ss = value[:8], value[9:11], value[12:14], value[15:17]
    if not (date.isdigit() and hh.isdigit() and mm.isdigit() and ss.isdigit()):
        raise ValueError(f"bad UTC timestamp {value[:32]!r}")
    year, month, day = int(date[:4]), int(date[4:6]), int(date[6:])
    hour, minute, second = int(hh), int(mm), int(ss)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise ValueError(f"bad UTC timestamp {value[:32]!r}")
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def _valid_msg_type(msg_type: bytes) -> bool:
    return 0 < len(msg_type) <= 8 and msg_type.isalnum() and msg_type.isascii()


def check_structure(message: FixMessage) -> None:
    """Check what needs no dictionary: MsgType syntax, tag numbers, empty values, field order.

    Raises :class:`SessionReject` with the problem found.
    """
    if not _valid_msg_type(message.msg_type):
        raise SessionReject(11)
    try:
        validate_structure(message)
    except FixValidationError as exc:
        raise SessionReject(exc.reject_reason, exc.ref_tag, exc.text) from exc


def header_and_body(message: FixMessage) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """Split the fields after 35 (without 10) into header fields and the rest, keeping order."""
    header: list[tuple[int, bytes]] = []
    body: list[tuple[int, bytes]] = []
    for tag, value in message.fields[3:-1]:
        (header if tag in FIX44_HEADER_TAGS else body).append((tag, value))
    return header, body


def int_value(value: bytes | None) -> int | None:
    """Parse a FIX int field value; None when absent, not a number or absurdly long."""
    if value is None:
        return None
    digits = value[1:] if value[:1] == b"-" else value  # lstrip would let "--5" reach int()
    if not digits.isdigit() or len(digits) > MAX_DIGITS:
        return None
    return int(value)


def text_value(message: FixMessage) -> str:
    """Return the Text (58) of ``message``, or an empty string."""
    return (message.get(58) or b"").decode("ascii", "replace")
