"""Binance Spot facts as data: base URLs, market-data paths, stream names, limits.

Sources: ``specs/binance.md`` sections 1.1, 2.1 and 3 (official docs snapshot). Generic code
reads these tables; nothing here performs I/O.
"""

from __future__ import annotations

from connectivity.core.book_sync import IntegrityMode, UpdateIdRangeRule

__all__ = [
    "DEPTH_STREAMS",
    "OUTBOUND_WINDOW_S",
    "PARTIAL_DEPTH_STREAM",
    "ROLLOVER_AFTER_S",
    "SERVER_SHUTDOWN_EVENT",
    "TRADE_STREAMS",
    "WEIGHT_LIMIT_1M",
    "WS_LIVE_PATH",
    "AGG_TRADE_STREAM",
    "BOOK_INTEGRITY",
    "BOOK_SEQUENCE_RULE",
    "BOOK_TICKER_STREAM",
    "CONNECTION_LIFETIME_S",
    "DEPTH_PATH",
    "DEPTH_STREAM",
    "DEPTH_STREAM_1000MS",
    "DEPTH_WEIGHTS",
    "EXCHANGE_INFO_PATH",
    "MAX_CONNECTS_PER_5MIN",
    "MAX_INCOMING_MESSAGES_PER_S",
    "MAX_STREAMS_PER_CONNECTION",
    "PING_PATH",
    "PONG_TIMEOUT_S",
    "PRICE_SCALE",
    "QTY_SCALE",
    "REST_BASE_URLS",
    "SERVER_PING_INTERVAL_S",
    "SERVER_SHUTDOWN_STREAM",
    "SNAPSHOT_LIMIT",
    "SNAPSHOT_LIMIT_MAX",
    "SNAPSHOT_MAX_LEVELS",
    "SYMBOL_STATUSES",
    "TIME_PATH",
    "TIME_UNIT_NS",
    "TRADE_STREAM",
    "VENUE",
    "WS_BASE_URLS",
    "WS_COMBINED_PATH",
    "WS_RAW_PATH",
    "WS_API_URLS",
    "WS_API_RATE_LIMIT_BUCKETS",
    "depth_weight",
]

VENUE = "binance"

REST_BASE_URLS = {
    "prod": "https://api.binance.com",
    "market_data": "https://data-api.binance.vision",  # public market data only
    "testnet": "https://testnet.binance.vision",
    "demo": "https://demo-api.binance.com",
}
WS_BASE_URLS = {
    "prod": "wss://stream.binance.com:9443",
    "prod_443": "wss://stream.binance.com:443",
    "market_data": "wss://data-stream.binance.vision",
    "testnet": "wss://stream.testnet.binance.vision",
}
# WebSocket API (order entry over a websocket), spec section 5.
WS_API_URLS = {
    "prod": "wss://ws-api.binance.com:443/ws-api/v3",
    "prod_9443": "wss://ws-api.binance.com:9443/ws-api/v3",
    "testnet": "wss://ws-api.testnet.binance.vision/ws-api/v3",
    "demo": "wss://demo-ws-api.binance.com/ws-api/v3",
}
# A WS-API answer's ``rateLimits`` entry (rateLimitType, interval, intervalNum) -> the limiter
# bucket it reports on (the names of ``endpoints``); other entries (RAW_REQUESTS) are not
# metered locally and are ignored.
WS_API_RATE_LIMIT_BUCKETS = {
    ("REQUEST_WEIGHT", "MINUTE", 1): "weight",
    ("ORDERS", "SECOND", 10): "orders_10s",
    ("ORDERS", "DAY", 1): "orders_1d",
}
WS_RAW_PATH = "/ws/"  # + one stream name
WS_COMBINED_PATH = "/stream?streams="  # + stream names joined by "/"
WS_LIVE_PATH = "/stream"  # combined envelope, streams subscribed live (what the connector opens)

PING_PATH = "/api/v3/ping"
TIME_PATH = "/api/v3/time"
EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"
DEPTH_PATH = "/api/v3/depth"

# GET /api/v3/depth weight by limit: (largest limit in the band, weight).
DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50), (5000, 250))
SNAPSHOT_LIMIT = 5000  # what spec 3.1 step 2 asks for
SNAPSHOT_LIMIT_MAX = 5000  # larger values are served as 5000
# Levels per side we accept in one snapshot: room above the venue's maximum, but a bound on
# what a broken or hostile server can make us decode and hold.
SNAPSHOT_MAX_LEVELS = 2 * SNAPSHOT_LIMIT_MAX

# Stream name templates; symbols in stream names are lowercase.
DEPTH_STREAM = "{symbol}@depth@100ms"
DEPTH_STREAM_1000MS = "{symbol}@depth"
BOOK_TICKER_STREAM = "{symbol}@bookTicker"
TRADE_STREAM = "{symbol}@trade"
AGG_TRADE_STREAM = "{symbol}@aggTrade"
SERVER_SHUTDOWN_STREAM = "!serverShutdown"
SERVER_SHUTDOWN_EVENT = "serverShutdown"
# Choices a bot may configure: diff-depth speed and trade flavour, by their stream suffix.
DEPTH_STREAMS = {"depth@100ms": DEPTH_STREAM, "depth": DEPTH_STREAM_1000MS}
TRADE_STREAMS = {"trade": TRADE_STREAM, "aggTrade": AGG_TRADE_STREAM}
# Partial-depth streams: "<symbol>@depth<levels>[@100ms]".
PARTIAL_DEPTH_STREAM = "{symbol}@depth{levels}{speed}"

MAX_STREAMS_PER_CONNECTION = 1024
MAX_INCOMING_MESSAGES_PER_S = 5  # pings, pongs and JSON control frames all count
MAX_CONNECTS_PER_5MIN = 300  # per IP
WEIGHT_LIMIT_1M = 6000  # REQUEST_WEIGHT per minute per IP (exchangeInfo rateLimits)
CONNECTION_LIFETIME_S = 24 * 3600
ROLLOVER_AFTER_S = 23.5 * 3600  # replace the connection well before the venue cuts it
# Pace outbound frames at 5 per 1.25 s: Binance counts arrivals per second on its side, so
# pacing exactly at 5/s lets network or scheduling jitter push a sixth frame into a window.
OUTBOUND_WINDOW_S = 1.25
SERVER_PING_INTERVAL_S = 20
PONG_TIMEOUT_S = 60

# Event times are milliseconds unless the URL asks for timeUnit=MICROSECOND.
TIME_UNIT_NS = {"MILLISECOND": 1_000_000, "MICROSECOND": 1_000}

# Spot prints every price and quantity with 8 decimals; books use that scale so the
# parser's exact fast path always applies.
PRICE_SCALE = 8
QTY_SCALE = 8

# Book integrity is declared: update-id ranges U/u with the spec 3.1 rule.
BOOK_INTEGRITY = IntegrityMode.SEQUENCE
BOOK_SEQUENCE_RULE = UpdateIdRangeRule()

# Symbol trading statuses (enums.md); anything else is an unknown enum value.
SYMBOL_STATUSES = frozenset(
    {"PRE_TRADING", "TRADING", "POST_TRADING", "END_OF_DAY", "HALT", "AUCTION_MATCH", "BREAK"}
)


def depth_weight(limit: int) -> int:
    """Return the request weight of ``GET /api/v3/depth`` for ``limit``."""
    for top, weight in DEPTH_WEIGHTS:
        if limit <= top:
            return weight
    return DEPTH_WEIGHTS[-1][1]
