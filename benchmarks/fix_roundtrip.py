"""FIX round trips: NewOrderSingle out, ExecutionReport back, over loopback TCP.

Command (from the repository root)::

    python benchmarks/fix_roundtrip.py [--orders 2000] [--warmup 200]

Our initiator (``FixInitiator``: socket pump, sans-I/O session, delivery greenlet) sends one
NewOrderSingle at a time and waits for its ExecutionReport; the latency of each round trip is
measured with ``time.perf_counter`` from just before ``send`` to the moment the application
callback sees the report. Two acceptors answer, one after the other, in the same run:

- ours: ``FixAcceptor`` with a session validating against the FIX 4.4 dictionary, answering
  from its application callback;
- QuickFIX (PyPI ``quickfix``, C++ engine, ``UseDataDictionary=Y``, answering from its Python
  ``fromApp``), in its own process. QuickFIX binds every interface, so that half of the run
  re-executes this script under ``unshare -n`` with only loopback up; when quickfix or the
  namespace is unavailable it is reported as skipped.

Both acceptors validate against the FIX 4.4 dictionary shipped with the package
(``FixDictionary.builtin("FIX44")``). The last line is JSON: p50/p99/mean in microseconds per
acceptor and ours/QuickFIX ratios (below 1 means ours answered faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectivity.runtime import patch  # noqa: E402

patch()

import gevent.event  # noqa: E402

from connectivity.core.clock import SystemClock  # noqa: E402
from connectivity.testing.quickfix_peer import (  # noqa: E402
    PEER_COMP_ID,
    netns_unavailable,
    private_netns_command,
    quickfix_unavailable,
)
from connectivity.transport.fix.acceptor import FixAcceptor  # noqa: E402
from connectivity.transport.fix.codec import FixMessage  # noqa: E402
from connectivity.transport.fix.dictionary import FixDictionary, builtin_path  # noqa: E402
from connectivity.transport.fix.pump import FixAddress, FixInitiator  # noqa: E402
from connectivity.transport.fix.session import Session  # noqa: E402
from connectivity.transport.fix.session_rules import Role, SessionConfig  # noqa: E402
from connectivity.transport.fix.session_rules import format_utc_timestamp as stamp  # noqa: E402

DICTIONARY = builtin_path("FIX44")
PEER_PORT = 9878


def _dictionary() -> FixDictionary:
    return FixDictionary.builtin("FIX44")


def measure(host: str, port: int, target: str, orders: int, warmup: int) -> dict[str, Any]:
    """Run ``warmup + orders`` sequential round trips; return latency figures (us)."""
    clock = SystemClock()
    arrived = gevent.event.Event()
    seen: list[bytes] = []

    def on_message(message: FixMessage) -> None:
        if message.msg_type == b"8":
            seen.append(message[11])
            arrived.set()

    config = SessionConfig("CLIENT", target, heartbeat_interval_s=30)
    session = Session(config, clock=clock, dictionary=_dictionary())
    client = FixInitiator(session, FixAddress(host, port), clock=clock, on_message=on_message)
    client.start()
    samples: list[float] = []
    try:
        if not client.wait_logged_on(10):
            raise RuntimeError(f"no logon to {host}:{port}")
        for i in range(warmup + orders):
            cl_ord_id = f"B{i}"
            fields = [(11, cl_ord_id), (55, "BTCUSDT"), (54, 1), (60, stamp(clock.time_ns())[:17]),
                      (38, "100"), (40, 2), (44, "25000.5")]  # fmt: skip
            arrived.clear()
            start = time.perf_counter()
            client.send("D", fields)
            if not arrived.wait(5.0) or seen[-1] != cl_ord_id.encode():
                raise RuntimeError(f"no ExecutionReport for {cl_ord_id}")
            if i >= warmup:
                samples.append((time.perf_counter() - start) * 1e6)
    finally:
        client.close()
    samples.sort()
    return {
        "orders": len(samples),
        "p50_us": round(samples[len(samples) // 2], 1),
        "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1),
        "mean_us": round(statistics.fmean(samples), 1),
    }


def run_ours(orders: int, warmup: int) -> dict[str, Any]:
    """Measure against our own acceptor on 127.0.0.1."""
    clock = SystemClock()
    venue = Session(SessionConfig("VENUE", "CLIENT", role=Role.ACCEPTOR), clock=clock,
                    dictionary=_dictionary())  # fmt: skip
    executions = iter(range(1, 1 << 62))

    def answer(session: Session, message: FixMessage) -> None:
        if message.msg_type == b"D":
            n = next(executions)
            acceptor.send(session, b"8", [
                (6, b"0"), (11, message[11]), (14, b"0"), (17, b"E%d" % n), (37, b"O%d" % n),
                (38, message[38]), (39, b"0"), (54, message[54]), (55, message[55]),
                (150, b"0"), (151, message[38])])  # fmt: skip

    acceptor = FixAcceptor([venue], clock=clock, on_message=answer)
    host, port = acceptor.start()
    try:
        return measure(host, port, "VENUE", orders, warmup)
    finally:
        acceptor.close()


def run_quickfix_inside(orders: int, warmup: int) -> dict[str, Any]:
    """Inside the namespace: start QuickFIX's acceptor and measure against it."""
    command = [sys.executable, "-m", "connectivity.testing.quickfix_peer", "--port", str(PEER_PORT)]
    command += ["--dictionary", str(DICTIONARY)]
    peer = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    assert peer.stdin is not None and peer.stdout is not None
    try:
        if peer.stdout.readline().strip() != b"READY":
            raise RuntimeError("QuickFIX peer did not start")
        return measure("127.0.0.1", PEER_PORT, PEER_COMP_ID, orders, warmup)
    finally:
        peer.stdin.close()
        peer.wait(timeout=20)


def run_quickfix(orders: int, warmup: int) -> dict[str, Any]:
    """Measure against QuickFIX in a private network namespace, or say why not."""
    reason = quickfix_unavailable() or netns_unavailable()
    if reason:
        return {"skipped": reason}
    argv = [sys.executable, __file__, "--inside-netns", "--orders", str(orders),
            "--warmup", str(warmup)]  # fmt: skip
    done = subprocess.run(private_netns_command(argv), capture_output=True, timeout=600)
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"skipped": f"QuickFIX run failed: {done.stderr.decode(errors='replace')[-500:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--inside-netns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside_netns:
        print(json.dumps(run_quickfix_inside(args.orders, args.warmup)), flush=True)
        return
    ours = run_ours(args.orders, args.warmup)
    print(f"ours (FixAcceptor):  {ours}", flush=True)
    quickfix = run_quickfix(args.orders, args.warmup)
    print(f"QuickFIX acceptor:   {quickfix}", flush=True)
    result: dict[str, Any] = {
        "benchmark": "fix_roundtrip",
        "dictionary_validation": True,
        "ours_acceptor": ours,
        "quickfix_acceptor": quickfix,
    }
    if "p50_us" in quickfix:
        result["ratio_p50_ours_over_quickfix"] = round(ours["p50_us"] / quickfix["p50_us"], 3)
        result["ratio_p99_ours_over_quickfix"] = round(ours["p99_us"] / quickfix["p99_us"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
