"""Websocket ingest: Binance-shaped depthUpdate frames over loopback, ours vs websocket-client.

Command (from the repository root)::

    python benchmarks/ws_ingest.py [--messages 200000]

A server in a separate process (``connectivity.sim.wsserver`` run as ``--serve``) floods
``--messages`` text frames of combined-stream ``depthUpdate`` JSON (about 400 bytes each, a
distinct update id per message) to each client once the client sends ``go``. In the same run,
in this process, we measure messages per second delivered to a callback by:

- ``WebSocketConnection`` (this project: websocket-client handshake, our own frame reader);
- plain websocket-client with default settings: ``create_connection(url)`` + a ``recv()`` loop
  (the target's peer), and, for attribution only, the same with ``skip_utf8_validation=True``.

Both run under the same gevent monkey-patching (the framework's runtime), time is taken from
sending ``go`` to the last message, and every message is counted and its size checked. The last
line printed is a JSON object with the figures, the ratio and whether the targets were met.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from connectivity.runtime import patch  # noqa: E402

patch()  # before socket, ssl, subprocess and time are used anywhere

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.os  # noqa: E402

from exchanges.binance.constants import DEPTH_STREAM, WS_COMBINED_PATH  # noqa: E402

STREAM = DEPTH_STREAM.format(symbol="btcusdt")

TARGET_MSGS_PER_S = 100_000
TARGET_RATIO = 5.0
BATCH_BYTES = 256 * 1024


def depth_update(u: int) -> bytes:
    """Return one combined-stream Binance spot depthUpdate message with update ids ``u``."""
    base = 4325012 + (u % 997) - 498
    bids = [[f"{(base - i * 3) / 100:.8f}", f"{0.5 + (u + i) % 37 / 8:.8f}"] for i in range(4)]
    asks = [[f"{(base + 1 + i * 3) / 100:.8f}", f"{(u * 7 + i) % 29 / 4:.8f}"] for i in range(4)]
    data = {
        "e": "depthUpdate",
        "E": 1_700_000_000_000 + u,
        "s": "BTCUSDT",
        "U": 10 * u + 1,
        "u": 10 * u + 10,
        "b": bids,
        "a": asks,
    }
    body = {"stream": STREAM, "data": data}
    return json.dumps(body, separators=(",", ":")).encode()


def serve(count: int) -> None:
    """Run the flooding server (child process); print its port, serve until stdin closes."""
    from connectivity.sim.wsserver import ServerConnection, WebSocketServer, encode_text_frame

    frames = [encode_text_frame(depth_update(u)) for u in range(1, count + 1)]
    batches: list[bytes] = []
    batch: list[bytes] = []
    size = 0
    for frame in frames:
        batch.append(frame)
        size += len(frame)
        if size >= BATCH_BYTES:
            batches.append(b"".join(batch))
            batch, size = [], 0
    if batch:
        batches.append(b"".join(batch))

    def handler(conn: ServerConnection) -> None:
        if conn.recv(timeout=60) is None:
            return
        for chunk in batches:
            conn.send_raw_frame(chunk)
        while conn.recv(timeout=120) is not None:
            pass

    server = WebSocketServer(handler)
    server.start()
    print(server.port, flush=True)
    fd = sys.stdin.fileno()
    os.set_blocking(fd, False)
    try:
        while gevent.os.nb_read(fd, 4096):  # cooperative read; EOF when the parent is done
            pass
    finally:
        server.close()


def run_ours(url: str, count: int) -> float:
    """Return messages/s delivered to a callback by WebSocketConnection."""
    from connectivity.core.clock import SystemClock
    from connectivity.transport.websocket import WebSocketConnection, WebSocketSettings

    done = gevent.event.Event()
    state = {"n": 0, "bytes": 0}

    def on_message(payload: bytes, ts_recv_ns: int) -> None:
        state["n"] += 1
        state["bytes"] += len(payload)
        if state["n"] == count:
            done.set()

    settings = WebSocketSettings(ping_interval_s=None, rollover_after_s=None)
    conn = WebSocketConnection(url, on_message, clock=SystemClock(), settings=settings)
    conn.start()
    try:
        if not conn.connected.wait(timeout=10):
            raise RuntimeError("WebSocketConnection did not connect")
        start = time.perf_counter()
        conn.send("go")
        if not done.wait(timeout=300):
            raise RuntimeError(f"only {state['n']} of {count} messages arrived")
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    return count / elapsed


def run_websocket_client(url: str, count: int, **options: bool) -> float:
    """Return messages/s of plain websocket-client (default settings unless given), recv()."""
    import websocket

    ws = websocket.create_connection(url, **options)
    try:
        start = time.perf_counter()
        ws.send("go")
        received = 0
        for _ in range(count):
            message = ws.recv()
            received += len(message) > 0
        elapsed = time.perf_counter() - start
    finally:
        ws.close()
    if received != count:
        raise RuntimeError(f"websocket-client got {received} of {count}")
    return count / elapsed


def main() -> None:
    """Start the server process, measure both clients, print the JSON result last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.messages)
        return
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--messages", str(args.messages)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        url = f"ws://127.0.0.1:{port}{WS_COMBINED_PATH}{STREAM}"
        ours = run_ours(url, args.messages)
        print(f"WebSocketConnection: {ours:,.0f} msg/s", file=sys.stderr)
        plain = run_websocket_client(url, args.messages)
        print(f"websocket-client:    {plain:,.0f} msg/s", file=sys.stderr)
        # Not a target, just attribution: how much of the gap is the UTF-8 check alone.
        no_utf8 = run_websocket_client(url, args.messages, skip_utf8_validation=True)
        print(f"websocket-client, skip_utf8_validation: {no_utf8:,.0f} msg/s", file=sys.stderr)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
    ratio = ours / plain
    result = {
        "benchmark": "ws_ingest",
        "messages": args.messages,
        "message_bytes": len(depth_update(args.messages // 2)),
        "ours_msgs_per_s": round(ours),
        "websocket_client_msgs_per_s": round(plain),
        "ratio": round(ratio, 2),
        "websocket_client_skip_utf8_msgs_per_s": round(no_utf8),
        "ratio_vs_skip_utf8": round(ours / no_utf8, 2),
        "targets": {"ours_msgs_per_s": TARGET_MSGS_PER_S, "ratio": TARGET_RATIO},
        "met": ours >= TARGET_MSGS_PER_S and ratio >= TARGET_RATIO,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
