"""The public surface is explicit: ``connectivity.__all__`` changes only on purpose."""

from __future__ import annotations

import subprocess
import sys

import connectivity

EXPECTED = [
    "AppendLog",
    "AuthError",
    "Balance",
    "BalanceChanged",
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
    "ClockOffsetEstimator",
    "ClosedError",
    "ConfigError",
    "ConnectFailed",
    "ConnectionLost",
    "ConnectionSequence",
    "ConnectivityError",
    "Correction",
    "Credentials",
    "ErrorCounter",
    "Event",
    "EventSink",
    "FileJournal",
    "FileStore",
    "Fill",
    "FilterViolation",
    "IllegalTransition",
    "Instrument",
    "InsufficientFunds",
    "IntegrityMode",
    "InvalidOrder",
    "InvalidReason",
    "Journal",
    "LatencyRecorder",
    "Liquidity",
    "ManualClock",
    "MemoryJournal",
    "MemoryStore",
    "Order",
    "OrderAccepted",
    "OrderBook",
    "OrderCanceled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderInDoubt",
    "OrderOutcomeUnknown",
    "OrderPartiallyFilled",
    "OrderPendingCancel",
    "OrderRefused",
    "OrderRejected",
    "OrderRequest",
    "OrderSettled",
    "OrderStatus",
    "OrderSubmitted",
    "OrderType",
    "OrderUpdate",
    "ParseError",
    "PublicTrade",
    "RateLimited",
    "RateLimiter",
    "ReconcileResult",
    "Rejected",
    "RequestTimeout",
    "ResyncRequired",
    "SequenceGap",
    "ServerError",
    "Side",
    "StateConfig",
    "StateManager",
    "Store",
    "SystemClock",
    "TimeInForce",
    "TopLevelsChecksum",
    "TopOfBook",
    "Trade",
    "TransportError",
    "UnknownEnumValue",
    "UpdateIdRangeRule",
    "VenueSnapshot",
    "credentials_from_env",
    "reconcile",
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
