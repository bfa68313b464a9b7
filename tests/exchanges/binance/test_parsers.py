from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectivity.core.book import BookDelta, BookSnapshot
from connectivity.core.book_sync import BookSync
from connectivity.core.models import Side
from connectivity.errors import ParseError, UnknownEnumValue
from exchanges.binance.constants import (
    BOOK_INTEGRITY,
    BOOK_SEQUENCE_RULE,
    SNAPSHOT_LIMIT_MAX,
    SNAPSHOT_MAX_LEVELS,
    TIME_UNIT_NS,
)
from exchanges.binance.parsers import (
    BookTicker,
    DepthFed,
    PublicTrade,
    ServerShutdown,
    WsError,
    WsResponse,
    clean_frame,
    feed_frame,
    parse_book_ticker,
    parse_data,
    parse_depth_snapshot,
    parse_depth_update,
    parse_frame,
    parse_server_shutdown,
    parse_trade,
    parse_ws_response,
)

FIXTURES = Path(__file__).parent / "fixtures"
MS = 1_000_000


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().strip()


def test_recorded_combined_depth_update_parses_to_exact_ints() -> None:
    delta = parse_frame(fixture("depth_update_combined.json"), ts_recv=42)
    assert delta == BookDelta(
        "NKNUSDT",
        499869750,
        499869752,
        [
            (35_130_000, 619_500_000_000),
            (34_750_000, 554_800_000_000),
            (34_640_000, 622_200_000_000),
        ],
        [],
        1633998512068 * MS,
        42,
    )


def test_recorded_delete_level_has_quantity_zero() -> None:
    delta = parse_frame(fixture("depth_update_delete.json"), 1)
    assert isinstance(delta, BookDelta)
    assert delta.bids == [(624_800_000, 9_140_000_000), (608_400_000, 0)]


def test_documented_raw_depth_update_with_short_decimals_parses_exactly() -> None:
    delta = parse_frame(fixture("depth_update_raw.json"), 7)
    assert isinstance(delta, BookDelta)
    assert (delta.symbol, delta.first_id, delta.last_id) == ("BNBBTC", 157, 160)
    assert delta.bids == [(240_000, 1_000_000_000)]
    assert delta.asks == [(260_000, 10_000_000_000)]


def test_str_and_bytes_frames_parse_identically() -> None:
    raw = fixture("depth_update_combined.json")
    assert parse_frame(raw, 1) == parse_frame(raw.decode(), 1)
    assert parse_frame(bytearray(raw), 1) == parse_frame(raw, 1)


def test_microsecond_time_unit_scales_event_time() -> None:
    data = orjson.loads(fixture("depth_update_raw.json"))
    delta = parse_depth_update(data, 0, TIME_UNIT_NS["MICROSECOND"])
    assert delta.ts_event == 1672515782136 * 1_000


def test_recorded_depth_snapshot_parses_with_update_id() -> None:
    snapshot = parse_depth_snapshot(fixture("depth_snapshot.json"), "RUNEEUR", 9)
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.last_id == 15602511
    assert snapshot.bids[0] == (625_100_000, 6_930_000_000)
    assert snapshot.asks[-1] == (628_500_000, 4_770_000_000)
    assert snapshot.ts_recv == 9 and snapshot.ts_event == 0


def test_partial_depth_takes_its_symbol_from_the_stream_name() -> None:
    snapshot = parse_frame(fixture("partial_depth_combined.json"), 3)
    assert isinstance(snapshot, BookSnapshot)
    assert (snapshot.symbol, snapshot.last_id) == ("BNBBTC", 160)


def test_recorded_book_ticker_parses() -> None:
    ticker = parse_frame(fixture("book_ticker_combined.json"), 5)
    assert ticker == BookTicker(
        "NKNUSDT", 499869768, 35_210_000, 67_200_000_000, 35_260_000, 319_900_000_000, 5
    )
    raw = parse_frame(fixture("book_ticker_raw.json"), 5)
    assert isinstance(raw, BookTicker) and raw.symbol == "BNBUSDT"


