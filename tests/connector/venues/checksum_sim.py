"""The checksum venue's simulator: top-25 books checksummed over their top 10, no acks.

Each tick the venue compares every symbol's new top 25 with the one it last published and
sends what changed: new or changed levels (those entering the top 25 from below included)
and levels that left the book; a level pushed below the top 25 is not deleted (the client
truncates), as on Kraken. A dropped update (``faults.drop_diffs``) shows up as a checksum
mismatch on the symbol's next update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from connectivity.connector.dialect import Channel
from connectivity.core.clock import NS_PER_MS, Clock
from connectivity.sim.market import Market, SymbolMarket, SymbolSpec, fmt
from connectivity.sim.session import StreamSession
from connectivity.sim.venue import SimSettings, SimVenue
from connectivity.sim.wsserver import encode_text_frame
from tests.connector.venues.checksum import (
    BOOK_DEPTH,
    CHANNELS,
    CHECKSUM_DEPTH,
    MAX_OUTBOUND_PER_S,
    MAX_STREAMS_PER_CONNECTION,
    WS_PATH,
    book_checksum,
)
from tests.connector.venues.common import SYMBOLS, TopTracker, TrueBook, true_book

__all__ = ["CHECKSUM_SIM_SETTINGS", "ChecksumSimVenue", "PAIRS"]

CHECKSUM_SIM_SETTINGS = SimSettings(
    max_inbound_per_s=MAX_OUTBOUND_PER_S, max_streams=MAX_STREAMS_PER_CONNECTION
)
PAIRS = tuple(SymbolSpec(s.symbol.replace("-", "/"), s.base, s.quote, mid=s.mid) for s in SYMBOLS)
_BOOK, _TICKER, _TRADES = (CHANNELS[c] for c in Channel)

Side = dict[int, int]  # price -> qty, the venue's published top levels of one side


def _rows(levels: Sequence[tuple[int, int]]) -> list[dict[str, str]]:
    return [{"price": fmt(price), "qty": fmt(qty)} for price, qty in levels]


def _changes(old: Side, new: Side, book: dict[int, int]) -> list[tuple[int, int]]:
    """Levels to send: new or changed in the top, and those gone from the book (qty 0)."""
    changed = [(price, qty) for price, qty in new.items() if old.get(price) != qty]
    return changed + [(price, 0) for price in old if price not in new and price not in book]


class ChecksumSimVenue(SimVenue):
    """The checksum venue on loopback."""

    def __init__(
        self,
        symbols: Sequence[SymbolSpec] = PAIRS,
        *,
        seed: int | str = 0,
        clock: Clock | None = None,
        settings: SimSettings = CHECKSUM_SIM_SETTINGS,
    ) -> None:
        super().__init__(Market(symbols, seed), name="checksum-sim", clock=clock, settings=settings)
        self._tops = TopTracker()
        self._published = {
            symbol: self._top(market) for symbol, market in self.market.symbols.items()
        }

    def true_book(self, symbol: str) -> TrueBook:
        """Return the exact book the venue publishes: its top 25 levels a side."""
        return true_book(self.market[symbol], BOOK_DEPTH)

    def _now_ms(self) -> int:
        return self.clock.time_ns() // NS_PER_MS

    @staticmethod
    def _top(market: SymbolMarket) -> tuple[Side, Side]:
        _, bids, asks = market.snapshot(BOOK_DEPTH)
        return dict(bids), dict(asks)

    @staticmethod
    def _checksum(top: tuple[Side, Side]) -> int:
        bids, asks = (list(side.items())[:CHECKSUM_DEPTH] for side in top)
        return book_checksum(bids, asks)

    def _broadcast_json(self, stream: str, body: dict[str, Any], twice: bool = False) -> None:
        payload = orjson.dumps(body)
        self.broadcast(stream, payload)
        if twice:
            self.broadcast(stream, payload)

    # -- the market ----------------------------------------------------------------------------
    def on_tick(self) -> None:
        """Step every symbol; publish its top-25 changes, changed ticker and trades."""
        now = self._now_ms()
        for symbol, market in self.market.symbols.items():
            _, trades = market.step(now)
            old, new = self._published[symbol], self._top(market)
            self._published[symbol] = new
            bids = _changes(old[0], new[0], market.bids)
            asks = _changes(old[1], new[1], market.asks)
            stream = f"{_BOOK}:{symbol}"
            if (
                (bids or asks)
                and self.has_subscribers(stream)
                and not self.faults.take_drop(symbol)
            ):
                data = {"symbol": symbol, "bids": _rows(bids), "asks": _rows(asks), "ts": now}
                data["checksum"] = self._checksum(new)
                body = {"channel": "book", "type": "update", "data": [data]}
                self._broadcast_json(stream, body, self.faults.take_duplicate(symbol))
            for trade in trades:
                side = "sell" if trade.buyer_is_maker else "buy"
                data = {"symbol": symbol, "side": side, "price": fmt(trade.price)}
                data.update(qty=fmt(trade.qty), trade_id=trade.trade_id, ts=trade.time_ms)
                self._broadcast_json(
                    f"{_TRADES}:{symbol}", {"channel": "trade", "type": "update", "data": [data]}
                )
            self._ticker(market, now)

    def _ticker(self, market: SymbolMarket, now: int) -> None:
        top = self._tops.changed(market)
        if top is None:
            return
        (bid, bid_qty), (ask, ask_qty) = top
        data = {"symbol": market.symbol, "bid": fmt(bid), "bid_qty": fmt(bid_qty), "ts": now}
        data.update(ask=fmt(ask), ask_qty=fmt(ask_qty))
        body = {"channel": "ticker", "type": "update", "data": [data]}
        self._broadcast_json(f"{_TICKER}:{market.symbol}", body)

    # -- connections ---------------------------------------------------------------------------
    def shutdown_notice(self) -> tuple[str, bytes]:
        """Return the maintenance notice (sent on every connection)."""
        data = {"system": "maintenance", "ts": self._now_ms()}
        return "", orjson.dumps({"channel": "status", "type": "update", "data": [data]})

    def open_session(self, session: StreamSession) -> list[str] | None:
        """Accept ``WS_PATH`` with no streams (they are subscribed live)."""
        if session.conn.path != WS_PATH:
            session.conn.close(1008, "unknown path")
            return None
        return []

    def on_client_message(self, session: StreamSession, kind: str, data: bytes) -> None:
        """Apply (un)subscribe silently; a book subscription gets its top-25 snapshot."""
        try:
            request = orjson.loads(data)
            method = request["method"]
            streams = [f"{p['channel']}:{s}" for p in request["params"] for s in p["symbol"]]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return  # the venue ignores what it cannot read (and says nothing)
        if method == "unsubscribe":
            self.unsubscribe(session, streams)
            return
        if method != "subscribe":
            return
        self.subscribe(session, streams)
        for stream in streams:
            channel, _, symbol = stream.partition(":")
            if channel == _BOOK and symbol in self.market:
                self._snapshot(session, symbol)

    def _snapshot(self, session: StreamSession, symbol: str) -> None:
        bids, asks = self._published[symbol]
        data = {"symbol": symbol, "bids": _rows(list(bids.items())), "ts": self._now_ms()}
        data.update(asks=_rows(list(asks.items())), checksum=self._checksum((bids, asks)))
        body = {"channel": "book", "type": "snapshot", "data": [data]}
        session.send(encode_text_frame(orjson.dumps(body)))
