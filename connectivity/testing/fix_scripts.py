"""Play QuickFIX's scripted session tests (``*.def``) against our FIX engine in acceptor role.

Script format (see ``tests/data/SOURCES.md``): one action per line. ``I<msg>`` the harness
sends (9 and 10 filled in when absent, ``<TIME>``/``<TIME+N>``/``<TIME-N>`` replaced by the
current UTC time), ``E<msg>`` the engine must send next (compared field by field; tags listed in
``fields.fmt`` by regular expression, the rest exactly), ``iCONNECT``/``iDISCONNECT`` the harness
opens/closes a connection, ``eDISCONNECT`` the engine must close it (sending nothing first).
``I2,``/``E2,``/``i2,``/``e2,`` address connection 2. The harness is ``TW44``, we are ``ISLD``.

Two harnesses drive the engine: :class:`SansIOHarness` feeds the sans-I/O session directly and
moves a :class:`ManualClock` to the session's next timer whenever the script waits (fast and
deterministic); ``SocketHarness`` in :mod:`connectivity.testing.fix_script_sockets` goes
through the real socket pump on loopback. Both run the same :func:`run_script`.

The engine's application is :class:`EchoApplication`, the behaviour QuickFIX's own acceptance
server has: NewOrderSingle and SecurityDefinition come back with the body sorted by tag,
PossResend duplicates of a seen ClOrdID are dropped, other types get BusinessMessageReject.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import attrs

from connectivity.core.clock import NS_PER_SECOND, ManualClock
from connectivity.core.store import MemoryStore
from connectivity.transport.fix.acceptor import AcceptorRouter, ConnectionRefused, PendingConnection
from connectivity.transport.fix.codec import SOH, FixMessage, checksum
from connectivity.transport.fix.dictionary import FixDictionary
from connectivity.transport.fix.framing import FixFramer
from connectivity.transport.fix.session import Session
from connectivity.transport.fix.session_rules import (
    Role,
    SessionConfig,
    SessionPolicy,
    header_and_body,
)

__all__ = [
    "EchoApplication",
    "SansIOHarness",
    "ScriptHarness",
    "ScriptResult",
    "compare_messages",
    "fixify",
    "load_field_patterns",
    "parse_script",
    "quickfix_session_config",
    "run_script",
    "timify",
]

ENGINE_COMP_ID = "ISLD"
HARNESS_COMP_ID = "TW44"
_TIME_RE = re.compile(rb"<TIME([+-]\d+)?>")
_LINE_RE = re.compile(r"^([IEie])(\d),")
_ECHO_SKIP_HEADER = frozenset({8, 9, 35, 34, 43, 49, 52, 56, 122})


class ScriptFailure(AssertionError):
    """The engine did not do what the script expects."""


@attrs.frozen
class Step:
    """One action of a script."""

    line_no: int
    action: str  # I, E, CONNECT, DISCONNECT, WAIT_DISCONNECT
    cid: int
    payload: bytes = b""


@attrs.frozen
class ScriptResult:
    """Outcome of one script."""

    name: str
    passed: bool
    reason: str = ""
    line_no: int = 0


def parse_script(text: bytes) -> list[Step]:
    """Split a ``.def`` script into steps (comments and blank lines dropped)."""
    steps: list[Step] = []
    for line_no, raw_line in enumerate(text.split(b"\n"), start=1):
        line = raw_line.rstrip(b"\r").decode("latin-1")
        if not line or line.startswith("#"):
            continue
        match = _LINE_RE.match(line)
        cid, body = (int(match.group(2)), line[3:]) if match else (1, line[1:])
        kind = line[0]
        if kind in "ie":
            if body not in ("CONNECT", "DISCONNECT"):
                raise ValueError(f"line {line_no}: unknown action {line!r}")
            action = {"iCONNECT": "CONNECT", "iDISCONNECT": "DISCONNECT"}.get(kind + body)
            if action is None:
                action = "WAIT_CONNECT" if body == "CONNECT" else "WAIT_DISCONNECT"
            steps.append(Step(line_no, action, cid))
        elif kind in "IE":
            steps.append(Step(line_no, kind, cid, body.encode("latin-1")))
        else:
            raise ValueError(f"line {line_no}: unknown action {line!r}")
    return steps


def load_field_patterns(path: Path) -> dict[int, re.Pattern[bytes]]:
    """Read ``fields.fmt``: ``tag=regex`` per line."""
    patterns: dict[int, re.Pattern[bytes]] = {}
    for line in path.read_bytes().splitlines():
        if line.strip():
            tag, _, regex = line.partition(b"=")
            patterns[int(tag)] = re.compile(regex)
    return patterns


def timify(message: bytes, now_ns: int) -> bytes:
    """Replace ``<TIME>``, ``<TIME+N>`` and ``<TIME-N>`` by UTC ``YYYYMMDD-HH:MM:SS``."""

    def stamp(match: re.Match[bytes]) -> bytes:
        offset = int(match.group(1) or 0)
        seconds = now_ns // NS_PER_SECOND + offset
        return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)).encode("ascii")

    return _TIME_RE.sub(stamp, message)


def fixify(message: bytes) -> bytes:
    """Fill in BodyLength (9) and CheckSum (10) when the script leaves them out."""
    if not message.startswith(b"8="):
        return message
    if not message.endswith(SOH):
        message += SOH
    head_end = message.index(SOH) + 1
    head, rest = message[:head_end], message[head_end:]
    trailer = re.search(rb"\x0110=[^\x01]*\x01$", SOH + rest)
    body = rest[: trailer.start()] if trailer else rest
    tail = rest[trailer.start() :] if trailer else b""
    length = b"" if b"\x019=" in message else b"9=%d\x01" % len(body)
    if not tail:
        tail = b"10=" + checksum(head + length + body) + SOH
    return head + length + body + tail


def compare_messages(
    expected: bytes, actual: bytes, patterns: dict[int, re.Pattern[bytes]]
) -> str | None:
    """Compare as QuickFIX's harness does; return why they differ, or None when they match."""
    want = expected.rstrip(SOH).split(SOH)
    got = actual.rstrip(SOH).split(SOH)
    if len(want) != len(got):
        return f"number of fields differs: expected {_show(expected)} got {_show(actual)}"
    for w, g in zip(want, got, strict=True):
        w_tag, _, w_value = w.partition(b"=")
        g_tag, _, g_value = g.partition(b"=")
        if w_tag != g_tag:
            return f"expected field {w_tag!r} found {g_tag!r}: got {_show(actual)}"
        pattern = patterns.get(int(w_tag)) if w_tag.lstrip(b"-").isdigit() else None
        if pattern is None:
            if w_value != g_value:
                return (
                    f"field {w_tag.decode()} should be {w_value!r} was {g_value!r}: {_show(actual)}"
                )
        elif not pattern.search(g_value):
            return f"field {w_tag.decode()} value {g_value!r} does not match {pattern.pattern!r}"
    return None


