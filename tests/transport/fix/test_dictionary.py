"""Data-dictionary validation: each SessionRejectReason, QuickFIX's reject scripts, Binance."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectivity.errors import ConfigError
from connectivity.transport.fix.codec import SOH, FixMessage, checksum, encode, parse_message
from connectivity.transport.fix.dictionary import (
    BUILTIN_DICTIONARIES,
    REJECT_TEXT,
    FixDictionary,
    FixValidationError,
    builtin_path,
    validate_structure,
)
from tests.conftest import DATA

NOW = "20240611-09:01:46.228"
HEADER: list[tuple[int, str | int]] = [(34, 2), (49, "TW44"), (52, NOW), (56, "ISLD")]
ORDER: list[tuple[int, str | int]] = [
    (11, "ID"),
    (21, 1),
    (40, 1),
    (54, 1),
    (38, "200.00"),
    (55, "INTC"),
    (60, NOW),
]


@pytest.fixture(scope="module")
def fix44() -> FixDictionary:
    return FixDictionary.builtin("FIX44")


@pytest.fixture(scope="module")
def binance_oe() -> FixDictionary:
    return FixDictionary.builtin("binance-spot-fix-oe")


@pytest.fixture(scope="module")
def binance_md() -> FixDictionary:
    return FixDictionary.builtin("binance-spot-fix-md")


def frame(text: str) -> FixMessage:
    """Build a message from ``|``-separated fields after 9 (tags need not be valid numbers)."""
    body = text.replace("|", "\x01").encode()
    head = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    return parse_message(head + b"10=" + checksum(head) + SOH)


def reject(dictionary: FixDictionary, message: FixMessage) -> tuple[int, int | None]:
    with pytest.raises(FixValidationError) as caught:
        dictionary.validate(message)
    assert caught.value.text == REJECT_TEXT[caught.value.reject_reason]
    return caught.value.reject_reason, caught.value.ref_tag


def order(*fields: tuple[int, str | int]) -> FixMessage:
    return parse_message(encode(b"FIX.4.4", "D", HEADER + list(fields)))


# -- loading --------------------------------------------------------------------------------


def test_fix44_dictionary_loads_names_types_and_messages(fix44: FixDictionary) -> None:
    assert fix44.begin_string == b"FIX.4.4"
    assert fix44.field_name(11) == "ClOrdID" and fix44.field_number("ClOrdID") == 11
    assert fix44.field_type(52) == "UTCTIMESTAMP" and fix44.field_name(999) is None
    assert fix44.is_known_msg_type(b"D") and not fix44.is_known_msg_type(b"*")
    assert fix44.message_name(b"8") == "ExecutionReport"
    assert fix44.is_header_tag(49) and not fix44.is_header_tag(11)
    assert fix44.data_pairs[95] == 96 and fix44.data_pairs[93] == 89


@pytest.mark.parametrize("name", BUILTIN_DICTIONARIES)
def test_every_builtin_dictionary_loads_by_name_with_its_sources_and_licence_beside_it(
    name: str,
) -> None:
    dictionary = FixDictionary.builtin(name, strict_group_order=True)
    assert dictionary.begin_string == b"FIX.4.4" and dictionary.strict_group_order
    folder = builtin_path(name).parent
    sources = (folder / "SOURCES.md").read_text()
    assert f"`{name}`" in sources and f"{name}.xml" in sources
    assert (folder / "LICENSE.quickfix").is_file()


def test_unknown_builtin_dictionary_name_is_a_config_error_listing_the_names() -> None:
    with pytest.raises(ConfigError, match="FIX44"):
        FixDictionary.builtin("FIX43")


def test_binance_dictionaries_pair_raw_data_and_know_custom_messages(
    binance_oe: FixDictionary, binance_md: FixDictionary
) -> None:
    assert binance_oe.data_pairs == {95: 96} == binance_md.data_pairs
    assert binance_oe.field_name(25035) == "MessageHandling"
    assert binance_oe.is_known_msg_type(b"XCN") and binance_md.is_known_msg_type(b"X")
    assert not binance_md.is_known_msg_type(b"D")


# -- one concrete message per reject reason (FIX44.xml) ---------------------------------------


def test_valid_order_passes(fix44: FixDictionary) -> None:
    fix44.validate(order(*ORDER))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35=0|34=2|49=TW44|52=" + NOW + "|56=ISLD|999=HI|", (0, 999)),
        ("35=0|34=2|49=TW44|52=" + NOW + "|56=ISLD|0=HI|", (0, 0)),
        ("35=0|34=2|49=TW44|52=" + NOW + "|56=ISLD|-1=HI|", (0, -1)),
        ("35=0|34=2|49=TW44|52=" + NOW + "|", (1, 56)),
        ("35=0|34=2|49=TW44|52=" + NOW + "|56=ISLD|55=MSFT|", (2, 55)),
        ("35=0|34=2|49=TW44|52=" + NOW + "|56=|", (4, 56)),
        ("35=*|34=2|49=TW44|52=" + NOW + "|56=ISLD|", (11, None)),
        ("35=D|11=id|21=3|55=MSFT|60=" + NOW + "|34=2|49=TW44|52=" + NOW + "|56=I|", (14, 34)),
        ("35=0|34=2|49=TW44|52=" + NOW + "|56=ISLD|93=3|89=abc|112=x|", (14, 93)),
    ],
)  # fmt: skip
def test_session_messages_get_the_quickfix_reject_reason(
    fix44: FixDictionary, text: str, expected: tuple[int, int | None]
) -> None:
    assert reject(fix44, frame(text)) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([(40, 1), (54, 1), (55, "X"), (60, NOW)], (1, 11)),  # ClOrdID missing
        ([ORDER[0], (21, 4), *ORDER[2:]], (5, 21)),  # HandlInst 4 is not an enum value
        ([*ORDER, (167, "BOO")], (5, 167)),
        ([*ORDER[:4], (38, "+200.00"), *ORDER[5:]], (6, 38)),  # a leading + is not FIX
        ([*ORDER[:4], (38, "1e5"), *ORDER[5:]], (6, 38)),
        ([*ORDER[:6], (60, "20241301-00:00:00")], (6, 60)),  # month 13
        ([*ORDER[:6], (60, "20240101-24:00:00")], (6, 60)),
        ([*ORDER, (43, "X")], (14, 43)),  # a header tag in the body
        ([*ORDER, (114, "maybe")], (6, 114)),  # BOOLEAN is Y or N
        ([*ORDER, (18, "1 z")], (5, 18)),  # each MULTIPLEVALUESTRING token is an enum
        ([*ORDER[:3], (40, 2), *ORDER[3:]], (13, 40)),  # repeated outside any group
        ([*ORDER, (386, 3), (336, "PRE-OPEN"), (336, "AFTER-HOURS")], (16, 386)),
        ([*ORDER, (386, "x")], (6, 386)),
        ([*ORDER, (386, 1), (625, "S1"), (336, "A")], (15, 625)),  # wrong delimiter, strict
        ([*ORDER, (386, 2), (336, "A"), (625, "a"), (625, "b")], (15, 625)),  # member twice
    ],
)
def test_order_messages_get_the_expected_reject_reason(
    fix44: FixDictionary, fields: list[tuple[int, str | int]], expected: tuple[int, int | None]
) -> None:
    strict = fix44.with_options(strict_group_order=True)
    assert reject(strict, order(*fields)) == expected


def test_groups_with_zero_count_and_nested_groups_validate(fix44: FixDictionary) -> None:
    fix44.validate(order(*ORDER, (386, 0)))
    # NoAllocs (78) entries: AllocAccount delimiter, nested NoNestedPartyIDs (539).
    nested: list[tuple[int, str | int]] = [
        (78, 2),
        (79, "a1"),
        (539, 2),
        (524, "p1"),
        (525, "D"),
        (524, "p2"),
        (79, "a2"),
    ]
    fix44.validate(order(*ORDER, *nested))
    wrong: list[tuple[int, str | int]] = [(78, 1), (79, "a1"), (539, 2), (524, "p1"), (525, "D")]
    assert reject(fix44, order(*ORDER, *wrong)) == (16, 539)


MINI_XML = """<fix type='FIX' major='4' minor='4' servicepack='0'>
 <header><field name='BeginString' required='Y'/><field name='BodyLength' required='Y'/>
  <field name='MsgType' required='Y'/><field name='MsgSeqNum' required='Y'/></header>
 <trailer><field name='CheckSum' required='Y'/></trailer>
 <messages>
  <message name='Quote' msgtype='S' msgcat='app'>
   <field name='Symbol' required='Y'/>
   <group name='NoLegs' required='N'>
    <component name='Leg' required='Y'/>
    <field name='Price' required='Y'/>
   </group>
  </message>
 </messages>
 <components>
  <component name='Leg'><field name='Symbol' required='Y'/><field name='Side' required='N'/>
  </component>
 </components>
 <fields>
  <field number='8' name='BeginString' type='STRING'/>
  <field number='9' name='BodyLength' type='LENGTH'/>
  <field number='35' name='MsgType' type='STRING'><value enum='S' description='QUOTE'/></field>
  <field number='34' name='MsgSeqNum' type='SEQNUM'/>
  <field number='10' name='CheckSum' type='STRING'/>
  <field number='55' name='Symbol' type='STRING'/>
  <field number='555' name='NoLegs' type='NUMINGROUP'/>
  <field number='44' name='Price' type='PRICE'/>
  <field number='54' name='Side' type='CHAR'><value enum='1' description='BUY'/></field>
 </fields>
