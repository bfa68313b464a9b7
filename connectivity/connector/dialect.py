"""The venue dialect protocol: what a venue tells the generic market-data connector.

:class:`~connectivity.connector.market_data.MarketDataConnector` owns everything every venue
does the same way (sharding, subscriptions, acks, staleness, snapshots, rollover, the read
API). A venue implements :class:`MarketDataDialect`: small, pure hooks and declared facts,
read from the venue's ``constants`` module. ``exchanges/_template/dialect.py`` is the copy-me
start; ``docs/adding-a-venue.md`` walks through each hook.

Facts: ``venue``, ``channels``, ``ack_mode``, ``snapshot_source``, ``integrity`` with its
``rule`` (per-symbol update ids) or ``checksum`` (top-N checksum, with ``max_book_depth``, the
depth the venue keeps a book at), or ``IntegrityMode.CONNECTION_SEQUENCE`` (``interpret``
returns :class:`Sequenced` messages), ``price_scale`` / ``qty_scale``,
``max_streams_per_connection`` and ``ws_settings``
(outbound frames per second, rollover lifetime, ping timers), and for REST snapshots their
weight tiers (``snapshot_tiers``, planned by :mod:`connectivity.connector.snapshots`) and
limiter bucket (``weight_bucket``).

Hooks: :meth:`~MarketDataDialect.stream_url`, :meth:`~MarketDataDialect.stream_name`,
:meth:`~MarketDataDialect.encode` (subscribe / unsubscribe), :meth:`~MarketDataDialect.route`
(the hot path: one inbound frame to its symbol's book, or parsed),
:meth:`~MarketDataDialect.interpret` (a parsed message to a neutral :data:`Inbound`) and
:meth:`~MarketDataDialect.fetch_snapshot` with :meth:`~MarketDataDialect.parse_snapshot` (REST
venues; the parse alone replays recordings).
"""

from __future__ import annotations

import enum
from collections.abc import Container, Sequence
from typing import NamedTuple, Protocol

import attrs

from connectivity.connector.streams import AckMode
from connectivity.core.book import BookDelta, BookSnapshot, ChecksumFn
from connectivity.core.book_sync import BookSync, IntegrityMode, SequenceRule
from connectivity.core.events import PublicTrade, TopOfBook
from connectivity.errors import ConfigError
from connectivity.transport.http import RestClient
from connectivity.transport.wsclient import WebSocketSettings

__all__ = [
    "Ack",
    "AckMode",
    "BookFed",
    "Channel",
    "FetchedSnapshot",
    "Inbound",
    "MarketDataDialect",
    "Message",
    "Refused",
    "Shutdown",
    "Sequenced",
    "SnapshotSource",
    "StreamSnapshots",
]


class Channel(enum.Enum):
    """What a bot can stream per symbol; a dialect names the venue's stream for each."""

    BOOK = "book"  # diff depth: the book's deltas (its silence means a dead feed)
    TOP_OF_BOOK = "top_of_book"
    TRADES = "trades"


class SnapshotSource(enum.Enum):
    """Where a book's snapshot comes from."""

    REST = "rest"  # fetched by the connector (through the limiter) when BookSync asks
    IN_STREAM = "in_stream"  # sent by the venue on (re)subscription (Coinbase, Kraken)


class BookFed(NamedTuple):
    """What :meth:`MarketDataDialect.route` did with a book delta: fed it to ``symbol``'s sync."""

    symbol: str
    first_id: int
    last_id: int
    ts_event: int
    snapshot_requested: bool  # BookSync asked for a NEW snapshot of this symbol


@attrs.frozen
class Ack:
    """The venue acknowledged a request: by ``request_id``, or by naming its ``streams``."""

    request_id: int | str | None = None
    streams: tuple[str, ...] = ()
    subscribed: bool = True  # False: an unsubscribe acknowledged by its streams


@attrs.frozen
class Refused:
    """The venue refused a control request."""

    request_id: int | str | None
    code: int
    msg: str


@attrs.frozen
class Shutdown:
    """The venue will close this connection soon (maintenance): roll over now."""

    ts_event: int