def _show(raw: bytes) -> str:
    return raw.replace(SOH, b"|").decode("latin-1")


class EchoApplication:
    """QuickFIX's acceptance-test application: echo orders back, reject other types."""

    ECHOED = frozenset({b"D", b"d"})

    def __init__(self) -> None:
        self.session: Session | None = None
        self.flush: Callable[[], None] | None = None  # set when a socket pump must write
        self._seen: set[bytes] = set()

    def on_message(self, message: FixMessage) -> None:
        """Echo D/d (body sorted by tag), drop seen PossResends, BusinessReject the rest."""
        session = self.session
        assert session is not None
        if message.msg_type == b"3":
            return  # a session-level Reject is admin traffic for this application
        if message.msg_type not in self.ECHOED:
            session.send_business_reject(message, 3, "Unsupported Message Type")
            self._flush()
            return
        cl_ord_id = message.get(11)
        if message.get(97) == b"Y" and cl_ord_id in self._seen:
            return  # an application-level duplicate: already processed
        if cl_ord_id is not None:
            self._seen.add(cl_ord_id)
        header, body = header_and_body(message)
        extra = [field for field in header if field[0] not in _ECHO_SKIP_HEADER]
        session.send(message.msg_type, sorted(body, key=lambda f: f[0]), header=extra)
        self._flush()

    def _flush(self) -> None:
        if self.flush is not None:
            self.flush()


def quickfix_session_config() -> SessionConfig:
    """Return the acceptor configuration QuickFIX's scripts assume (ISLD <- TW44)."""
    policy = SessionPolicy(reset_on_disconnect=True, quickfix_resync=True)
    return SessionConfig(ENGINE_COMP_ID, HARNESS_COMP_ID, role=Role.ACCEPTOR, policy=policy)


class ScriptHarness(Protocol):
    """What :func:`run_script` needs from a harness (connection ids are small ints)."""

    def now_ns(self) -> int:
        """Return the wall time used for ``<TIME>``."""

    def connect(self, cid: int) -> None:
        """Open connection ``cid``."""

    def disconnect(self, cid: int) -> None:
        """Close connection ``cid`` from the harness side."""

    def send(self, cid: int, data: bytes) -> None:
        """Send bytes on ``cid``; ScriptFailure if the engine dropped it."""

    def expect_message(self, cid: int) -> bytes:
        """Return the engine's next message on ``cid``; ScriptFailure if none comes."""

    def expect_disconnect(self, cid: int) -> None:
        """Wait for the engine to close ``cid``; ScriptFailure on data or no close."""

    def close(self) -> None:
        """Release everything."""


def run_script(
    name: str, text: bytes, harness: ScriptHarness, patterns: dict[int, re.Pattern[bytes]]
) -> ScriptResult:
    """Play one script against ``harness``; never raises for an engine mistake."""
    step: Step | None = None
    try:
        for step in parse_script(text):
            if step.action == "CONNECT":
                harness.connect(step.cid)
            elif step.action == "DISCONNECT":
                harness.disconnect(step.cid)
            elif step.action == "WAIT_DISCONNECT":
                harness.expect_disconnect(step.cid)
            elif step.action == "I":
                harness.send(step.cid, fixify(timify(step.payload, harness.now_ns())))
            elif step.action == "E":
                actual = harness.expect_message(step.cid)
                expected = fixify(timify(step.payload, harness.now_ns()))
                reason = compare_messages(expected, actual, patterns)
                if reason:
                    raise ScriptFailure(reason)
    except ScriptFailure as failure:
        line = step.line_no if step else 0
        return ScriptResult(name, False, str(failure), line)
    finally:
        harness.close()
    return ScriptResult(name, True)


