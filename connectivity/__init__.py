"""gevent-native exchange connectivity: REST, websocket, WS-API and FIX, one order truth.

Layers (one import direction, enforced by ``tests/test_layers.py``)::

    exchanges.<venue>  ->  connectivity.connector  ->  connectivity.transport  ->  connectivity.core

``connectivity.errors``, ``connectivity.config`` and ``connectivity.core`` are pure (no I/O, no
gevent). ``connectivity.runtime`` owns greenlets. ``connectivity.sim`` is the simulated venue,
which library code never imports.

Only pure names are re-exported here, so importing this package never imports gevent,
sockets or ``requests`` before an entry point's ``runtime.patch()``. A venue's market data is
``connectivity.connector.market_data.MarketDataConnector`` driven by its
``connectivity.connector.dialect.MarketDataDialect``; the bot receives the events of
``connectivity.core.events`` (re-exported below).
"""

from connectivity.config import Credentials, credentials_from_env
from connectivity.core.book import BookDelta, BookSnapshot, BookView, OrderBook
from connectivity.core.book_sync import (
    BookEvent,
    BookInvalid,
    BookStatus,
    BookSync,
    BookValid,
    ConnectionSequence,
    IntegrityMode,
    InvalidReason,
    TopLevelsChecksum,
    UpdateIdRangeRule,
)
from connectivity.core.clock import Clock, ManualClock, SystemClock
from connectivity.core.counters import ErrorCounter
from connectivity.core.events import Event, EventSink, PublicTrade, TopOfBook
from connectivity.core.latency import LatencyRecorder
from connectivity.core.models import (
    Balance,
    BalanceUpdate,
    BookLevel,
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    Trade,
)
from connectivity.core.ratelimit import Bucket, RateLimiter
from connectivity.core.store import AppendLog, FileStore, MemoryStore, Store
from connectivity.errors import (
    AuthError,
    Banned,
    BookCrossed,
    ChecksumMismatch,
    ClosedError,
    ConfigError,
    ConnectFailed,
    ConnectionLost,
    ConnectivityError,
    OrderOutcomeUnknown,
    OrderRejected,
    ParseError,
    RateLimited,
    Rejected,
    RequestTimeout,
    ResyncRequired,
    SequenceGap,
    ServerError,
    TransportError,
    UnknownEnumValue,
)

__all__ = [
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
