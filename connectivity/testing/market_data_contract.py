"""The market-data contract suite: behaviour every venue's market-data connector must show.

A venue runs it by subclassing :class:`MarketDataContract` in its tests (pytest collects the
inherited ``test_*`` methods) and providing two factories::

    class TestKrakenMarketDataContract(MarketDataContract):
        SYMBOLS = ("XBT/USD", "ETH/USD")
        EXTRA_SYMBOL = "SOL/USD"              # streamed only by the subscribe-after-start test

        def make_venue(self) -> ContractVenue:         # its simulator, not started
            return KrakenSimVenue(seed=11, settings=FAST_SIM_SETTINGS)

        def make_connector(self, venue, sink, **config) -> MarketDataConnector:
            return KrakenMarketData.from_config(KrakenMarketDataConfig(
                rest_url=venue.rest_url, ws_url=venue.ws_url, **config), sink=sink)

``config`` holds generic :class:`~connectivity.connector.market_data.MarketDataConfig` fields
(``symbols``, ``stream_stale_after_s``, ``ws_settings``, ...). :meth:`MarketDataContract.
fast_ws_settings` gives the venue's own limits with test-speed timers.

Each test injects one fault into the simulator, waits (bounded polling, never a timed
assertion) for the connector to recover, freezes the simulated market and compares the local
book with the simulator's TRUE book, level for level, at the same update id.

Venues differ in how they prove a book complete; three hooks say how, so every test runs for
every venue (nothing is skipped for being un-Binance-like):

- ``UPDATE_IDS``: False when book messages carry no per-symbol update id (Coinbase's level2,
  Kraken's checksummed book): books are compared once they equal the truth, ids unchecked;
- :meth:`MarketDataContract.gap_resyncs`: the books one lost update resyncs (per-symbol ids
  or checksums: that symbol's; per-connection sequence numbers: every book of the connection);
- :meth:`MarketDataContract.lost_updates_seen`: the counter that notices a lost update
  (``gaps``; ``checksum_failures`` for checksum venues).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Protocol

import attrs
import gevent
import pytest

from connectivity.connector.market_data import MarketDataConnector
from connectivity.core.book_sync import BookInvalid, InvalidReason
from connectivity.core.events import Event, EventSink, PublicTrade, TopOfBook
from connectivity.sim.faults import FaultKnobs
from connectivity.sim.session import StreamSession
from connectivity.transport.wsclient import WebSocketSettings

__all__ = [
    "TIMEOUT",
    "ContractVenue",
    "MarketDataContract",
    "TrueBookLike",
    "assert_books_equal_truth",
    "wait_for",
]

TIMEOUT = 10.0


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    with gevent.Timeout(timeout, AssertionError(f"condition not met in {timeout}s")):
        while not condition():
            gevent.sleep(0.005)


def _levels(md: MarketDataConnector, symbol: str) -> tuple[list[Any], list[Any]]:
    view = md.view(symbol, 100_000)
    bids = [(lv.price, lv.quantity) for lv in view.bid_levels()]
    return bids, [(lv.price, lv.quantity) for lv in view.ask_levels()]


def assert_books_equal_truth(
    venue: Any, md: MarketDataConnector, symbols: Sequence[str], *, update_ids: bool = True
) -> None:
    """Freeze the market, let the connector catch up, compare every level exactly.

    Caught up means at the true book's update id, or (``update_ids=False``: the venue sends
    none) once the levels equal the truth, which the bounded wait then asserts.
    """
    venue.freeze()
    for symbol in symbols:
        truth = venue.true_book(symbol)
        if update_ids:
            target = truth.update_id
            wait_for(lambda s=symbol, t=target: md.is_valid(s) and md.book(s).update_id >= t)  # type: ignore[misc]
        else:
            levels = (list(truth.bids), list(truth.asks))
            wait_for(lambda s=symbol, t=levels: md.is_valid(s) and _levels(md, s) == t)  # type: ignore[misc]
        view = md.view(symbol, 100_000)
        assert view.valid
        if update_ids:
            assert view.update_id == truth.update_id
        assert _levels(md, symbol) == (list(truth.bids), list(truth.asks))


class TrueBookLike(Protocol):
    """The simulator's exact book of one symbol."""

    update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


class ContractVenue(Protocol):
    """What the suite drives in a venue's simulator (``connectivity.sim.SimVenue`` has it)."""

    faults: FaultKnobs
    sessions: list[StreamSession]
    connections_accepted: int
    rest_url: str
    ws_url: str

    def start(self) -> Any: ...
    def close(self) -> None: ...
    def freeze(self) -> None: ...
    def unfreeze(self) -> None: ...
    def stall(self) -> int: ...
    def disconnect(self) -> int: ...
    def server_shutdown(self) -> int: ...
    def inject(self, payload: bytes) -> int: ...
    def has_subscribers(self, stream: str) -> bool: ...
    def true_book(self, symbol: str) -> TrueBookLike: ...