SessionFactory = Callable[[ManualClock, EchoApplication], Session]


class PollingHarness:
    """Waiting logic shared by the harnesses: poll for engine output, letting time pass.

    Subclasses keep ``self.clock`` and ``self._conns`` (connections with ``inbox`` and
    ``closed``) and implement :meth:`_progress` and :meth:`disconnect`.
    """

    MAX_WAIT_S = 130.0  # simulated seconds a script may wait for the engine
    DISCONNECT_WAIT_S = 10.0  # QuickFIX's harness waits ten seconds for a disconnect
    clock: ManualClock
    _conns: dict[int, Any]

    def now_ns(self) -> int:
        """Return the manual clock's wall time."""
        return self.clock.time_ns()

    def disconnect(self, cid: int) -> None:
        """Close ``cid`` from the harness side."""
        raise NotImplementedError

    def _progress(self, conn: Any, limit_ns: int) -> bool:
        """Let the engine make progress on ``conn`` (not past ``limit_ns``); False if it can't."""
        raise NotImplementedError

    def expect_message(self, cid: int) -> bytes:
        """Return the next engine message, letting simulated time pass if needed."""
        conn = self._conns[cid]
        limit = self.clock.monotonic_ns() + int(self.MAX_WAIT_S * NS_PER_SECOND)
        while not conn.inbox:
            if conn.closed:
                raise ScriptFailure("expected a message, the engine closed the connection")
            if not self._progress(conn, limit):
                raise ScriptFailure("expected a message, the engine sent nothing")
        message: bytes = conn.inbox.popleft()
        return message

    def expect_disconnect(self, cid: int) -> None:
        """Require the engine to close ``cid`` without sending anything first."""
        conn = self._conns[cid]
        limit = self.clock.monotonic_ns() + int(self.DISCONNECT_WAIT_S * NS_PER_SECOND)
        while True:
            if conn.inbox:
                raise ScriptFailure(f"expected disconnection, got {_show(conn.inbox[0])}")
            if conn.closed:
                return
            if not self._progress(conn, limit):
                raise ScriptFailure("connection still open ten seconds later")

    def close(self) -> None:
        """Close every connection still open."""
        for cid in list(self._conns):
            self.disconnect(cid)


class _Conn:
    def __init__(self, pending: PendingConnection) -> None:
        self.pending = pending
        self.session: Session | None = None
        self.inbox: deque[bytes] = deque()
        self.framer = FixFramer()
        self.closed = False


class SansIOHarness(PollingHarness):
    """Drive a sans-I/O acceptor session directly, with a manual clock for waits."""

    def __init__(
        self, dictionary: FixDictionary | None = None, clock: ManualClock | None = None
    ) -> None:
        self.clock = clock or ManualClock()
        self.app = EchoApplication()
        self.session = Session(
            quickfix_session_config(),
            clock=self.clock,
            store=MemoryStore(),
            dictionary=dictionary,
            on_message=self.app.on_message,
        )
        self.app.session = self.session
        self.router = AcceptorRouter([self.session])
        self._conns: dict[int, _Conn] = {}

    def connect(self, cid: int) -> None:
        """Open a fresh in-memory connection."""
        self._conns[cid] = _Conn(self.router.open())

    def disconnect(self, cid: int) -> None:
        """Close from the harness side."""
        conn = self._conns.pop(cid)
        if conn.session is not None and not conn.closed:
            conn.session.connection_lost("peer closed the connection")

    def send(self, cid: int, data: bytes) -> None:
        """Feed bytes to the engine on ``cid``."""
        conn = self._conns.get(cid)
        if conn is None or conn.closed:
            raise ScriptFailure("unable to send: the engine dropped the connection")
        if conn.session is None:
            try:
                conn.session = conn.pending.feed(data)
            except ConnectionRefused:
                conn.closed = True
                return
        else:
            conn.session.data_received(data)
        self._collect(conn)

    def _collect(self, conn: _Conn) -> None:
        session = conn.session
        if session is None or conn.closed:
            return
        conn.inbox.extend(message.raw for message in conn.framer.feed(session.data_to_send()))
        if session.wants_close:
            conn.closed = True
            session.connection_lost("engine closed the connection")

    def _progress(self, conn: _Conn, limit_ns: int) -> bool:
        """Move the clock to the session's next timer (not past ``limit_ns``); False if none."""
        session = conn.session
        deadline = session.next_deadline_ns() if session is not None and not conn.closed else None
        if deadline is None or deadline > limit_ns:
            return False
        step = max(deadline - self.clock.monotonic_ns(), 1000)
        self.clock.advance(step / NS_PER_SECOND)
        assert session is not None
        session.tick()
        self._collect(conn)
        return True
