from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectivity.core.book import BookView, LevelDecoder, OrderBook
from connectivity.core.decimal import fixed_parser
from connectivity.core.models import BookLevel
from connectivity.errors import ParseError


def make_book() -> OrderBook:
    book = OrderBook("BTCUSDT", price_scale=2, qty_scale=3)
    book.load([(10000, 5), (9990, 7), (9980, 1)], [(10010, 2), (10020, 4)], update_id=100)
    return book


def test_apply_sets_absolute_quantities_and_zero_deletes() -> None:
    book = make_book()
    book.apply([(10000, 9), (9990, 0)], [(10020, 0), (10030, 8)])
    assert book.bids() == [(10000, 9), (9980, 1)]
    assert book.asks() == [(10010, 2), (10030, 8)]
    assert book.depth() == (2, 2)


def test_deleting_an_unknown_level_is_ignored() -> None:
    book = make_book()
    book.apply([(1, 0)], [(99999, 0)])
    assert book.depth() == (3, 2)


def test_best_bid_and_ask_follow_inserts_and_deletes() -> None:
    book = make_book()
    book.apply([(10005, 1)], [(10008, 3)])
    assert book.best_bid() == (10005, 1)
    assert book.best_ask() == (10008, 3)
    book.apply([(10005, 0)], [(10008, 0)])
    assert book.best_bid() == (10000, 5)
    assert book.best_ask_price() == 10010
    assert book.best_bid_price() == 10000


def test_empty_book_has_no_best_prices_mid_or_spread() -> None:
    book = OrderBook("X")
    assert book.best_bid() is None and book.best_ask() is None
    assert book.best_bid_price() is None and book.best_ask_price() is None
    assert book.mid() is None and book.spread() is None
    assert not book.is_crossed()
    assert len(book) == 0


def test_top_n_is_best_first_on_both_sides() -> None:
    book = make_book()
    assert book.bids(2) == [(10000, 5), (9990, 7)]
    assert book.asks(1) == [(10010, 2)]
    assert book.bids(0) == []
    assert book.asks(10) == [(10010, 2), (10020, 4)]


def test_load_replaces_every_level_and_skips_zero_quantities() -> None:
    book = make_book()
    book.load([(5000, 1), (5001, 0)], [(6000, 2)], update_id=7, ts_event=9)
    assert book.bids() == [(5000, 1)]
    assert book.asks() == [(6000, 2)]
    assert (book.update_id, book.ts_event) == (7, 9)


def test_clear_removes_every_level_and_ids() -> None:
    book = make_book()
    book.clear()
    assert len(book) == 0 and book.update_id == 0


@pytest.mark.parametrize(("bid", "crossed"), [(10009, False), (10010, True), (10011, True)])
def test_crossed_book_is_detected_when_bid_reaches_ask(bid: int, crossed: bool) -> None:
    book = make_book()
    book.set_level(True, bid, 1)
    assert book.is_crossed() is crossed


def test_set_level_on_ask_side_inserts_and_deletes() -> None:
    book = make_book()
    book.set_level(False, 10015, 6)
    assert book.ask_quantity(10015) == 6
    book.set_level(False, 10015, 0)
    assert book.ask_quantity(10015) == 0
    assert book.bid_quantity(10000) == 5


def test_mid_and_spread_are_exact_even_on_a_half_tick() -> None:
    book = make_book()
    assert book.spread() == 10
    assert book.mid() == Decimal("100.05")
    book.set_level(True, 10001, 1)
    assert book.mid() == Decimal("100.055")


def test_view_is_an_immutable_copy_with_exact_book_levels() -> None:
    book = make_book()
    view = book.view(2, valid=False)
    book.apply([(10000, 0)], [])
    assert isinstance(view, BookView)
    assert view.bids == ((10000, 5), (9990, 7))
    assert view.best_bid == (10000, 5)
    assert view.best_ask == (10010, 2)
    assert view.valid is False
    assert view.bid_levels()[0] == BookLevel(Decimal("100.00"), Decimal("0.005"))
    assert view.ask_levels() == [
        BookLevel(Decimal("100.10"), Decimal("0.002")),
        BookLevel(Decimal("100.20"), Decimal("0.004")),
    ]
    assert BookView("X", 0, 0, (), (), 8, 8).best_bid is None


def test_book_levels_convert_at_the_books_scales() -> None:
    book = make_book()
    assert book.bid_levels(1) == [BookLevel(Decimal("100"), Decimal("0.005"))]
    assert book.ask_levels(1) == [BookLevel(Decimal("100.1"), Decimal("0.002"))]


