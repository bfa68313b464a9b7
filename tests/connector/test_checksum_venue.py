"""The generic connector on a checksum venue: the full market-data contract.

The checksum venue (``tests/connector/venues/checksum.py``) keeps books at depth 25 and
checksums their top 10, sends snapshots in the stream and acknowledges nothing.
"""

from __future__ import annotations

from typing import Any

import attrs

from connectivity.connector.market_data import MarketDataConfig, MarketDataConnector
from connectivity.core.book_sync import BookInvalid, InvalidReason
from connectivity.core.events import Event, EventSink
from connectivity.testing.market_data_contract import MarketDataContract, wait_for
from connectivity.transport.wsclient import WebSocketSettings
from tests.connector.venues.checksum import (
    BOOK_DEPTH,
    CHECKSUM_WS_SETTINGS,
    checksum_market_data,
)
from tests.connector.venues.checksum_sim import CHECKSUM_SIM_SETTINGS, ChecksumSimVenue


class TestChecksumVenueMarketDataContract(MarketDataContract):
    """A top-N checksum: a lost update is a mismatch on that symbol's next one."""

    SYMBOLS = ("BTC/USD", "ETH/USD")
    EXTRA_SYMBOL = "SOL/USD"
    UPDATE_IDS = False  # book messages carry no update id

    def make_venue(self) -> ChecksumSimVenue:
        """The simulator with fast ticks."""
        fast = attrs.evolve(CHECKSUM_SIM_SETTINGS, tick_s=0.005, shutdown_grace_s=0.3)
        return ChecksumSimVenue(seed=11, settings=fast)

    def make_connector(
        self, venue: ChecksumSimVenue, sink: EventSink, **config: Any
    ) -> MarketDataConnector:
        """The generic connector with the checksum dialect, pointed at the simulator."""
        return checksum_market_data(MarketDataConfig(ws_url=venue.ws_url, **config), sink)

    def base_ws_settings(self) -> WebSocketSettings:
        """The venue's limits."""
        return CHECKSUM_WS_SETTINGS

    def lost_updates_seen(self, md: MarketDataConnector, symbol: str) -> int:
        """No sequence to jump: a lost update is noticed as a checksum mismatch."""
        return md.stats(symbol).checksum_failures

    def test_books_are_truncated_to_the_venues_depth_and_every_checksum_matches(
        self, venue: ChecksumSimVenue, start: Any
    ) -> None:
        md = start()
        applied = {symbol: md.stats(symbol).updates_applied for symbol in self.SYMBOLS}
        wait_for(lambda: all(md.stats(s).updates_applied > applied[s] + 50 for s in self.SYMBOLS))
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)
        for symbol in self.SYMBOLS:
            assert len(venue.market[symbol].bids) > BOOK_DEPTH  # the venue holds more
            assert md.book(symbol).depth() == (BOOK_DEPTH, BOOK_DEPTH)
            assert md.stats(symbol).checksum_failures == 0 and md.stats(symbol).resyncs == 0

    def test_a_lost_update_is_a_checksum_mismatch_and_resubscribing_restores_the_book(
        self, venue: ChecksumSimVenue, start: Any, events: list[Event]
    ) -> None:
        md = start()
        gapped = self.SYMBOLS[0]
        venue.faults.symbol = gapped
        venue.faults.drop_diffs = 1
        wait_for(lambda: md.stats(gapped).checksum_failures == 1 and md.is_valid(gapped))
        (invalid,) = [e for e in events if isinstance(e, BookInvalid)]
        assert invalid.symbol == gapped and invalid.reason is InvalidReason.CHECKSUM_MISMATCH
        assert md.stats(gapped).snapshots_applied == 2  # the resubscription's snapshot
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)
