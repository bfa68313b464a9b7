"""A real QuickFIX acceptor to test and benchmark our FIX engine against (an independent peer).

Run as a program inside a private network namespace (QuickFIX binds every interface, so it must
never be reachable from outside the test)::

    python -m connectivity.testing.quickfix_peer --port 9878 --dictionary FIX44.xml

It prints ``READY`` once listening, answers every NewOrderSingle with an ExecutionReport
(ExecType=New) and exits when stdin closes. :func:`netns_unavailable` and
:func:`private_netns_command` build the ``unshare -n`` wrapper; both the interop tests and
``benchmarks/fix_roundtrip.py`` use them. Requires PyPI ``quickfix`` (imported lazily).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "PEER_COMP_ID",
    "private_netns_command",
    "netns_unavailable",
    "quickfix_unavailable",
    "run_peer",
]

PEER_COMP_ID = "QFIX"
SETTINGS = """\
[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort={port}
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary={use_dictionary}
DataDictionary={dictionary}
ValidateUserDefinedFields=N
SocketNodelay=Y

[SESSION]
BeginString=FIX.4.4
SenderCompID={peer}
TargetCompID={client}
"""


def quickfix_unavailable() -> str | None:
    """Return why the ``quickfix`` package cannot be used, or None when it can."""
    try:
        import quickfix  # noqa: F401
    except ImportError as e:
        return f"PyPI quickfix is not installed ({e}); pip install quickfix"
    return None


def netns_unavailable() -> str | None:
    """Return why ``unshare -n`` with loopback cannot be used here, or None when it can."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if not unshare or not ip:
        return "unshare or ip (iproute2) is missing"
    probe = subprocess.run(
        [unshare, "-n", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=10
    )
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip()
        return f"cannot create a private network namespace (needs root/CAP_SYS_ADMIN): {reason}"
    return None


def private_netns_command(argv: list[str]) -> list[str]:
    """Wrap ``argv`` to run in a new network namespace that has only loopback up."""
    quoted = " ".join(_quote(arg) for arg in argv)
    return ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {quoted}"]


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def _application() -> Any:
    import quickfix as fix

    exec_ids = itertools.count(1)

    class EchoExecutions(fix.Application):
        """Answer each NewOrderSingle with ExecutionReport(New)."""

        def onCreate(self, session_id: Any) -> None:
            pass

        def onLogon(self, session_id: Any) -> None:
            pass

        def onLogout(self, session_id: Any) -> None:
            pass

        def toAdmin(self, message: Any, session_id: Any) -> None:
            pass

        def fromAdmin(self, message: Any, session_id: Any) -> None:
            pass

        def toApp(self, message: Any, session_id: Any) -> None:
            pass

        def fromApp(self, message: Any, session_id: Any) -> None:
            msg_type = fix.MsgType()
            message.getHeader().getField(msg_type)
            if msg_type.getValue() != "D":
                return
            n = next(exec_ids)
            report = fix.Message()
            report.getHeader().setField(fix.MsgType("8"))
            report.setField(fix.OrderID(f"O{n}"))
            report.setField(fix.ExecID(f"E{n}"))
            report.setField(fix.ExecType("0"))
            report.setField(fix.OrdStatus("0"))
            for field in (fix.ClOrdID(), fix.Symbol(), fix.Side(), fix.OrderQty()):
                message.getField(field)
                report.setField(field)
            report.setField(151, message.getField(38))  # LeavesQty, as the exact string
            report.setField(14, "0")  # CumQty
            report.setField(6, "0")  # AvgPx
            fix.Session.sendToTarget(report, session_id)

    return EchoExecutions()


def run_peer(port: int, client_comp_id: str, dictionary: str | None) -> None:
    """Serve until stdin closes; print READY once listening."""
    import quickfix as fix

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "acceptor.cfg"
        path.write_text(
            SETTINGS.format(
                port=port,
                use_dictionary="Y" if dictionary else "N",
                dictionary=dictionary or "",
                peer=PEER_COMP_ID,
                client=client_comp_id,
            )
        )
        # Every object QuickFIX points to must outlive the acceptor (it keeps raw pointers).
        settings = fix.SessionSettings(str(path))
        application = _application()
        store = fix.MemoryStoreFactory()
        acceptor = fix.SocketAcceptor(application, store, settings)
        acceptor.start()
        print("READY", flush=True)
        sys.stdin.read()  # the parent closes our stdin to stop us
        acceptor.stop()
        sys.stdout.flush()
        # QuickFIX's binding can crash in destructors at interpreter exit; skip them.
        os._exit(0)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client", default="CLIENT")
    parser.add_argument("--dictionary", default=None)
    args = parser.parse_args()
    run_peer(args.port, args.client, args.dictionary)


if __name__ == "__main__":
    main()
