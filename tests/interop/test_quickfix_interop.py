"""Our initiator against a real QuickFIX acceptor (PyPI ``quickfix``): tox -e interop.

QuickFIX binds every interface, so both ends run in a private network namespace with only
loopback up: the module re-executes itself under ``unshare -n`` (see ``scenario`` below),
starts ``connectivity.testing.quickfix_peer`` there and drives our initiator against it over
the socket pump with the real clock. The scenario prints one JSON line of observations; each
test checks one part of it. Skips cleanly when quickfix or the namespace is unavailable;
the FIX 4.4 dictionary is the one shipped with the package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The scenario runs in a subprocess bounded at 300 s; the suite-wide per-test limit is shorter.
pytestmark = [pytest.mark.interop, pytest.mark.timeout(360)]

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 1000
PORT = 9878  # inside the private namespace nothing else listens


@pytest.fixture(scope="module")
def observed() -> dict[str, Any]:
    from connectivity.testing.quickfix_peer import (
        netns_unavailable,
        private_netns_command,
        quickfix_unavailable,
    )
    from connectivity.transport.fix.dictionary import builtin_path

    reason = quickfix_unavailable() or netns_unavailable()
    if reason:
        pytest.skip(reason)
    dictionary = builtin_path("FIX44")
    command = private_netns_command([sys.executable, __file__, str(dictionary)])
    done = subprocess.run(command, capture_output=True, timeout=300, cwd=ROOT)
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    assert done.returncode == 0 and lines, done.stderr.decode(errors="replace")[-3000:]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def test_logon_to_quickfix_succeeds(observed: dict[str, Any]) -> None:
    assert observed["logged_on"] is True


def test_heartbeats_flow_both_ways(observed: dict[str, Any]) -> None:
    assert observed["heartbeats_in"] >= 2
    assert observed["heartbeats_out"] >= 2
    assert observed["logged_on_after_idle"] is True


def test_quickfix_answers_our_test_request(observed: dict[str, Any]) -> None:
    assert observed["test_request_answered"] == "PING-1"


def test_thousand_orders_each_get_an_execution_report(observed: dict[str, Any]) -> None:
    assert observed["orders_sent"] == ORDERS
    assert observed["reports_matched"] == ORDERS
    assert observed["rejects"] == 0


def test_gap_we_cause_is_filled_by_our_resend(observed: dict[str, Any]) -> None:
    assert observed["resend_requests_answered"] >= 1
    assert observed["gap_reports"] == ["GAP-LOST", "GAP-NEXT"]


def test_gap_we_detect_is_filled_by_quickfix_resend(observed: dict[str, Any]) -> None:
    assert observed["resend_requests_sent"] >= 1
    assert observed["caught_up_after_resend"] is True
    assert observed["logged_on_after_gaps"] is True


def test_logout_handshake_completes(observed: dict[str, Any]) -> None:
    assert observed["close_reason"] == "logout"  # QuickFIX answered our Logout


# --------------------------------------------------------------------------- the scenario


def scenario(dictionary_path: str) -> dict[str, Any]:
    """Run inside the namespace: QuickFIX peer as a subprocess, our initiator in-process."""
    from connectivity.runtime import patch

    patch()
    import gevent
    import gevent.event

    from connectivity.core.clock import SystemClock
    from connectivity.testing.quickfix_peer import PEER_COMP_ID
    from connectivity.transport.fix.codec import FixMessage
    from connectivity.transport.fix.dictionary import FixDictionary
    from connectivity.transport.fix.pump import FixAddress, FixInitiator
    from connectivity.transport.fix.session import Session, SessionEvent, SessionEventKind
    from connectivity.transport.fix.session_rules import SessionConfig
    from connectivity.transport.fix.session_rules import format_utc_timestamp as stamp

    peer = subprocess.Popen(
        [sys.executable, "-m", "connectivity.testing.quickfix_peer", "--port", str(PORT),
         "--dictionary", dictionary_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert peer.stdout is not None and peer.stdin is not None
    assert peer.stdout.readline().strip() == b"READY"
    clock = SystemClock()
    out: dict[str, Any] = {}
    reports: dict[bytes, FixMessage] = {}
    events: list[SessionEvent] = []
    changed = gevent.event.Event()

    def on_message(message: FixMessage) -> None:
        if message.msg_type == b"8":
            reports[message[11]] = message
        changed.set()

    def on_event(event: SessionEvent) -> None:
        events.append(event)
        changed.set()

    def wait(predicate: Any, timeout: float = 30.0) -> bool:
        with gevent.Timeout(timeout, False):
            while not predicate():
                changed.clear()
                changed.wait(0.5)
            return True
        return False

    config = SessionConfig("CLIENT", PEER_COMP_ID, heartbeat_interval_s=1)
    dictionary = FixDictionary.from_xml(dictionary_path)
    session = Session(config, clock=clock, dictionary=dictionary)
    client = FixInitiator(
        session, FixAddress("127.0.0.1", PORT), clock=clock, on_message=on_message,
        on_event=on_event,
    )  # fmt: skip

    def order(cl_ord_id: str) -> list[tuple[int, Any]]:
        return [(11, cl_ord_id), (55, "BTCUSDT"), (54, 1), (60, stamp(clock.time_ns())[:17]),
                (38, "100"), (40, 2), (44, "25000.5")]  # fmt: skip

    client.start()
    try:
        out["logged_on"] = client.wait_logged_on(10)
        # Heartbeats: one-second HeartBtInt, so a few seconds of quiet carry several each way.
        stats = session.stats
        wait(lambda: stats["heartbeats_in"] >= 2 and stats["heartbeats_out"] >= 2, 10)
        out["heartbeats_in"] = stats["heartbeats_in"]
        out["heartbeats_out"] = stats["heartbeats_out"]
        out["logged_on_after_idle"] = session.is_logged_on  # the peer accepted our heartbeats
        client.send_test_request("PING-1")
        wait(lambda: any(e.kind is SessionEventKind.TEST_REQUEST_ANSWERED for e in events), 10)
        answered = [e.text for e in events if e.kind is SessionEventKind.TEST_REQUEST_ANSWERED]
        out["test_request_answered"] = answered[0] if answered else None
        ids = [f"ORD-{i}" for i in range(ORDERS)]
        for cl_ord_id in ids:
            client.send("D", order(cl_ord_id))
        out["orders_sent"] = len(ids)
        wait(lambda: all(i.encode() in reports for i in ids), 60)
        out["reports_matched"] = sum(1 for i in ids if i.encode() in reports)
        # A gap we cause: one order is numbered and stored but never reaches the wire.
        session.send("D", order("GAP-LOST"))
        session.data_to_send()  # dropped (no yield in between: nothing else can flush it)
        client.send("D", order("GAP-NEXT"))
        wait(lambda: b"GAP-LOST" in reports and b"GAP-NEXT" in reports, 20)
        out["gap_reports"] = sorted(k.decode() for k in reports if k.startswith(b"GAP-"))
        out["resend_requests_answered"] = session.stats["resend_requests_answered"]
        # A gap we detect: forget the last three incoming numbers, so the next message from
        # QuickFIX looks too high; we must ask for a resend and catch up.
        expected = session.next_target_seq
        session.store.set_next_target_seq(expected - 3)
        client.send_test_request("PING-2")
        out["caught_up_after_resend"] = wait(lambda: session.next_target_seq > expected, 20)
        out["resend_requests_sent"] = session.stats["resend_requests_sent"]
        out["logged_on_after_gaps"] = session.is_logged_on
        out["rejects"] = session.stats["rejects_received"] + session.stats["rejects_sent"]
    finally:
        client.close()
        out["close_reason"] = session.close_reason
        peer.stdin.close()
        out["peer_exit"] = peer.wait(timeout=20)
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(json.dumps(scenario(sys.argv[1])), flush=True)