def test_recorded_agg_trade_parses_with_aggressor_side() -> None:
    trade = parse_frame(fixture("agg_trade_combined.json"), 8)
    assert trade == PublicTrade(
        "NKNUSDT",
        15683430,
        35_280_000,
        5_800_000_000,
        Side.BUY,  # m=false: the buyer was the taker
        1633998523963 * MS,
        1633998523963 * MS,
        8,
        True,
        19862790,
        19862790,
    )


def test_documented_trade_with_buyer_maker_is_a_sell() -> None:
    trade = parse_frame(fixture("trade.json"), 1)
    assert isinstance(trade, PublicTrade)
    assert (trade.trade_id, trade.aggressor, trade.aggregate) == (12345, Side.SELL, False)
    assert trade.first_trade_id is None


def test_server_shutdown_parses_raw_and_combined() -> None:
    expected = ServerShutdown(1747987200000 * MS, 2)
    assert parse_frame(fixture("server_shutdown.json"), 2) == expected
    assert parse_frame(fixture("server_shutdown_combined.json"), 2) == expected


def test_control_replies_parse_to_results_and_errors() -> None:
    assert parse_frame(fixture("subscribe_ack.json"), 0) == WsResponse(1, None)
    assert parse_frame(fixture("list_subscriptions.json"), 0) == WsResponse(3, ["btcusdt@aggTrade"])
    error = parse_frame(fixture("ws_error.json"), 0)
    assert error == WsError(None, 2, "Invalid request: request ID must be an unsigned integer")
    nested = parse_ws_response({"error": {"code": 0, "msg": "Unknown property"}, "id": "a1"})
    assert nested == WsError("a1", 0, "Unknown property")


def test_unknown_event_type_raises_unknown_enum_value() -> None:
    with pytest.raises(UnknownEnumValue, match="kline"):
        parse_frame(fixture("kline_combined.json"), 0)


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[1, 2]",
        b'{"stream": 5, "data": {}}',
        b'{"stream": "x@depth"}',
        b'{"foo": 1}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":"1","u":2,"b":[],"a":[]}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":3,"u":2,"b":[],"a":[]}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1.0"]],"a":[]}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1.0","x"]],"a":[]}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1.00000000","-1.00000000"]],"a":[]}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[[1.5,"1.00000000"]],"a":[]}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[],"a":[["1.00000000",2]]}',
        b'{"e":"depthUpdate","E":true,"s":"X","U":1,"u":2,"b":[],"a":[]}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"a":[]}',
        b'{"e":"trade","E":1,"s":"X","t":1,"p":"1","q":"1","T":1,"m":"yes"}',
        b'{"e":"serverShutdown"}',
        b'{"u":1,"s":"X","b":"1","B":"1","a":"x","A":"1"}',
        b'{"result":null,"id":[1]}',
        b'{"code":"2","msg":"bad"}',
    ],
)
def test_malformed_messages_raise_parse_error(payload: bytes) -> None:
    with pytest.raises(ParseError):
        parse_frame(payload, 0)


@pytest.mark.parametrize(
    "qty",
    [
        "1_0.00000000",  # int() would take the underscore
        " 1.00000000",  # or the space
        "+1.00000000",  # or the sign
        "1.2.45678901",  # two dots
        "\\u0661.00000000",  # an escaped Arabic-Indic digit (int() reads it as 1)
    ],
)
def test_quantity_fast_path_never_accepts_what_a_strict_parse_refuses(qty: str) -> None:
    head = '{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1.00000000","'
    frame = (head + qty + '"]],"a":[]}').encode()
    with pytest.raises(ParseError):
        parse_frame(frame, 0)


@pytest.mark.parametrize("byte", range(256))
def test_clean_frame_refuses_exactly_non_ascii_and_what_int_would_tolerate(byte: int) -> None:
    frame = b'{"b":[["1.00000000","2.0000000' + bytes([byte]) + b'"]]}'
    if byte < 32:
        # A raw control character inside a JSON string: orjson refuses the frame before any
        # fast path could see it (clean_frame is only asked about frames orjson accepted).
        with pytest.raises(ParseError):
            parse_frame(frame.replace(b'{"b"', b'{"e":"depthUpdate","b"'), 0)
        return
    # '{' too: an object among the rows (it may only open the frame or a combined "data")
    assert clean_frame(frame) is (byte < 128 and chr(byte) not in "_+- \\{")
    assert clean_frame(bytearray(frame)) is clean_frame(frame)