</fix>
"""


@pytest.fixture
def mini(tmp_path: Path) -> FixDictionary:
    path = tmp_path / "mini.xml"
    path.write_text(MINI_XML)
    return FixDictionary.from_xml(path, strict_group_order=True)


def test_group_entries_from_components_keep_their_required_fields_and_delimiter(
    mini: FixDictionary,
) -> None:
    mini.validate(frame("35=S|34=1|55=A|555=2|55=X|44=1.5|54=1|55=Y|44=2|"))
    assert reject(mini, frame("35=S|34=1|555=1|55=X|44=1|")) == (1, 55)  # 55 only in group
    assert reject(mini, frame("35=S|34=1|55=A|555=1|55=X|")) == (1, 44)
    assert reject(mini, frame("35=S|34=1|55=A|555=1|44=1|55=X|")) == (15, 44)
    assert reject(mini, frame("35=S|34=1|55=A|555=1|55=X|44=1|54=2|")) == (5, 54)


def test_dictionary_referring_to_an_undefined_component_fails_to_load(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text(
        MINI_XML.replace("component name='Leg' required", "component name='X' required")
    )
    with pytest.raises(ValueError, match="undefined component"):
        FixDictionary.from_xml(path)


def test_beginstring_mismatch_is_reported_on_tag_8(fix44: FixDictionary) -> None:
    with pytest.raises(FixValidationError) as caught:
        fix44.validate(parse_message(encode(b"FIX.4.2", "0", HEADER)))
    assert (caught.value.reject_reason, caught.value.ref_tag) == (5, 8)
    assert caught.value.text == "BeginString value unexpected"


def test_unknown_fields_pass_when_the_dictionary_allows_them(fix44: FixDictionary) -> None:
    lenient = fix44.with_options(
        allow_unknown_message_fields=True, validate_user_defined_fields=False
    )
    for extra in ((999, "x"), (25099, "x"), (55, "MSFT")):
        lenient.validate(frame(f"35=0|34=2|49=A|52={NOW}|56=B|{extra[0]}={extra[1]}|"))
    assert reject(lenient, frame(f"35=0|34=2|49=A|52={NOW}|56=B|0=x|")) == (0, 0)


# -- structural checks without a dictionary ----------------------------------------------------


def test_structure_only_validation_catches_order_empty_and_bad_tags() -> None:
    validate_structure(order(*ORDER))
    for text, expected in [
        (f"35=D|11=id|34=2|49=A|52={NOW}|56=B|", (14, 34)),
        (f"35=0|34=2|49=A|52={NOW}|56=B|58=|", (4, 58)),
        (f"35=0|34=2|49=A|52={NOW}|56=B|0=x|", (0, 0)),
    ]:
        with pytest.raises(FixValidationError) as caught:
            validate_structure(frame(text))
        assert (caught.value.reject_reason, caught.value.ref_tag) == expected


# -- QuickFIX's scripted session tests ------------------------------------------------------------


def _script_cases() -> list[tuple[str, str, str | None]]:
    """(script, inbound message, expected Reject or None) from the QuickFIX .def files."""
    folder = DATA / "quickfix-fix44"
    cases = []
    for script in ("14a", "14b", "14c", "14d", "14e", "14f", "14g", "14h", "14i", "15", "21"):
        (path,) = folder.glob(f"{script}_*.def")
        lines = path.read_text(encoding="latin-1").splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("I8=") or "\x0135=A\x01" in line or "\x0135=5\x01" in line:
                continue
            answer = next(x for x in lines[i + 1 :] if x[:1] in ("E", "I"))
            expected = answer[1:] if "\x0135=3\x01" in answer else None
            cases.append((path.stem, line[1:], expected))
    return cases


def _inbound(line: str) -> FixMessage:
    """The harness's inbound message: <TIME> substituted, 9 and 10 filled in."""
    pairs = [p.split("=", 1) for p in re.sub(r"<TIME[+-]?\d*>", NOW, line).split("\x01") if p]
    return frame("".join(f"{t}={v}|" for t, v in pairs[1:]))