class MarketDataContract:
    """Behavioural tests written once; a venue subclasses and supplies the two factories."""

    SYMBOLS: tuple[str, ...] = ()
    EXTRA_SYMBOL: str = ""
    SHUTDOWN_NOTICE = True  # the venue announces maintenance (else skip the rollover test)
    UPDATE_IDS = True  # book messages carry the true book's update id (see the module doc)
    MALFORMED: tuple[bytes, ...] = (b"{not json", b"[1, 2", b"\xff\xfe")

    # -- what a venue provides ---------------------------------------------------------------
    def make_venue(self) -> ContractVenue:
        """Return the venue's simulator (not started)."""
        raise NotImplementedError

    def make_connector(self, venue: Any, sink: EventSink, **config: Any) -> MarketDataConnector:
        """Return the venue's connector for ``venue`` (not started), with ``config`` applied."""
        raise NotImplementedError

    def base_ws_settings(self) -> WebSocketSettings:
        """Return the venue's production websocket settings (its limits)."""
        raise NotImplementedError

    def fast_ws_settings(self) -> WebSocketSettings:
        """Return the venue's limits with test-speed timers (pings flow during a stall)."""
        return attrs.evolve(
            self.base_ws_settings(),
            ping_interval_s=0.3,
            backoff_initial_s=0.02,
            backoff_max_s=0.1,
            tick_s=0.05,
            connect_timeout_s=2.0,
        )

    # -- fixtures ----------------------------------------------------------------------------
    @pytest.fixture
    def venue(self) -> Iterator[Any]:
        """The started simulator (closed after the test)."""
        sim = self.make_venue()
        sim.start()
        try:
            yield sim
        finally:
            sim.close()

    @pytest.fixture
    def events(self) -> list[Event]:
        """Every event the connector emitted, in order."""
        return []

    @pytest.fixture
    def start(self, venue: Any, events: list[Event]) -> Iterator[Callable[..., Any]]:
        """Build, start and wait for valid books; every connector is closed after the test."""
        started: list[MarketDataConnector] = []

        def make(**overrides: Any) -> Any:
            config: dict[str, Any] = {
                "symbols": self.SYMBOLS,
                # The production default: a short data watchdog on real time fires whenever the
                # hub stalls that long (a loaded machine, the simulator's flood, a frozen market
                # while a test compares books) and the resync it causes breaks the assertions.
                # Only the stall test, which is about that watchdog, shortens it.
                "stream_stale_after_s": 30.0,
                "snapshot_retry_s": 0.05,
                "ack_timeout_s": 2.0,
                "ws_settings": self.fast_ws_settings(),
            }
            config.update(overrides)
            md = self.make_connector(venue, events.append, **config)
            started.append(md)
            md.start()
            assert md.wait_valid(timeout=TIMEOUT)
            return md

        yield make
        for md in started:
            md.close()

    def gap_resyncs(self, gapped: str) -> tuple[str, ...]:
        """Return the symbols whose books one lost update of ``gapped`` resyncs."""
        return (gapped,)

    def lost_updates_seen(self, md: MarketDataConnector, symbol: str) -> int:
        """Return how many lost updates the connector noticed on ``symbol``'s book."""
        return md.stats(symbol).gaps

    # -- helpers -----------------------------------------------------------------------------
    def assert_books_equal_truth(
        self, venue: Any, md: MarketDataConnector, symbols: Sequence[str]
    ) -> None:
        """Freeze the market, let the connector catch up, compare every level exactly."""
        assert_books_equal_truth(venue, md, symbols, update_ids=self.UPDATE_IDS)

    # -- the contract ------------------------------------------------------------------------
    def test_books_become_valid_and_equal_the_true_books(self, venue: Any, start: Any) -> None:
        md = start()
        assert all(md.is_valid(symbol) for symbol in self.SYMBOLS)
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)

    def test_gap_resyncs_only_the_books_it_concerns_and_matches_the_true_book(
        self, venue: Any, start: Any
    ) -> None:
        md = start()
        gapped = self.SYMBOLS[0]
        venue.faults.symbol = gapped
        venue.faults.drop_diffs = 1
        wait_for(lambda: self.lost_updates_seen(md, gapped) >= 1 and md.is_valid(gapped))
        assert venue.faults.dropped == 1
        concerned = self.gap_resyncs(gapped)
        assert gapped in concerned
        for symbol in self.SYMBOLS:
            assert md.stats(symbol).resyncs == (1 if symbol in concerned else 0), symbol
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)

    def test_duplicated_updates_leave_the_book_exact_without_a_resync(
        self, venue: Any, start: Any
    ) -> None:
        md = start()
        venue.faults.duplicate_diffs = 5
        wait_for(lambda: venue.faults.duplicated == 5)
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)
        assert all(md.stats(symbol).resyncs == 0 for symbol in self.SYMBOLS)

    def test_stall_with_pings_still_answered_is_detected_reconnected_and_resynced(
        self, venue: Any, start: Any, events: list[Event]
    ) -> None:
        md = start(stream_stale_after_s=2.0)  # several pings (every 0.3 s) before it fires
        (connection,) = md.connections
        pongs = connection.stats.pongs_received
        assert venue.stall() == 1
        wait_for(lambda: connection.stats.pongs_received > pongs)  # the stalled feed answers
        assert connection.stats.errors["StaleSubscription"] == 0  # ... on the same connection
        wait_for(lambda: connection.stats.errors["StaleSubscription"] >= 1)
        assert connection.stats.errors["PongTimeout"] == 0
        wait_for(lambda: connection.stats.reconnects >= 1 and md.wait_valid(timeout=0.01))
        assert any(isinstance(e, BookInvalid) and e.reason is InvalidReason.RESET for e in events)
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)

    def test_disconnect_invalidates_the_books_then_reconnects_and_resyncs(
        self, venue: Any, start: Any, events: list[Event]
    ) -> None:
        md = start()
        (connection,) = md.connections
        assert venue.disconnect() == 1
        wait_for(lambda: connection.stats.reconnects >= 1)
        invalid = [e for e in events if isinstance(e, BookInvalid)]
        assert {e.symbol for e in invalid} == set(self.SYMBOLS)
        wait_for(lambda: md.wait_valid(timeout=0.01))
        assert md.stats(self.SYMBOLS[0]).resyncs == 1
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)

    def test_server_shutdown_rolls_over_seamlessly_and_the_book_stays_exact(
        self, venue: Any, start: Any
    ) -> None:
        if not self.SHUTDOWN_NOTICE:
            pytest.skip("the venue sends no maintenance notice")
        md = start()
        (connection,) = md.connections
        accepted = venue.connections_accepted
        assert venue.server_shutdown() == 1
        wait_for(lambda: connection.stats.rollovers == 1)
        assert venue.connections_accepted == accepted + 1
        wait_for(lambda: len(venue.sessions) == 1)  # the old connection is gone
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)
        assert connection.stats.reconnects == 0
        assert all(md.stats(symbol).resyncs == 0 for symbol in self.SYMBOLS)

    def test_malformed_frames_are_counted_and_the_feed_continues(
        self, venue: Any, start: Any
    ) -> None:
        md = start()
        (router,) = md.routers()
        for payload in self.MALFORMED:
            assert venue.inject(payload) == 1
        wait_for(lambda: router.errors.total() >= len(self.MALFORMED))
        assert router.errors["ParseError"] == len(self.MALFORMED)
        applied = md.stats(self.SYMBOLS[0]).updates_applied
        wait_for(lambda: md.stats(self.SYMBOLS[0]).updates_applied > applied)
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)
        assert all(md.stats(symbol).resyncs == 0 for symbol in self.SYMBOLS)

    def test_top_of_book_and_trades_reach_the_sink_as_venue_neutral_events(
        self, venue: Any, start: Any, events: list[Event]
    ) -> None:
        md = start()
        wanted = set(self.SYMBOLS)
        wait_for(
            lambda: (
                {e.symbol for e in events if isinstance(e, PublicTrade)} == wanted
                and {e.symbol for e in events if isinstance(e, TopOfBook)} == wanted
            )
        )
        self.assert_books_equal_truth(venue, md, self.SYMBOLS)  # freezes: no ticker after
        for symbol in self.SYMBOLS:
            last = [e for e in events if isinstance(e, TopOfBook) and e.symbol == symbol][-1]
            top = md.view(symbol, 1)
            assert (last.bid_price, last.bid_qty) == top.best_bid
            assert (last.ask_price, last.ask_qty) == top.best_ask
            assert last.venue == md.venue
            assert md.top_of_book(symbol) is not None

    def test_subscribe_after_start_streams_the_new_symbol_exactly(
        self, venue: Any, start: Any
    ) -> None:
        md = start()
        assert md.add_symbols([self.EXTRA_SYMBOL]) == [md.dialect.venue_symbol(self.EXTRA_SYMBOL)]
        assert md.wait_valid([self.EXTRA_SYMBOL], timeout=TIMEOUT)
        self.assert_books_equal_truth(venue, md, (*self.SYMBOLS, self.EXTRA_SYMBOL))

    def test_unsubscribe_stops_the_symbol_and_the_others_go_on(
        self, venue: Any, start: Any, events: list[Event]
    ) -> None:
        md = start()
        gone, kept = self.SYMBOLS[0], self.SYMBOLS[1:]
        streams = md.streams(md.dialect.venue_symbol(gone))
        assert md.remove_symbols([gone]) == [md.dialect.venue_symbol(gone)]
        assert not md.is_valid(gone)
        wait_for(lambda: not any(venue.has_subscribers(s) for s in streams))
        assert any(isinstance(e, BookInvalid) and e.symbol == gone for e in events)
        self.assert_books_equal_truth(venue, md, kept)
