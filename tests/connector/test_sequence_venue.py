"""The generic connector on a per-connection-sequence venue: the full market-data contract.

The sequence venue (``tests/connector/venues/sequence.py``) numbers every message per
connection, sends book snapshots in the stream and acknowledges by channel and product.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson

from connectivity.connector.market_data import MarketDataConfig, MarketDataConnector
from connectivity.connector.router import StreamRouter
from connectivity.connector.streams import Subscriptions
from connectivity.core.book_sync import BookInvalid, BookSync, IntegrityMode, InvalidReason
from connectivity.core.events import Event, EventSink
from connectivity.testing.market_data_contract import MarketDataContract, wait_for
from connectivity.transport.wsclient import WebSocketSettings
from tests.connector.venues.sequence import (
    SEQUENCE_WS_SETTINGS,
    SequenceDialect,
    sequence_market_data,
)
from tests.connector.venues.sequence_sim import SEQUENCE_SIM_SETTINGS, SequenceSimVenue


class TestSequenceVenueMarketDataContract(MarketDataContract):
    """Per-connection sequence numbers: a lost message resyncs every book of the connection."""

    SYMBOLS = ("BTC-USD", "ETH-USD")
    EXTRA_SYMBOL = "SOL-USD"
    UPDATE_IDS = False  # l2 updates carry no per-product id

    def make_venue(self) -> SequenceSimVenue:
        """The simulator with fast ticks."""
        fast = attrs.evolve(SEQUENCE_SIM_SETTINGS, tick_s=0.005, shutdown_grace_s=0.3)
        return SequenceSimVenue(seed=11, settings=fast)

    def make_connector(
        self, venue: SequenceSimVenue, sink: EventSink, **config: Any
    ) -> MarketDataConnector:
        """The generic connector with the sequence dialect, pointed at the simulator."""
        return sequence_market_data(MarketDataConfig(ws_url=venue.ws_url, **config), sink)

    def base_ws_settings(self) -> WebSocketSettings:
        """The venue's limits."""
        return SEQUENCE_WS_SETTINGS

    def gap_resyncs(self, gapped: str) -> tuple[str, ...]:
        """A lost message could have been any book's: every book of the connection resyncs."""
        return self.SYMBOLS

    def test_a_sequence_jump_resyncs_every_book_of_the_connection_as_a_gap(
        self, venue: SequenceSimVenue, start: Any, events: list[Event]
    ) -> None:
        md = start()
        (router,) = md.routers()
        venue.faults.symbol = self.SYMBOLS[1]
        venue.faults.drop_diffs = 1
        wait_for(lambda: router.sequence_gaps == 1 and md.wait_valid(timeout=0.01))
        gaps = [e for e in events if isinstance(e, BookInvalid)]
        assert sorted(e.symbol for e in gaps) == sorted(self.SYMBOLS)
        assert all(e.reason is InvalidReason.GAP for e in gaps)
        assert all(md.stats(symbol).snapshots_applied == 2 for symbol in self.SYMBOLS)
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)

    def test_repeated_messages_are_dropped_by_their_connection_number(
        self, venue: SequenceSimVenue, start: Any
    ) -> None:
        md = start()
        (router,) = md.routers()
        venue.faults.duplicate_diffs = 5
        wait_for(lambda: venue.faults.duplicated == 5 and router.repeats == 5)
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)
        assert router.sequence_gaps == 0
        assert all(md.stats(symbol).resyncs == 0 for symbol in self.SYMBOLS)

    def test_after_a_rollover_the_new_connections_snapshots_carry_the_books_without_a_resync(
        self, venue: SequenceSimVenue, start: Any
    ) -> None:
        md = start()
        (connection,) = md.connections
        assert venue.server_shutdown() == 1
        wait_for(lambda: connection.stats.rollovers == 1 and len(venue.sessions) == 1)
        wait_for(lambda: all(md.stats(s).snapshots_applied == 2 for s in self.SYMBOLS))
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)  # fed by the new connection
        assert all(md.stats(symbol).resyncs == 0 for symbol in self.SYMBOLS)


def _l2(sequence: int, kind: str, product: str, bid: str) -> bytes:
    update = {"side": "bid", "price_level": bid, "new_quantity": "1"}
    event = {"type": kind, "product_id": product, "updates": [update]}
    return orjson.dumps(
        {"channel": "l2_data", "ts": 1, "sequence_num": sequence, "events": [event]}
    )


def test_a_book_follows_the_newest_connections_snapshot_and_a_jump_resyncs_only_its_books() -> None:
    sync = BookSync(IntegrityMode.CONNECTION_SEQUENCE)
    dialect = SequenceDialect()
    subscriptions = Subscriptions(dialect.encode, ack_mode=dialect.ack_mode)
    emitted: list[Event] = []
    symbols = ["BTC-USD", "ETH-USD"]
    router = StreamRouter(
        dialect, sync, subscriptions, symbols, time_ns=lambda: 0, emit=emitted.append
    )
    old, new = router.handler_for(1), router.handler_for(2)  # a rollover's two connections
    old(_l2(0, "snapshot", "BTC-USD", "100"), 1)
    old(_l2(1, "snapshot", "ETH-USD", "10"), 1)
    old(_l2(2, "update", "BTC-USD", "101"), 2)
    assert sync.book("BTC-USD").bids() == [(101 * 10**8, 10**8), (100 * 10**8, 10**8)]
    new(_l2(0, "snapshot", "BTC-USD", "200"), 3)  # the new connection takes the book over
    assert sync.is_valid("BTC-USD") and sync.book("BTC-USD").bids() == [(200 * 10**8, 10**8)]
    old(_l2(3, "update", "BTC-USD", "300"), 4)  # the old one's data no longer applies
    assert router.superseded == 1 and sync.book("BTC-USD").best_bid() == (200 * 10**8, 10**8)
    old(_l2(5, "update", "ETH-USD", "11"), 5)  # number 4 lost on the old connection
    assert router.sequence_gaps == 1
    assert sync.is_valid("BTC-USD") and not sync.is_valid("ETH-USD")  # only its books
    old(_l2(5, "update", "ETH-USD", "11"), 6)  # the same message again
    assert router.repeats == 1