@pytest.mark.parametrize(("script", "line", "expected"), _script_cases())
def test_quickfix_script_inbound_message_gets_the_scripted_reject(
    fix44: FixDictionary, script: str, line: str, expected: str | None
) -> None:
    message = _inbound(line)
    if expected is None:
        fix44.validate(message)
        return
    want = dict(p.split("=", 1) for p in expected.split("\x01") if p)
    with pytest.raises(FixValidationError) as caught:
        fix44.validate(message)
    error = caught.value
    assert str(error.reject_reason) == want["373"]
    assert (None if error.ref_tag is None else str(error.ref_tag)) == want.get("371")
    assert error.text == want["58"]


def test_quickfix_scripts_were_found() -> None:
    assert len(_script_cases()) >= 15


# -- Binance doc samples ----------------------------------------------------------------------

BINANCE_OE = [
    "35=D|34=2|49=qNXO12fH|52=20240611-09:01:46.228|56=SPOT|11=1718096506197867067|38=5|40=2|"
    "44=10|54=1|55=LTCBNB|59=4|",
    "35=8|34=2|49=SPOT|52=20240611-09:01:46.228950|56=qNXO12fH|11=1718096506197867067|"
    "14=0.00000000|17=144|32=0.00000000|37=76|38=5.00000000|39=0|40=2|44=10.00000000|54=1|"
    "55=LTCBNB|59=4|60=20240611-09:01:46.228000|150=0|151=5.00000000|636=Y|1057=Y|25001=1|"
    "25017=0.00000000|25018=20240611-09:01:46.228000|25023=20240611-09:01:46.228000|",
    "35=XCN|34=2|49=JS8iiXK6|52=20240613-02:31:53.753|56=SPOT|11=1718245913721036458|37=8|"
    "38=5|40=2|44=4|54=1|55=LTCBNB|59=1|111=1|25033=1|25034=1718245913721036819|",
    "35=E|34=2|49=Eg13pOvN|52=20240607-02:19:07.836|56=SPOT|73=2|11=w1717726747805308656|"
    "55=LTCBNB|54=2|38=1|40=2|44=0.25|59=1|11=p1717726747805308656|55=LTCBNB|54=2|38=1|40=1|"
    "25010=1|25011=3|25012=0|25013=1|1385=2|25014=1717726747805308656|",
    "35=9|34=2|49=SPOT|52=20240613-01:12:41.320869|56=OlZb8ht8|11=1718241161272843932|37=2|"
    "55=LTCBNB|58=Unknown order sent.|434=1|25016=-1013|",
    "35=A|34=1|49=EXAMPLE|52=20240627-11:17:25.223|56=SPOT|95=88|96=4MHXelVVcpkdwuLbl6n73HQU"
    "XUf1dse2PCgT1DYqW9w8AVZ1RACFGM+5UdlGPrQHrgtS3CvsRURC1oj73j8gCA==|98=0|108=30|141=Y|"
    "553=sBRXrJx2DsOraMXOaUovEhgVRcjOvCtQwnWj8VxkOh1xqboS02SPGfKi2h8spZJb|25035=2|",
]
BINANCE_MD = [
    "35=X|49=SPOT|56=EXAMPLE|34=16|52=20241019-05:40:11.466313|262=TRADE_3|893=N|268=3|279=0|"
    "269=2|270=10.00000|271=0.01000|55=BNBBUSD|1003=0|60=20241019-05:40:11.464000|279=0|269=2|"
    "270=10.00000|271=0.01000|1003=1|60=20241019-05:40:11.464000|279=0|269=2|270=10.00000|"
    "271=0.01000|1003=2|60=20241019-05:40:11.464000|",
    "35=V|49=TRADER1|56=SPOT|34=4|52=20241122-06:17:14.183428|262=BOOK_TICKER_STREAM|263=1|"
    "264=1|266=Y|146=1|55=BTCUSDT|267=2|269=0|269=1|",
    "35=W|49=SPOT|56=EXAMPLE|34=34|52=20241019-05:41:52.867164|262=BOOK_TICKER_1_2|55=BNBBUSD|"
    "25044=0|268=0|",
    "35=y|49=SPOT|56=BMDWATCH|34=2|52=20250114-08:46:56.100147|320=BTCUSDT_INFO|146=1|"
    "55=BTCUSDT|15=USDT|562=0.00001000|1140=9000.00000000|25039=0.00001000|25040=0.00000001|"
    "25041=76.79001236|25042=0.00000001|969=0.01000000|",
]
# ListStatus as Binance documents it: each NoOrders entry starts with Symbol, not ClOrdID.
LIST_STATUS = (
    "35=N|34=2|49=SPOT|52=20240607-02:19:07.837191|56=Eg13pOvN|55=ABCDEF|"
    "60=20240607-02:19:07.836000|66=25|73=2|55=LTCBNB|37=52|11=w1717726747805308656|55=ABCDEF|"
    "37=53|11=p1717726747805308656|25010=1|25011=3|25012=0|25013=1|429=4|431=3|1385=2|"
    "25014=1717726747805308656|25015=1717726747805308656|"
)


