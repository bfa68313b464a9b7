"""The template venue's wire dialect of the simulated venue (REQUIRED for the contract suite).

:class:`TemplateSimVenue` serves the snapshot over REST and the book, ticker and trade
channels over a websocket whose streams are subscribed live, in exactly the shapes
``parsers`` reads; :class:`~connectivity.sim.venue.SimVenue` brings the servers, the market
loop, broadcasting and the connection faults. Required hooks: :meth:`on_tick`,
:meth:`open_session`, :meth:`on_client_message`; optional: :meth:`shutdown_notice` (when the
venue announces maintenance), :meth:`encode` (when it wraps payloads in an envelope).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs
import orjson

from connectivity.core.clock import NS_PER_MS, Clock
from connectivity.core.decimal import fixed_to_decimal
from connectivity.sim.http import HttpRequest, HttpResponse, json_response
from connectivity.sim.market import SCALE, Market, SymbolMarket, SymbolSpec, fmt
from connectivity.sim.session import StreamSession
from connectivity.sim.venue import SimSettings, SimVenue
from connectivity.sim.wsserver import encode_text_frame
from exchanges._template.constants import (
    BOOK_STREAM,
    MAINTENANCE_EVENT,
    MAX_OUTBOUND_PER_S,
    MAX_STREAMS_PER_CONNECTION,
    SNAPSHOT_PATH,
    TOP_OF_BOOK_STREAM,
    TRADES_STREAM,
    WS_PATH,
)

__all__ = ["TEMPLATE_SIM_SETTINGS", "TemplateSimVenue", "TrueBook"]

TEMPLATE_SIM_SETTINGS = SimSettings(
    max_inbound_per_s=MAX_OUTBOUND_PER_S, max_streams=MAX_STREAMS_PER_CONNECTION
)
SYMBOLS = (
    SymbolSpec("BTCUSD", "BTC", "USD", mid="60000"),
    SymbolSpec("ETHUSD", "ETH", "USD", mid="3000"),
    SymbolSpec("SOLUSD", "SOL", "USD", mid="150"),
)


@attrs.frozen
class TrueBook:
    """The simulator's exact book of one symbol at ``update_id`` (best levels first)."""

    update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


def _rows(levels: Sequence[tuple[int, int]]) -> list[list[str]]:
    return [[fmt(price), fmt(qty)] for price, qty in levels]


class TemplateSimVenue(SimVenue):
    """The template venue on loopback."""

    def __init__(
        self,
        symbols: Sequence[SymbolSpec] = SYMBOLS,
        *,
        seed: int | str = 0,
        clock: Clock | None = None,
        settings: SimSettings = TEMPLATE_SIM_SETTINGS,
    ) -> None:
        super().__init__(Market(symbols, seed), name="template-sim", clock=clock, settings=settings)
        self._tops: dict[str, Any] = {}
        self.http.route("GET", SNAPSHOT_PATH, self._snapshot)

    def true_book(self, symbol: str) -> TrueBook:
        """Return the exact true book of ``symbol``."""
        update_id, bids, asks = self.market[symbol].snapshot()
        exact = [
            [(fixed_to_decimal(p, SCALE), fixed_to_decimal(q, SCALE)) for p, q in side]
            for side in (bids, asks)
        ]
        return TrueBook(update_id, tuple(exact[0]), tuple(exact[1]))

    def _now_ms(self) -> int:
        return self.clock.time_ns() // NS_PER_MS

    def on_tick(self) -> None:
        """Step every symbol; publish its book delta, changed top of book and trades."""
        for market in self.market.symbols.values():
            diff, trades = market.step(self._now_ms())
            symbol = diff.symbol
            book = BOOK_STREAM.format(symbol=symbol)
            if self.has_subscribers(book) and not self.faults.take_drop(symbol):
                body = {"ch": book, "first": diff.first_id, "last": diff.last_id}
                body.update(ts=diff.event_time_ms, bids=_rows(diff.bids), asks=_rows(diff.asks))
                payload = orjson.dumps(body)
                self.broadcast(book, payload)
                if self.faults.take_duplicate(symbol):
                    self.broadcast(book, payload)
            channel = TRADES_STREAM.format(symbol=symbol)
            for trade in trades:
                side = "sell" if trade.buyer_is_maker else "buy"
                body = {"ch": channel, "id": trade.trade_id, "px": fmt(trade.price)}
                body.update(qty=fmt(trade.qty), side=side, ts=trade.time_ms)
                self.broadcast(channel, orjson.dumps(body))
            self._ticker(market)

    def _ticker(self, market: SymbolMarket) -> None:
        bid, ask = market.best_bid(), market.best_ask()
        if not bid or not ask or self._tops.get(market.symbol) == (bid, ask):
            return
        self._tops[market.symbol] = (bid, ask)
        channel = TOP_OF_BOOK_STREAM.format(symbol=market.symbol)
        body = {"ch": channel, "u": market.update_id, "ts": self._now_ms()}
        body.update(bid=[fmt(bid[0]), fmt(bid[1])], ask=[fmt(ask[0]), fmt(ask[1])])
        self.broadcast(channel, orjson.dumps(body))

    def shutdown_notice(self) -> tuple[str, bytes]:
        """Return the maintenance notice (sent on every connection)."""
        return "", orjson.dumps({"event": MAINTENANCE_EVENT, "ts": self._now_ms()})

    def open_session(self, session: StreamSession) -> list[str] | None:
        """Accept ``WS_PATH`` with no initial streams (they are subscribed live)."""
        if session.conn.path != WS_PATH:
            session.conn.close(1008, "unknown path")
            return None
        return []

    def on_client_message(self, session: StreamSession, kind: str, data: bytes) -> None:
        """Answer ``subscribe`` / ``unsubscribe`` with ``{"id": n, "ok": true}`` or an error."""
        try:
            request = orjson.loads(data)
            op, streams, request_id = request["op"], list(request["args"]), request["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._reply(session, {"error": {"code": 400, "msg": "bad request"}})
            return
        limit = self.settings.max_streams
        if op == "subscribe":
            new = [s for s in streams if s not in session.subscriptions]
            if limit is not None and len(session.subscriptions) + len(new) > limit:
                self._reply(session, {"id": request_id, "error": {"code": 429, "msg": "too many"}})
                return
            self.subscribe(session, new)
        elif op == "unsubscribe":
            self.unsubscribe(session, streams)
        else:
            self._reply(session, {"id": request_id, "error": {"code": 400, "msg": "unknown op"}})
            return
        self._reply(session, {"id": request_id, "ok": True})

    @staticmethod
    def _reply(session: StreamSession, body: dict[str, Any]) -> None:
        session.send(encode_text_frame(orjson.dumps(body)))

    def _snapshot(self, request: HttpRequest) -> HttpResponse:
        symbol = request.query.get("symbol", "")
        if symbol not in self.market:
            return json_response({"code": 400, "msg": "unknown symbol"}, 400)
        if self.faults.take_snapshot_error(symbol):
            return json_response({"code": 503, "msg": "overloaded"}, 503)
        limit = int(request.query.get("limit", "1000"))
        update_id, bids, asks = self.market[symbol].snapshot(limit)
        return json_response({"last": update_id, "bids": _rows(bids), "asks": _rows(asks)})