def test_clean_frame_detects_characters_int_would_tolerate() -> None:
    assert clean_frame(b'{"b":[["1.00000000","2.00000000"]]}')
    assert not clean_frame(b'{"b": [["1.00000000","2.00000000"]]}')
    assert not clean_frame('{"s":"\u00e9"}'.encode())


def test_parse_data_routes_an_already_decoded_payload() -> None:
    data = orjson.loads(fixture("trade.json"))
    assert isinstance(parse_data(data, 0), PublicTrade)
    assert isinstance(parse_trade(data, 0), PublicTrade)
    assert isinstance(
        parse_book_ticker(orjson.loads(fixture("book_ticker_raw.json")), 0), BookTicker
    )
    assert parse_server_shutdown({"E": 2}, 0).ts_event == 2 * MS
    with pytest.raises(ParseError):
        parse_data("text", 0)


def test_unknown_trade_kind_is_an_unknown_enum_value() -> None:
    with pytest.raises(UnknownEnumValue):
        parse_trade({"e": "blockTrade", "m": True}, 0)


def _levels(draw_prices: list[int], draw_qtys: list[int]) -> list[list[str]]:
    return [
        [f"{p // 10**8}.{p % 10**8:08d}", f"{q // 10**8}.{q % 10**8:08d}"]
        for p, q in zip(draw_prices, draw_qtys, strict=False)
    ]


amounts = st.lists(st.integers(0, 10**15), min_size=0, max_size=8)


@given(amounts, amounts, st.booleans())
def test_fast_and_strict_paths_agree_on_any_8_decimal_levels(
    prices: list[int], qtys: list[int], combined: bool
) -> None:
    data = {
        "e": "depthUpdate",
        "E": 1,
        "s": "X",
        "U": 1,
        "u": 1,
        "b": _levels(prices, qtys),
        "a": _levels(qtys, prices),
    }
    raw = orjson.dumps({"stream": "x@depth", "data": data} if combined else data)
    fast = parse_frame(raw, 0)
    strict = parse_depth_update(orjson.loads(raw)["data"] if combined else orjson.loads(raw), 0)
    assert fast == strict
    assert isinstance(fast, BookDelta)
    assert fast.bids == list(zip(prices, qtys, strict=False))


# -- feed_frame: the one-pass hot path into BookSync ------------------------------------------


def live_sync() -> BookSync:
    sync = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE)
    sync.on_snapshot(
        "NKNUSDT", BookSnapshot("NKNUSDT", 499869751, [(35_000_000, 1)], [(36_000_000, 1)], 0, 0)
    )
    return sync


def test_feed_frame_applies_a_recorded_diff_and_reports_it() -> None:
    sync = live_sync()
    fed = feed_frame(fixture("depth_update_combined.json"), 9, sync)
    assert fed == DepthFed("NKNUSDT", 499869750, 499869752, 1633998512068 * MS, False)
    assert sync.is_valid("NKNUSDT")
    assert sync.book("NKNUSDT").bid_quantity(35_130_000) == 619_500_000_000


def test_feed_frame_takes_the_strict_path_for_frames_that_are_not_clean() -> None:
    raw = fixture("depth_update_combined.json")
    spaced = raw.replace(b'"b":', b'"b": ')  # valid JSON, but not clean
    one, two = live_sync(), live_sync()
    feed_frame(raw, 1, one)
    feed_frame(spaced, 1, two)
    feed_frame(raw.decode(), 1, two)  # str frames are never clean either
    assert one.book("NKNUSDT").bids() == two.book("NKNUSDT").bids()