@pytest.mark.parametrize("text", BINANCE_OE, ids=lambda t: t.split("|")[0])
def test_binance_order_entry_doc_samples_validate(binance_oe: FixDictionary, text: str) -> None:
    binance_oe.validate(frame(text))


@pytest.mark.parametrize("text", BINANCE_MD, ids=lambda t: t.split("|")[0])
def test_binance_market_data_doc_samples_validate(binance_md: FixDictionary, text: str) -> None:
    binance_md.validate(frame(text))


def test_binance_list_status_with_symbol_first_entries_passes_unless_strict(
    binance_oe: FixDictionary,
) -> None:
    binance_oe.validate(frame(LIST_STATUS))
    strict = binance_oe.with_options(strict_group_order=True)
    assert reject(strict, frame(LIST_STATUS)) == (15, 55)


def test_binance_incremental_refresh_entry_missing_price_is_rejected(
    binance_md: FixDictionary,
) -> None:
    text = BINANCE_MD[0].replace("270=10.00000|271=0.01000|1003=1", "271=0.01000|1003=1")
    assert reject(binance_md, frame(text)) == (1, 270)
    assert reject(binance_md, frame(BINANCE_MD[0].replace("268=3", "268=4"))) == (16, 268)


def test_binance_custom_enum_and_limit_response_group(binance_oe: FixDictionary) -> None:
    logon = BINANCE_OE[-1]
    assert reject(binance_oe, frame(logon.replace("25035=2", "25035=7"))) == (5, 25035)
    limits = (
        "35=XLR|34=2|49=SPOT|52=20240614-05:42:42.724057|56=uGnG0ef8|6136=1|25003=2|25004=2|"
        "25005=1|25006=1000|25007=10|25008=s|25004=1|25005=0|25006=200|25007=10|25008=s|"
    )
    binance_oe.validate(frame(limits))
    assert reject(binance_oe, frame(limits.replace("25008=s|25004=1", "25008=x|25004=1"))) == (
        5,
        25008,
    )


