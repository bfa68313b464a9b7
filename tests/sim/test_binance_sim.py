"""The simulated Binance venue speaks Binance's REST and stream dialect on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs
import gevent
import orjson
import pytest
import requests
import websocket

from connectivity.core.clock import ManualClock
from connectivity.sim.faults import FaultKnobs
from exchanges.binance.sim import BINANCE_SIM_SETTINGS, BinanceSimVenue, depth_weight


@pytest.fixture
def venue() -> Iterator[BinanceSimVenue]:
    with BinanceSimVenue(seed=5, settings=attrs.evolve(BINANCE_SIM_SETTINGS, tick_s=0.005)) as sim:
        yield sim


def _connect(url: str) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=5)


def _json(ws: websocket.WebSocket) -> Any:
    return orjson.loads(ws.recv())


def test_rest_time_exchange_info_and_depth_have_binance_shapes_and_weights() -> None:
    # A ManualClock: the weight counts per calendar minute, which must not roll over mid-test.
    with BinanceSimVenue(seed=5, clock=ManualClock()) as venue, requests.Session() as http:
        time = http.get(venue.rest_url + "/api/v3/time", timeout=5)
        info = http.get(venue.rest_url + "/api/v3/exchangeInfo?symbol=BTCUSDT", timeout=5)
        depth = http.get(venue.rest_url + "/api/v3/depth?symbol=BTCUSDT&limit=500", timeout=5)
        bad = http.get(venue.rest_url + "/api/v3/depth?symbol=NOPE", timeout=5)
    assert set(time.json()) == {"serverTime"}
    assert time.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    (symbol,) = info.json()["symbols"]
    filters = {f["filterType"]: f for f in symbol["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    body = depth.json()
    assert set(body) == {"lastUpdateId", "bids", "asks"}
    assert isinstance(body["lastUpdateId"], int)
    assert body["bids"][0][0] > body["bids"][1][0] and body["asks"][0] < body["asks"][1]
    assert depth.headers["X-MBX-USED-WEIGHT-1M"] == str(1 + 20 + depth_weight(500))
    assert bad.status_code == 400 and bad.json() == {"code": -1121, "msg": "Invalid symbol."}


def test_combined_depth_stream_rebuilds_the_true_book_from_a_snapshot(
    venue: BinanceSimVenue,
) -> None:
    ws = _connect(venue.ws_url + "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker")
    try:
        tickers = 0
        first = _json(ws)
        while first["stream"] != "btcusdt@depth@100ms":
            tickers += 1
            first = _json(ws)
        snap = requests.get(venue.rest_url + "/api/v3/depth?symbol=BTCUSDT&limit=5000", timeout=5)
        book_id = snap.json()["lastUpdateId"]
        assert book_id >= first["data"]["U"]
        bids = {Decimal(p): Decimal(q) for p, q in snap.json()["bids"]}
        asks = {Decimal(p): Decimal(q) for p, q in snap.json()["asks"]}
        events = [first["data"]]
        target = None
        while True:
            if target is None and len(events) >= 50 and tickers:
                venue.freeze()
                target = venue.true_book("BTCUSDT").update_id
            if target is not None and events[-1]["u"] >= target:
                break
            message = _json(ws)
            if message["stream"] == "btcusdt@bookTicker":
                assert set(message["data"]) == {"u", "s", "b", "B", "a", "A"}
                tickers += 1
            else:
                events.append(message["data"])
        for event in events:
            assert set(event) == {"e", "E", "s", "U", "u", "b", "a"}
            if event["u"] <= book_id:
                continue
            assert event["U"] == book_id + 1
            for side, levels in ((bids, event["b"]), (asks, event["a"])):
                for price, qty in levels:
                    if Decimal(qty):
                        side[Decimal(price)] = Decimal(qty)
                    else:
                        side.pop(Decimal(price), None)
            book_id = event["u"]
        true = venue.true_book("BTCUSDT")
        assert book_id == true.update_id
        assert sorted(bids.items(), reverse=True) == list(true.bids)
        assert sorted(asks.items()) == list(true.asks)
    finally:
        ws.close()


def test_live_subscribe_list_and_unsubscribe_are_acknowledged(venue: BinanceSimVenue) -> None:
    ws = _connect(venue.ws_url + "/ws")
    try:
        ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 1}))
        ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": "x2"}))
        replies: list[Any] = []
        while len(replies) < 2:
            message = _json(ws)
            if "id" in message:
                replies.append(message)
            else:
                assert message["e"] == "trade" and message["s"] == "ETHUSDT"  # raw, no envelope
        assert replies == [{"result": None, "id": 1}, {"result": ["ethusdt@trade"], "id": "x2"}]
        ws.send(orjson.dumps({"method": "BOGUS", "id": 3}))
        while "id" not in (message := _json(ws)):
            pass
        assert message["error"]["code"] == 2 and message["id"] == 3
    finally:
        ws.close()


def test_more_than_five_messages_a_second_gets_the_connection_closed(
    venue: BinanceSimVenue,
) -> None:
    ws = _connect(venue.ws_url + "/ws")
    try:
        for i in range(7):
            ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            for _ in range(20):
                ws.recv()
    finally:
        ws.close()


def test_server_shutdown_is_announced_then_the_connection_closes(venue: BinanceSimVenue) -> None:
    venue.settings = attrs.evolve(venue.settings, shutdown_grace_s=0.05)
    ws = _connect(venue.ws_url + "/stream?streams=bnbbtc@aggTrade")
    try:
        with gevent.Timeout(5):
            while not venue.sessions:
                gevent.sleep(0.01)
        assert venue.server_shutdown() == 1
        seen = []
        while raw := ws.recv():  # "" once the venue's close frame arrives
            seen.append(orjson.loads(raw))
        (notice,) = [m for m in seen if m["stream"] == "!serverShutdown"]
        assert set(notice["data"]) == {"e", "E"} and notice["data"]["e"] == "serverShutdown"
    finally:
        ws.close()


def test_stalled_connection_sends_no_data_but_still_answers_pings(
    venue: BinanceSimVenue,
) -> None:
    ws = _connect(venue.ws_url + "/ws/btcusdt@depth@100ms")
    try:
        _json(ws)
        with gevent.Timeout(5):
            while not venue.sessions:
                gevent.sleep(0.01)
        venue.stall()
        ws.settimeout(0.2)
        with pytest.raises(websocket.WebSocketTimeoutException):
            for _ in range(10_000):  # drain what was already queued, then silence
                ws.recv()
        ws.ping(b"hi")
        ws.settimeout(2)
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_PONG and frame.data == b"hi"
    finally:
        ws.close()


def test_a_client_that_never_answers_pings_is_disconnected_after_the_pong_timeout() -> None:
    with BinanceSimVenue(
        settings=attrs.evolve(
            BINANCE_SIM_SETTINGS, tick_s=1.0, ping_interval_s=0.05, pong_timeout_s=0.2
        )
    ) as sim:
        ws = _connect(sim.ws_url + "/ws")  # we never read, so websocket-client never pongs
        try:
            with gevent.Timeout(5):
                while sim.connections_accepted == 0 or sim.sessions:
                    gevent.sleep(0.01)
        finally:
            ws.close()


def test_fault_knobs_are_one_shot_per_symbol_and_reset_turns_them_off() -> None:
    knobs = FaultKnobs(symbol="BTCUSDT", drop_diffs=1, duplicate_diffs=1, flood_diffs=5)
    assert not knobs.take_drop("ETHUSDT")
    assert knobs.take_drop("BTCUSDT") and not knobs.take_drop("BTCUSDT")
    assert knobs.take_duplicate("BTCUSDT") and knobs.duplicated == 1
    assert knobs.take_flood() == 5 and knobs.take_flood() == 0
    knobs.stale_snapshots = 3
    knobs.reset()
    assert not knobs.take_stale_snapshot("BTCUSDT") and knobs.dropped == 1


def test_the_1000ms_depth_stream_merges_ticks_into_contiguous_update_id_ranges(
    venue: BinanceSimVenue,
) -> None:
    ws = _connect(venue.ws_url + "/ws/ethusdt@depth")
    try:
        events = [_json(ws) for _ in range(3)]
    finally:
        ws.close()
    for before, after in itertools.pairwise(events):
        assert after["U"] == before["u"] + 1
        assert after["u"] - after["U"] + 1 >= 10  # at least one action per merged tick