def test_feed_frame_returns_other_messages_parsed() -> None:
    sync = live_sync()
    assert isinstance(feed_frame(fixture("book_ticker_combined.json"), 1, sync), BookTicker)
    assert feed_frame(fixture("subscribe_ack.json"), 1, sync) == WsResponse(1, None)


def test_feed_frame_refuses_unsubscribed_symbols_and_bad_headers() -> None:
    sync = live_sync()
    with pytest.raises(UnknownEnumValue):
        feed_frame(fixture("depth_update_combined.json"), 1, sync, symbols={"BTCUSDT"})
    for payload in (
        b"{oops",
        b'{"stream":"x","data":null}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[]}',
        b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":{},"a":[]}',
    ):
        with pytest.raises(ParseError):
            feed_frame(payload, 1, sync)


@given(st.lists(st.tuples(amounts, amounts), min_size=1, max_size=15))
def test_feed_frame_and_parse_frame_build_identical_books(
    updates: list[tuple[list[int], list[int]]],
) -> None:
    one = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE, check_crossed=False)
    two = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE, check_crossed=False)
    for sync in (one, two):
        sync.on_snapshot("X", BookSnapshot("X", 0, [], [], 0, 0))
    # id 0 is covered by the snapshot (and opens the book); ids 1.. are applied
    for index, (bids, asks) in enumerate([([], []), *updates]):
        data = {
            "e": "depthUpdate",
            "E": 1,
            "s": "X",
            "U": index,
            "u": index,
            "b": _levels(bids, asks),
            "a": _levels(asks, bids),
        }
        raw = orjson.dumps(data)
        feed_frame(raw, 0, one)
        delta = parse_frame(raw, 0)
        assert isinstance(delta, BookDelta)
        two.on_delta("X", delta, 0)
        assert one.book("X").bids() == two.book("X").bids()
        assert one.book("X").asks() == two.book("X").asks()
    assert one.is_valid("X") and two.is_valid("X")


@pytest.mark.parametrize(
    "row", [b'["1.00000000",5]', b'[1,"1.00000000"]', b'["1.00000000"]', b'"ab"']
)
def test_feed_frame_raises_parse_error_for_bad_rows_while_buffering(row: bytes) -> None:
    sync = BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE)  # no snapshot yet: the diff is buffered
    frame = b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[' + row + b'],"a":[]}'
    with pytest.raises(ParseError):
        feed_frame(frame, 0, sync)


# -- a depth row is a two-element array of decimal strings, nothing else ----------------------

STRING_ROW = (
    b'{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":499869752,"u":499869753,"b":["97"],"a":[]}'
)
OBJECT_ROW = (
    b'{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":499869752,"u":499869753,'
    b'"b":[{"0.97000000":"1","1.00000000":"2"}],"a":[]}'
)


def _unclean(raw: bytes) -> bytes:
    return raw.replace(b'"b":', b'"b": ')  # the same JSON, through the strict path