def _body_fields(text: str) -> list[tuple[int, str]]:
    pairs = [p.split("=", 1) for p in text.split("|") if p]
    return [(int(t), v) for t, v in pairs[1:]]


def _rebuild(fields: list[tuple[int, str]], msg_type: str = "8") -> FixMessage:
    return parse_message(encode(b"FIX.4.4", msg_type, fields))


EXEC_REPORT = _body_fields(BINANCE_OE[1])


@pytest.mark.parametrize("index", range(len(EXEC_REPORT)))
def test_dropping_any_field_of_an_execution_report_fails_exactly_when_it_is_required(
    binance_oe: FixDictionary, index: int
) -> None:
    # Required per spot-fix-oe.xml: header 49/56/34/52; ExecutionReport OrdType, Side, Symbol,
    # ExecType, CumQty, LastQty, OrdStatus.
    required = {34, 49, 52, 56, 40, 54, 55, 150, 14, 32, 39}
    tag = EXEC_REPORT[index][0]
    message = _rebuild(EXEC_REPORT[:index] + EXEC_REPORT[index + 1 :])
    if tag in required:
        assert reject(binance_oe, message) == (1, tag)
    else:
        binance_oe.validate(message)


@pytest.mark.parametrize("index", range(4, len(EXEC_REPORT)))
def test_repeating_any_body_field_of_an_execution_report_is_rejected(
    binance_oe: FixDictionary, index: int
) -> None:
    fields = [*EXEC_REPORT, EXEC_REPORT[index]]
    assert reject(binance_oe, _rebuild(fields)) == (13, EXEC_REPORT[index][0])


@pytest.mark.parametrize("index", range(len(EXEC_REPORT)))
def test_emptying_any_field_of_an_execution_report_is_rejected(
    binance_oe: FixDictionary, index: int
) -> None:
    tag = EXEC_REPORT[index][0]
    fields = "".join(f"{t}={'' if i == index else v}|" for i, (t, v) in enumerate(EXEC_REPORT))
    assert reject(binance_oe, frame(f"35=8|{fields}")) == (4, tag)
