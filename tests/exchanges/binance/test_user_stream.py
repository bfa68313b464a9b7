"""Binance user data over the WS-API on loopback: state merged, renewals, stream health."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from connectivity.connector.reconciler import Reconciler, ReconcilerConfig
from connectivity.connector.user_stream import UserStream
from connectivity.core.clock import ManualClock
from connectivity.core.models import Instrument, OrderRequest, OrderStatus, OrderType, Side
from connectivity.core.order_rules import ClientOrderIds
from connectivity.core.state import StateManager
from connectivity.runtime import Supervisor
from connectivity.sim.wsserver import WebSocketServer
from connectivity.transport.wsapi import WsApiClient
from exchanges.binance.symbols import SymbolMap
from exchanges.binance.user_stream import binance_user_stream
from tests.connector.test_reconciler import FakeAccount
from tests.exchanges.binance.test_wsapi import (
    HMAC_SIGNER,
    ScriptedVenue,
    hmac_check,
    start,
    wait_for,
)

SUBSCRIBE = "userDataStream.subscribe.signature"
INSTRUMENT = Instrument(
    "binance", "ETH-BTC", "ETHBTC", "ETH", "BTC", Decimal("0.00000001"), Decimal("0.0001")
)
CONFIG = ReconcilerConfig(fast_s=2, slow_s=60, silent_after_s=30)


class Account:
    """One account wired like the connector does: state, reconciler, user stream, WS-API."""

    def __init__(self, servers: list[WebSocketServer], clients: list[WsApiClient]) -> None:
        self.clock = ManualClock()
        self.venue = ScriptedVenue(hmac_check)
        self.subscriptions = 0

        def subscribe(conn: Any, request: dict[str, Any]) -> dict[str, Any]:
            self.subscriptions += 1
            return {"subscriptionId": self.subscriptions}

        self.venue.scripts[SUBSCRIBE] = subscribe
        self.state = StateManager(
            "binance", ClientOrderIds("bot", "p1-"), instruments={"ETH-BTC": INSTRUMENT}
        )
        self.reconciler = Reconciler(self.state, FakeAccount(), clock=self.clock, config=CONFIG)
        self.supervisor = Supervisor("account")
        self.stream: UserStream = binance_user_stream(
            self.state, SymbolMap([INSTRUMENT]), clock=self.clock, supervisor=self.supervisor,
            health=self.reconciler,
        )  # fmt: skip
        self.client = start(
            self.venue, servers, clients, HMAC_SIGNER, self.clock, user_stream=self.stream
        )

    def send(self, *events: dict[str, Any]) -> None:
        """Send events on the live connection and wait until the stream has taken them all."""
        expected = self.stream.stats["events"] + len(events)
        conn = self.venue.connections[-1]
        for event in events:
            conn.send_text(orjson.dumps({"subscriptionId": self.subscriptions, "event": event}))
        wait_for(lambda: self.stream.stats["events"] >= expected)

    def subscribe_log(self) -> list[int]:
        return [number for number, method, _ in self.venue.log if method == SUBSCRIBE]


@pytest.fixture
def account() -> Iterator[Account]:
    servers: list[WebSocketServer] = []
    clients: list[WsApiClient] = []
    made: list[Account] = []
    try:
        made.append(Account(servers, clients))
        yield made[0]
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.close()
        for each in made:
            each.supervisor.close()


def report(cid: str, x: str, status: str, cum: str, ts: int, seq: int, **kw: Any) -> dict[str, Any]:
    """An executionReport of order 7 (ETHBTC, BUY 1 @ 0.1) at transaction time ``ts``."""
    quote = str(Decimal(cum) * Decimal("0.1"))
    return {
        "e": "executionReport", "E": ts + 1, "s": "ETHBTC", "c": cid, "S": "BUY", "o": "LIMIT",
        "f": "GTC", "q": "1.00000000", "p": "0.10000000", "P": "0", "F": "0", "g": -1, "C": "",
        "x": x, "X": status, "r": "NONE", "i": 7, "l": "0", "z": cum, "L": "0", "n": "0",
        "N": None, "T": ts, "t": -1, "I": seq, "w": True, "m": False, "M": False, "O": 1000,
        "Z": quote, "Y": "0", "Q": "0", **kw,
    }  # fmt: skip


def trade(cid: str, status: str, last: str, cum: str, ts: int, trade_id: int) -> dict[str, Any]:
    """A maker fill of ``last`` at 0.1, fee 0.001 ETH per unit."""
    fee = str(Decimal(last) / 1000)
    kw = {"l": last, "L": "0.10000000", "t": trade_id, "n": fee, "N": "ETH", "m": True}
    return report(cid, "TRADE", status, cum, ts, trade_id + 100, **kw)


def position(u: int, **assets: tuple[str, str]) -> dict[str, Any]:
    entries = [{"a": a, "f": free, "l": locked} for a, (free, locked) in assets.items()]
    return {"e": "outboundAccountPosition", "E": u + 1, "u": u, "B": entries}


def test_fills_balances_duplicates_and_reordering_end_equal_to_the_venue(account: Account) -> None:
    state = account.state
    state.register(
        OrderRequest("botp1-1", "ETH-BTC", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal("0.1")),
        0,
    )
    new = report("botp1-1", "NEW", "NEW", "0", 1000, 1)
    partial = trade("botp1-1", "PARTIALLY_FILLED", "0.4", "0.4", 1001, 11)
    filled = trade("botp1-1", "FILLED", "0.6", "1.0", 1002, 12)
    account.send(
        new,
        filled,  # the venue's later report overtakes the earlier one
        partial,
        partial,  # duplicated
        new,
        position(1002, ETH=("1.0", "0"), BTC=("9.9", "0")),
        position(1001, ETH=("0.4", "0"), BTC=("9.94", "0.06")),  # older: ignored
        {"e": "balanceUpdate", "E": 1004, "a": "BTC", "d": "1.00000000", "T": 1003},
        {"e": "balanceUpdate", "E": 1004, "a": "BTC", "d": "1.00000000", "T": 1003},  # again
    )
    order = state.order("botp1-1")
    assert order is not None
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == Decimal("1.0")
    assert order.filled_quote == Decimal("0.1")
    assert order.venue_order_id == "7"
    assert order.fees == (("ETH", Decimal("0.001")),)  # each fill's fee counted once
    assert state.stats["duplicate_fill"] == 1
    assert state.balance("ETH").free == Decimal("1.0")
    assert state.balance("BTC").free == Decimal("10.9")
    assert state.balance("BTC").locked == Decimal(0)
    assert account.stream.errors.total() == 0


def test_cancel_reported_under_the_cancel_requests_id_settles_the_original_order(
    account: Account,
) -> None:
    request = OrderRequest("botp1-2", "ETH-BTC", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(1))
    account.state.register(request, 0)
    account.state.cancel_requested("botp1-2", 1)
    account.send(
        report("botp1-2", "NEW", "NEW", "0", 1000, 1),
        report("botp1p-cx", "CANCELED", "CANCELED", "0", 1001, 2, C="botp1-2"),
    )
    order = account.state.order("botp1-2")
    assert order is not None and order.status is OrderStatus.CANCELED
    assert account.state.order("botp1p-cx") is None


def test_malformed_and_unknown_events_are_counted_and_the_stream_goes_on(
    account: Account,
) -> None:
    account.state.register(
        OrderRequest("botp1-3", "ETH-BTC", Side.SELL, OrderType.LIMIT, Decimal(1), Decimal(1)), 0
    )
    conn = account.venue.connections[-1]
    conn.send_text(orjson.dumps({"subscriptionId": 1, "event": {"e": "executionReport"}}))
    conn.send_text(orjson.dumps({"subscriptionId": 1, "event": {"e": "brandNew", "E": 1}}))
    account.send({**report("botp1-3", "NEW", "NEW", "0", 1000, 1), "S": "SELL"})
    assert account.stream.errors["ParseError"] == 1
    assert account.stream.errors["UnknownEnumValue"] == 1
    order = account.state.order("botp1-3")
    assert order is not None and order.status is OrderStatus.NEW


def test_event_stream_terminated_resubscribes_on_the_same_connection(account: Account) -> None:
    assert account.stream.is_subscribed and account.reconciler.interval() == CONFIG.slow_s
    account.send({"e": "eventStreamTerminated", "E": 1728973001334})
    wait_for(lambda: account.stream.stats["resubscribed"] == 1)
    assert account.subscribe_log() == [1, 1]  # renewed on connection 1, no reconnect
    assert len(account.venue.connections) == 1
    assert account.stream.is_subscribed and account.reconciler.interval() == CONFIG.slow_s
    assert account.venue.bad_signatures == 0


def test_disconnect_speeds_reconciliation_until_the_reconnect_resubscribes(
    account: Account,
) -> None:
    account.venue.connections[0].abort()
    wait_for(lambda: not account.stream.is_subscribed)
    assert account.reconciler.interval() == CONFIG.fast_s
    account.clock.advance(1.0)  # the reconnect backoff
    wait_for(lambda: account.stream.is_subscribed)
    assert account.subscribe_log() == [1, 2]
    assert account.reconciler.interval() == CONFIG.slow_s
    account.state.register(
        OrderRequest("botp1-4", "ETH-BTC", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(1)), 0
    )
    account.send(report("botp1-4", "NEW", "NEW", "0", 1000, 1))  # events flow on connection 2
    order = account.state.order("botp1-4")
    assert order is not None and order.status is OrderStatus.NEW


def test_a_silent_stream_speeds_reconciliation_without_reconnecting(account: Account) -> None:
    account.clock.advance(CONFIG.silent_after_s + 1)
    assert account.reconciler.interval() == CONFIG.fast_s
    assert len(account.venue.connections) == 1 and account.stream.is_subscribed
    account.send(position(1000, BTC=("1", "0")))
    assert account.reconciler.interval() == CONFIG.slow_s


def test_server_shutdown_rollover_keeps_the_stream_up_and_subscribed_on_the_new_connection(
    account: Account,
) -> None:
    account.send({"e": "serverShutdown", "E": 1})
    wait_for(lambda: account.client.connection.stats.rollovers == 1)
    assert account.subscribe_log() == [1, 2]
    assert account.stream.stats["disconnected"] == 0 and account.stream.is_subscribed
    assert account.reconciler.interval() == CONFIG.slow_s
    account.state.register(
        OrderRequest("botp1-5", "ETH-BTC", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(1)), 0
    )
    account.send(report("botp1-5", "NEW", "NEW", "0", 1000, 1))  # on connection 2
    order = account.state.order("botp1-5")
    assert order is not None and order.status is OrderStatus.NEW
