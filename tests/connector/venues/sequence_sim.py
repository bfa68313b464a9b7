"""The sequence venue's simulator: every message numbered per connection, snapshots on subscribe.

A dropped diff (``faults.drop_diffs``) still uses up its number on every connection that
would have carried it, as a message lost on the way would: the client sees the jump on the
next message of any channel. A duplicated diff is the same frame, same number, twice.
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
from tests.connector.venues.common import SYMBOLS, TopTracker, TrueBook, true_book
from tests.connector.venues.sequence import (
    CHANNELS,
    MAX_OUTBOUND_PER_S,
    MAX_STREAMS_PER_CONNECTION,
    WS_PATH,
)

__all__ = ["SEQUENCE_SIM_SETTINGS", "SequenceSimVenue"]

SEQUENCE_SIM_SETTINGS = SimSettings(
    max_inbound_per_s=MAX_OUTBOUND_PER_S, max_streams=MAX_STREAMS_PER_CONNECTION
)
_BOOK, _TICKER, _TRADES = (CHANNELS[c] for c in Channel)


def _updates(bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]]) -> list[Any]:
    sides = [("bid", bids), ("offer", asks)]
    return [
        {"side": side, "price_level": fmt(price), "new_quantity": fmt(qty)}
        for side, levels in sides
        for price, qty in levels
    ]


class SequenceSimVenue(SimVenue):
    """The sequence venue on loopback."""

    def __init__(
        self,
        symbols: Sequence[SymbolSpec] = SYMBOLS,
        *,
        seed: int | str = 0,
        clock: Clock | None = None,
        settings: SimSettings = SEQUENCE_SIM_SETTINGS,
    ) -> None:
        super().__init__(Market(symbols, seed), name="sequence-sim", clock=clock, settings=settings)
        self._numbers: dict[StreamSession, int] = {}  # the next sequence_num per connection
        self._tops = TopTracker()

    def true_book(self, symbol: str) -> TrueBook:
        """Return the exact true book of ``symbol`` (every level)."""
        return true_book(self.market[symbol])

    def _now_ms(self) -> int:
        return self.clock.time_ns() // NS_PER_MS

    # -- numbered sending ----------------------------------------------------------------------
    def _send(self, session: StreamSession, body: dict[str, Any], *, twice: bool = False) -> None:
        number = self._numbers.get(session, 0)
        self._numbers[session] = number + 1
        frame = encode_text_frame(orjson.dumps({**body, "sequence_num": number}))
        session.send(frame)
        if twice:
            session.send(frame)

    def _publish(
        self, stream: str, body: dict[str, Any], drop: bool = False, twice: bool = False
    ) -> None:
        for session in list(self.sessions):
            if stream not in session.subscriptions:
                continue
            if drop:  # lost on the way: its number is used up all the same
                self._numbers[session] = self._numbers.get(session, 0) + 1
            else:
                self._send(session, body, twice=twice)

    # -- the market ----------------------------------------------------------------------------
    def on_tick(self) -> None:
        """Step every symbol; publish its l2 update, changed ticker and trades."""
        now = self._now_ms()
        for market in self.market.symbols.values():
            diff, trades = market.step(now)
            symbol = diff.symbol
            stream = f"{_BOOK}:{symbol}"
            if self.has_subscribers(stream):
                updates = _updates(diff.bids, diff.asks)
                event = {"type": "update", "product_id": symbol, "updates": updates}
                body = {"channel": "l2_data", "ts": now, "events": [event]}
                drop = self.faults.take_drop(symbol)
                self._publish(stream, body, drop, not drop and self.faults.take_duplicate(symbol))
            for trade in trades:
                side = "SELL" if trade.buyer_is_maker else "BUY"
                fields = {
                    "trade_id": str(trade.trade_id),
                    "product_id": symbol,
                    "ts": trade.time_ms,
                }
                fields.update(price=fmt(trade.price), size=fmt(trade.qty), side=side)
                body = {"channel": "market_trades", "events": [{"trades": [fields]}]}
                self._publish(f"{_TRADES}:{symbol}", body)
            self._ticker(market, now)

    def _ticker(self, market: SymbolMarket, now: int) -> None:
        top = self._tops.changed(market)
        if top is None:
            return
        (bid, bid_qty), (ask, ask_qty) = top
        event = {"product_id": market.symbol, "best_bid": fmt(bid), "best_ask": fmt(ask)}
        event.update(best_bid_quantity=fmt(bid_qty), best_ask_quantity=fmt(ask_qty))
        self._publish(
            f"{_TICKER}:{market.symbol}", {"channel": "ticker", "ts": now, "events": [event]}
        )

    def _snapshot(self, session: StreamSession, symbol: str) -> None:
        _, bids, asks = self.market[symbol].snapshot()
        event = {"type": "snapshot", "product_id": symbol, "updates": _updates(bids, asks)}
        self._send(session, {"channel": "l2_data", "ts": self._now_ms(), "events": [event]})

    # -- connections ---------------------------------------------------------------------------
    def shutdown_notice(self) -> tuple[str, bytes]:
        """Return the maintenance notice (unnumbered, sent on every connection)."""
        notice = {"channel": "status", "type": "maintenance", "ts": self._now_ms()}
        return "", orjson.dumps(notice)

    def open_session(self, session: StreamSession) -> list[str] | None:
        """Accept ``WS_PATH`` with no streams (they are subscribed live)."""
        if session.conn.path != WS_PATH:
            session.conn.close(1008, "unknown path")
            return None
        return []

    def on_client_message(self, session: StreamSession, kind: str, data: bytes) -> None:
        """Answer (un)subscribe by naming the streams; a level2 subscription gets a snapshot."""
        try:
            request = orjson.loads(data)
            method, channels = request["type"], dict(request["channels"])
            streams = [f"{ch}:{product}" for ch, ids in channels.items() for product in ids]
            known = all(product in self.market for ids in channels.values() for product in ids)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            self._error(session, "bad request")
            return
        if method not in ("subscribe", "unsubscribe") or not known:
            self._error(session, f"cannot {method} {streams}")
            return
        limit = self.settings.max_streams
        if method == "subscribe":
            new = [s for s in streams if s not in session.subscriptions]
            if limit is not None and len(session.subscriptions) + len(new) > limit:
                self._error(session, "too many subscriptions")
                return
            self.subscribe(session, streams)
        else:
            self.unsubscribe(session, streams)
        event = {"type": f"{method}d", "subscriptions": channels}
        self._send(session, {"channel": "subscriptions", "events": [event]})
        if method == "subscribe":
            for product in channels.get(_BOOK, ()):
                self._snapshot(session, product)

    def _error(self, session: StreamSession, message: str) -> None:
        session.send(encode_text_frame(orjson.dumps({"type": "error", "message": message})))