def test_replace_with_swaps_contents_and_empties_the_other_book() -> None:
    book = make_book()
    fresh = OrderBook("BTCUSDT", 2, 3)
    fresh.load([(1, 1)], [(2, 2)], update_id=555, ts_event=3)
    book.replace_with(fresh)
    assert book.bids() == [(1, 1)] and book.asks() == [(2, 2)]
    assert book.update_id == 555 and book.ts_event == 3
    assert len(fresh) == 0


def test_checksum_hook_receives_the_book() -> None:
    book = make_book()
    assert book.checksum(lambda b: sum(p * q for p, q in b.bids(2))) == 10000 * 5 + 9990 * 7
    assert "BTCUSDT" in repr(book)


levels = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 3)), min_size=0, max_size=12)


@given(st.lists(st.tuples(levels, levels), max_size=40))
def test_any_update_sequence_matches_a_plain_dict_model(updates: list) -> None:
    book = OrderBook("X")
    model: dict[bool, dict[int, int]] = {True: {}, False: {}}
    for bids, asks in updates:
        book.apply(bids, asks)
        for side, rows in ((True, bids), (False, asks)):
            for price, qty in rows:
                if qty:
                    model[side][price] = qty
                else:
                    model[side].pop(price, None)
        assert book.bids() == sorted(model[True].items(), reverse=True)
        assert book.asks() == sorted(model[False].items())
        best_bid = max(model[True], default=None)
        best_ask = min(model[False], default=None)
        assert book.best_bid_price() == best_bid
        assert book.best_ask_price() == best_ask
        expected_cross = best_bid is not None and best_ask is not None and best_bid >= best_ask
        assert book.is_crossed() is expected_cross


# -- fixed_parser (the exact fast path the venue parsers use) ---------------------------------


def test_fixed_parser_parses_venue_strings_exactly() -> None:
    parse = fixed_parser(8)
    assert parse("0.35130000") == 35_130_000
    assert parse("0.35130000") == 35_130_000  # cached
    assert parse("6195.00000000") == 619_500_000_000
    assert parse("1.5") == 150_000_000  # fewer decimals: exact slow path
    assert parse("7") == 700_000_000


@pytest.mark.parametrize(
    "text",
    [
        "-1.00000000",
        "+1.00000000",
        "1_0.00000000",
        " 1.00000000",
        "\u0663.00000000",
        "1.0000000x",
        ".10000000",
        "1.",
        "",
        "0.123456789",
        "1e-5",
        "1.2.3456789",
    ],
)
def test_fixed_parser_rejects_what_int_would_tolerate(text: str) -> None:
    with pytest.raises(ParseError):
        fixed_parser(8)(text)


def test_fixed_parser_cache_is_bounded() -> None:
    parse = fixed_parser(2, cache_size=4)
    values = [parse(f"{i}.00") for i in range(20)]
    assert values == [i * 100 for i in range(20)]


def test_fixed_parser_rejects_an_impossible_scale() -> None:
    with pytest.raises(ValueError):
        fixed_parser(99)


@given(st.integers(0, 10**15), st.integers(0, 10**8 - 1))
def test_fixed_parser_round_trips_any_8_decimal_string(whole: int, frac: int) -> None:
    text = f"{whole}.{frac:08d}"
    assert fixed_parser(8)(text) == whole * 10**8 + frac


# -- LevelDecoder and the one-pass apply_text ---------------------------------------------------


def text(value: int) -> str:
    return f"{value // 10**8}.{value % 10**8:08d}"


def test_level_decoder_fast_and_strict_agree_including_unusual_spellings() -> None:
    decoder = LevelDecoder(8, 8)
    rows = [["1.50000000", "2.00000000"], ["1.6", "0"], ["7", "0.5"]]
    expected = [(150_000_000, 200_000_000), (160_000_000, 0), (700_000_000, 50_000_000)]
    assert decoder.fast(rows) == expected
    assert decoder.strict(rows) == expected


@pytest.mark.parametrize(
    "row", [["1.00000000", "x.00000000"], ["1.00000000"], ["abc", "1"], [1, "1"]]
)
def test_apply_text_raises_parse_error_on_a_malformed_row(row: list) -> None:
    book = OrderBook("X")
    with pytest.raises(ParseError):
        book.apply_text([row], [], LevelDecoder())


