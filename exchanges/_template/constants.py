"""Template venue facts as data (REQUIRED): every value generic code and the simulator read.

Replace each with the venue's documented value and cite the doc section beside it. Nothing
here performs I/O; a stream name or a limit written anywhere else is a second source of truth.
"""

from __future__ import annotations

from connectivity.core.book_sync import IntegrityMode, UpdateIdRangeRule

__all__ = [
    "BOOK_INTEGRITY",
    "BOOK_SEQUENCE_RULE",
    "BOOK_STREAM",
    "MAINTENANCE_EVENT",
    "MAX_OUTBOUND_PER_S",
    "MAX_STREAMS_PER_CONNECTION",
    "PRICE_SCALE",
    "QTY_SCALE",
    "REST_URL",
    "SNAPSHOT_TIERS",
    "SNAPSHOT_PATH",
    "TOP_OF_BOOK_STREAM",
    "TRADES_STREAM",
    "VENUE",
    "WEIGHT_BUCKET",
    "WS_PATH",
    "WS_URL",
]

VENUE = "template"
REST_URL = "https://api.venue.example"
WS_URL = "wss://stream.venue.example"
WS_PATH = "/ws"  # where a market-data connection opens; streams are subscribed live
SNAPSHOT_PATH = "/api/book"  # GET ?symbol=&limit= -> {"last": id, "bids": .., "asks": ..}
SNAPSHOT_TIERS = ((100, 1), (1000, 5))  # (largest limit of a band, its request weight)
WEIGHT_BUCKET = "weight"

# Stream (channel) name templates, by the venue's spelling of the symbol.
BOOK_STREAM = "book.{symbol}"
TOP_OF_BOOK_STREAM = "ticker.{symbol}"
TRADES_STREAM = "trades.{symbol}"
MAINTENANCE_EVENT = "maintenance"  # the venue will close the connection soon

MAX_STREAMS_PER_CONNECTION = 100
MAX_OUTBOUND_PER_S = 10  # subscribe frames (and pings, if the venue counts them) per second

PRICE_SCALE = 8  # fixed-point decimals: at least the venue's finest tick
QTY_SCALE = 8

# How a book is proven complete: here per-symbol update-id ranges (first, last), as Binance.
# Per-connection sequences and top-N checksums: docs/adding-a-venue.md, section 6.
BOOK_INTEGRITY = IntegrityMode.SEQUENCE
BOOK_SEQUENCE_RULE = UpdateIdRangeRule()
