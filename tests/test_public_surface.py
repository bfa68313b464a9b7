"""The public surface is explicit: ``connectivity.__all__`` changes only on purpose."""

from __future__ import annotations

import subprocess
import sys

import connectivity

EXPECTED = [
    "AppendLog",
    "AuthError",
    "Balance",
    "BalanceUpdate",
    "Banned",
    "BookCrossed",
    "BookDelta",
    "BookEvent",
    "BookInvalid",
    "BookLevel",
    "BookSnapshot",
    "BookStatus",
    "BookSync",
    "BookValid",
    "BookView",
    "Bucket",
    "ChecksumMismatch",
    "Clock",
    "ClosedError",
    "ConfigError",
    "ConnectFailed",
    "ConnectionLost",
    "ConnectionSequence",
    "ConnectivityError",
    "Credentials",
    "ErrorCounter",
    "Event",
    "EventSink",
    "FileStore",
    "Fill",
    "Instrument",
    "IntegrityMode",
    "InvalidReason",
    "LatencyRecorder",
    "Liquidity",
    "ManualClock",
    "MemoryStore",
    "Order",
    "OrderBook",
    "OrderOutcomeUnknown",
    "OrderRejected",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "ParseError",
    "PublicTrade",
    "RateLimited",
    "RateLimiter",
    "Rejected",
    "RequestTimeout",
    "ResyncRequired",
    "SequenceGap",
    "ServerError",
    "Side",
    "Store",
    "SystemClock",
    "TimeInForce",
    "TopLevelsChecksum",
    "TopOfBook",
    "Trade",
    "TransportError",
    "UnknownEnumValue",
    "UpdateIdRangeRule",
    "credentials_from_env",
]


def test_connectivity_all_is_pinned_and_every_name_resolves() -> None:
    assert connectivity.__all__ == EXPECTED
    assert all(getattr(connectivity, name, None) is not None for name in EXPECTED)


def test_importing_connectivity_loads_no_io_library_before_an_entry_point_patches() -> None:
    code = (
        "import sys, connectivity; "
        "print(sorted(m for m in ('gevent', 'requests', 'ssl', 'socket', 'websocket') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