@pytest.mark.parametrize(
    "raw", [STRING_ROW, _unclean(STRING_ROW), OBJECT_ROW, _unclean(OBJECT_ROW)]
)
def test_a_depth_row_that_is_not_an_array_is_a_parse_error_not_a_level(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parse_frame(raw, 0)
    with pytest.raises(ParseError):
        parse_frame(b'{"stream":"nknusdt@depth","data":' + raw + b"}", 0)
    with pytest.raises(ParseError):
        parse_depth_update(orjson.loads(raw), 0)
    sync = live_sync()
    feed_frame(fixture("depth_update_combined.json"), 1, sync)  # live at id 499869752
    before = sync.book("NKNUSDT").bids()
    with pytest.raises(ParseError):
        feed_frame(raw, 2, sync)
    with pytest.raises(ParseError):
        feed_frame(raw, 1, BookSync(BOOK_INTEGRITY, BOOK_SEQUENCE_RULE))  # while buffering
    assert sync.book("NKNUSDT").bids() == before  # nothing of the row was applied


@pytest.mark.parametrize("bids", [b'["97"]', b'[{"9":"1","7":"2"}]', b'{"97":"1"}', b'"97"'])
def test_a_snapshot_whose_rows_are_not_arrays_is_a_parse_error(bids: bytes) -> None:
    with pytest.raises(ParseError):
        parse_depth_snapshot(b'{"lastUpdateId":1,"bids":' + bids + b',"asks":[]}', "X", 0)


# -- a dropped diff resyncs its book, whichever path read it -----------------------------------


def _live_nkn() -> BookSync:
    sync = live_sync()
    feed_frame(fixture("depth_update_combined.json"), 1, sync)  # live at id 499869752
    assert sync.is_valid("NKNUSDT")
    return sync


BAD_QTY = (
    b'{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":499869753,"u":499869753,'
    b'"b":[["0.35000000","1.0000000x"]],"a":[]}'
)
NEGATIVE_QTY = BAD_QTY.replace(b"1.0000000x", b"-1.00000000")  # the '-' forces the strict path
BAD_HEADER = BAD_QTY.replace(b'"U":499869753', b'"U":"499869753"')


@pytest.mark.parametrize(
    "raw", [BAD_QTY, _unclean(BAD_QTY), NEGATIVE_QTY, BAD_HEADER, _unclean(BAD_HEADER)]
)
def test_a_diff_dropped_for_a_parse_error_resyncs_its_book_on_either_path(raw: bytes) -> None:
    for frame in (raw, b'{"stream":"nknusdt@depth","data":' + raw + b"}"):
        sync = _live_nkn()
        with pytest.raises(ParseError):
            feed_frame(frame, 2, sync, symbols={"NKNUSDT"})
        assert not sync.is_valid("NKNUSDT")
        stats = sync.stats("NKNUSDT")
        assert (stats.malformed, stats.resyncs) == (1, 1)
        fed = feed_frame(fixture("depth_update_combined.json"), 3, sync)
        assert isinstance(fed, DepthFed) and fed.snapshot_requested  # rebuilding from scratch


@pytest.mark.parametrize("raw", [BAD_QTY, NEGATIVE_QTY, BAD_HEADER])
def test_a_bad_diff_for_another_symbol_resyncs_only_that_symbol(raw: bytes) -> None:
    other = raw.replace(b"NKNUSDT", b"BTCUSDT")
    sync = _live_nkn()
    with pytest.raises(ParseError):
        feed_frame(other, 2, sync, symbols={"NKNUSDT"})  # not subscribed: not ours to resync
    assert sync.symbols() == ["NKNUSDT"]
    with pytest.raises(ParseError):
        feed_frame(other, 2, sync)  # no filter: any symbol is taken in, as a good diff would be
    assert sync.stats("BTCUSDT").malformed == 1 and not sync.is_valid("BTCUSDT")
    assert sync.is_valid("NKNUSDT") and sync.stats("NKNUSDT").malformed == 0


# -- a depth snapshot has a size cap above the venue's 5000 levels a side ----------------------


def _snapshot_body(bids: int, asks: int) -> bytes:
    row = ["1.00000000", "1.00000000"]
    return orjson.dumps({"lastUpdateId": 1, "bids": [row] * bids, "asks": [row] * asks})


def test_a_snapshot_with_more_levels_than_the_cap_is_a_parse_error() -> None:
    assert SNAPSHOT_MAX_LEVELS > SNAPSHOT_LIMIT_MAX  # room above the venue's own maximum
    at_cap = parse_depth_snapshot(_snapshot_body(SNAPSHOT_MAX_LEVELS, 1), "X", 0)
    assert len(at_cap.bids) == SNAPSHOT_MAX_LEVELS
    for bids, asks in ((SNAPSHOT_MAX_LEVELS + 1, 0), (0, SNAPSHOT_MAX_LEVELS + 1)):
        with pytest.raises(ParseError, match="cap"):
            parse_depth_snapshot(_snapshot_body(bids, asks), "X", 0)


def test_the_snapshot_cap_is_configurable() -> None:
    assert len(parse_depth_snapshot(_snapshot_body(3, 3), "X", 0, max_levels=3).asks) == 3
    with pytest.raises(ParseError, match="cap"):
        parse_depth_snapshot(_snapshot_body(4, 0), "X", 0, max_levels=3)