class FetchedSnapshot(NamedTuple):
    """A REST snapshot: the parsed book and the raw body (for recordings)."""

    snapshot: BookSnapshot
    body: bytes
    url: str


Message = TopOfBook | PublicTrade | BookDelta | BookSnapshot | Ack | Refused | Shutdown | None
"""One parsed message in neutral terms (None: nothing to do, e.g. a heartbeat)."""


@attrs.frozen
class Sequenced:
    """A message numbered in its connection's sequence (Coinbase ``sequence_num``).

    The router checks the number against that connection's
    :class:`~connectivity.core.book_sync.ConnectionSequence`: a repeat is dropped whole, a
    jump resyncs every book the connection carried; then ``message`` is handled as usual.
    """

    sequence: int
    message: Message


Inbound = Message | Sequenced
"""What :meth:`MarketDataDialect.interpret` returns: a message, numbered or not."""


class MarketDataDialect(Protocol):
    """A venue's market-data facts and pure hooks (see the module docstring)."""

    venue: str
    channels: tuple[Channel, ...]  # what to stream per symbol; BOOK first
    ack_mode: AckMode
    snapshot_source: SnapshotSource
    integrity: IntegrityMode
    rule: SequenceRule | None
    checksum: ChecksumFn | None
    max_book_depth: int | None  # levels per side the venue keeps (checksum venues); None: all
    price_scale: int
    qty_scale: int
    max_streams_per_connection: int
    ws_settings: WebSocketSettings
    snapshot_tiers: Sequence[tuple[int, int]]  # REST: (largest limit of a band, its weight)
    weight_bucket: str  # REST: the limiter bucket snapshots draw from

    def venue_symbol(self, symbol: str) -> str:
        """Return the venue's spelling of ``symbol`` (as books and events name it)."""

    def stream_url(self, ws_url: str) -> str:
        """Return the URL a market-data connection opens (before any subscription)."""

    def stream_name(self, symbol: str, channel: Channel) -> str:
        """Return the venue's stream (subscription) name of ``channel`` for ``symbol``."""

    def encode(self, method: str, streams: list[str], request_id: int) -> str:
        """Encode a ``SUBSCRIBE`` / ``UNSUBSCRIBE`` request for ``streams``."""

    def route(
        self, payload: bytes, ts_recv: int, sync: BookSync, symbols: Container[str]
    ) -> object:
        """Handle one inbound frame: feed a book delta to ``sync`` and return :class:`BookFed`,
        or return the parsed message for :meth:`interpret`; raise ``ParseError`` when bad."""

    def interpret(self, parsed: object) -> Inbound:
        """Translate what :meth:`route` returned (other than BookFed) into neutral terms."""

    def fetch_snapshot(self, rest: RestClient, symbol: str, limit: int) -> FetchedSnapshot:
        """Fetch one symbol's ``limit``-level snapshot over REST, waiting for the weight
        budget (``SnapshotSource.REST`` venues); its ``depth`` says how deep it is exact."""

    def parse_snapshot(self, body: bytes | str, symbol: str, ts_recv: int) -> BookSnapshot:
        """Parse a recorded REST snapshot body (what :meth:`fetch_snapshot` recorded)."""


class StreamSnapshots:
    """Base for venues that send snapshots in the stream (Coinbase, Kraken): no REST side.

    It declares ``snapshot_source``, an empty weight plan, and refuses the two REST snapshot
    hooks, so such a dialect writes only its stream hooks. Subclass it first:
    ``class KrakenDialect(StreamSnapshots): ...``.
    """

    venue: str
    snapshot_source = SnapshotSource.IN_STREAM
    snapshot_tiers: Sequence[tuple[int, int]] = ()
    weight_bucket = ""

    def fetch_snapshot(self, rest: RestClient, symbol: str, limit: int) -> FetchedSnapshot:
        """Refuse: this venue's snapshots come in the stream."""
        raise ConfigError(f"{self.venue} sends snapshots in the stream, not over REST")

    def parse_snapshot(self, body: bytes | str, symbol: str, ts_recv: int) -> BookSnapshot:
        """Refuse: there are no REST snapshots to replay."""
        raise ConfigError(f"{self.venue} sends snapshots in the stream, not over REST")