def test_apply_text_with_short_quantities_after_applied_rows_matches_strict_decoding() -> None:
    decoder = LevelDecoder()
    bids = [["1.00000000", "2.00000000"], ["2.00000000", "3"], ["1.00000000", "0"]]
    asks = [["5.00000000", "1.50000000"], ["6.00000000", "7"]]
    one_pass = OrderBook("X")
    two_pass = OrderBook("X")
    assert one_pass.apply_text(bids, asks, decoder) == two_pass.apply(
        decoder.strict(bids), decoder.strict(asks)
    )
    assert one_pass.bids() == two_pass.bids() == [(200_000_000, 300_000_000)]
    assert (
        one_pass.asks()
        == two_pass.asks()
        == [(500_000_000, 150_000_000), (600_000_000, 700_000_000)]
    )


def test_apply_text_price_memo_stays_bounded_and_exact() -> None:
    decoder = LevelDecoder(cache_size=2)
    book = OrderBook("X")
    rows = [[text(p * 10**8), "1.00000000"] for p in (1, 2, 3, 1, 4)]
    book.apply_text(rows, [], decoder)
    assert len(decoder.known) <= 2 and len(decoder.prices) <= 2
    assert book.bids() == [(p * 10**8, 10**8) for p in (4, 3, 2, 1)]


def test_apply_text_refuses_an_empty_quantity() -> None:
    with pytest.raises(ParseError):
        OrderBook("X").apply_text([["1.00000000", ""]], [], LevelDecoder())


@given(st.lists(st.tuples(levels, levels), max_size=30))
def test_apply_text_matches_apply_of_decoded_levels(updates: list) -> None:
    decoder = LevelDecoder()
    one_pass = OrderBook("X")
    two_pass = OrderBook("X")
    for bids, asks in updates:
        bid_rows = [[text(p * 10**6), text(q * 10**7)] for p, q in bids]
        ask_rows = [[text(p * 10**6), text(q * 10**7)] for p, q in asks]
        crossed = one_pass.apply_text(bid_rows, ask_rows, decoder)
        assert crossed == two_pass.apply(decoder.fast(bid_rows), decoder.fast(ask_rows))
        assert one_pass.bids() == two_pass.bids() and one_pass.asks() == two_pass.asks()


# -- rows must be two-element arrays: a string or an object must never unpack as a level ------


@pytest.mark.parametrize("rows", [["97"], [{"9": 1, "7": 2}], "97", {"97": "1"}])
def test_strict_decoding_refuses_rows_that_are_not_arrays(rows: Any) -> None:
    with pytest.raises(ParseError):
        LevelDecoder().strict(rows)


def test_fast_decoding_refuses_a_string_row_instead_of_unpacking_its_characters() -> None:
    with pytest.raises(ParseError):
        LevelDecoder().fast(["97"])


@pytest.mark.parametrize("qty_scale", [0, 2, 8])
def test_apply_text_refuses_a_string_row_at_any_quantity_scale(qty_scale: int) -> None:
    book = OrderBook("X", 8, qty_scale)
    book.apply_text([["9.00000000", "1"]], [], LevelDecoder(8, qty_scale))
    for row in ("97", "90"):  # "90" would be price 9 with quantity 0: a delete
        with pytest.raises(ParseError):
            book.apply_text([row], [], LevelDecoder(8, qty_scale))
    assert book.bids() == [(9 * 10**8, 10**qty_scale)]


def test_apply_text_at_quantity_scale_0_refuses_what_strict_decoding_refuses() -> None:
    decoder = LevelDecoder(8, 0)
    with pytest.raises(ParseError):
        decoder.strict([["1.00000000", "7."]])
    with pytest.raises(ParseError):
        OrderBook("X", 8, 0).apply_text([["1.00000000", "7."]], [], decoder)


@pytest.mark.parametrize(
    ("bids", "asks"),
    [(["12"], []), ([["1.00000000", "1.0000000x"]], []), ([], [["99.00000000", "1.2.345678"]])],
)
def test_apply_text_refuses_a_malformed_row_even_beyond_the_covered_range(
    bids: list[Any], asks: list[Any]
) -> None:
    # The same rows through decoder.fast() raise: the one-pass path must not skip them unread.
    book = OrderBook("X")
    book.load([(50 * 10**8, 1)], [(60 * 10**8, 1)], 1, depth=1)  # covers 50..60 only
    decoder = LevelDecoder()
    with pytest.raises(ParseError):
        decoder.fast(bids or asks)
    with pytest.raises(ParseError):
        book.apply_text(bids, asks, decoder)
