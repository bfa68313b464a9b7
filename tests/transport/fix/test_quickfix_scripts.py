"""QuickFIX's 59 FIX 4.4 session acceptance scripts, played against our engine as acceptor.

Every script runs through the sans-I/O session with a manual clock (one test per script); a
handful also run over real loopback sockets through the pump (``test_script_over_socket_pump``).
No script is judged not applicable: ``NOT_APPLICABLE`` is empty and a test keeps it honest.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectivity.testing.fix_scripts import (
    SansIOHarness,
    compare_messages,
    fixify,
    load_field_patterns,
    parse_script,
    run_script,
    timify,
)
from connectivity.transport.fix.dictionary import FixDictionary
from tests.conftest import DATA

SCRIPTS = DATA / "quickfix-fix44"
NAMES = sorted(p.name for p in SCRIPTS.glob("*.def"))
# Scripts we deliberately do not run, with the reason. Empty: every script applies.
NOT_APPLICABLE: dict[str, str] = {}


@pytest.fixture(scope="module")
def fix44() -> FixDictionary:
    return FixDictionary.builtin("FIX44")


@pytest.fixture(scope="module")
def patterns() -> dict[int, Any]:
    return load_field_patterns(SCRIPTS / "fields.fmt")


def _script(name: str) -> bytes:
    return (SCRIPTS / name).read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_quickfix_script_passes_against_our_acceptor(
    name: str, fix44: FixDictionary, patterns: dict[int, Any]
) -> None:
    if name in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[name])
    result = run_script(name, _script(name), SansIOHarness(fix44), patterns)
    assert result.passed, f"{name} line {result.line_no}: {result.reason}"


def test_all_59_scripts_are_present_and_none_is_excluded() -> None:
    assert len(NAMES) == 59
    assert set(NOT_APPLICABLE) <= set(NAMES)
    assert not NOT_APPLICABLE


def test_runner_fails_a_script_when_the_engine_answers_differently(
    fix44: FixDictionary, patterns: dict[int, Any]
) -> None:
    script = _script("4b_ReceivedTestRequest.def").replace(b"112=HELLO|", b"112=HELLO\x01", 1)
    wrong = script.replace(b"\x01112=HELLO\x0110=0", b"\x01112=BYE\x0110=0")
    assert wrong != script
    result = run_script("tampered", wrong, SansIOHarness(fix44), patterns)
    assert not result.passed
    assert "112" in result.reason


def test_runner_fails_when_the_engine_sends_data_instead_of_disconnecting(
    fix44: FixDictionary, patterns: dict[int, Any]
) -> None:
    # After a valid Logon the engine answers; a script claiming it must hang up is wrong.
    script = (
        b"iCONNECT\n"
        b"I8=FIX.4.4\x0135=A\x0134=1\x0149=TW44\x0152=<TIME>\x0156=ISLD\x0198=0\x01108=30\x01\n"
        b"eDISCONNECT\n"
    )
    result = run_script("tampered", script, SansIOHarness(fix44), patterns)
    assert not result.passed
    assert "expected disconnection" in result.reason


def test_fixify_fills_body_length_and_checksum_only_when_absent() -> None:
    filled = fixify(b"8=FIX.4.4\x0135=0\x0134=2\x01")
    head = b"8=FIX.4.4\x019=10\x0135=0\x0134=2\x01"
    assert filled == head + b"10=%03d\x01" % (sum(head) % 256)
    garbled = b"8=FIX.4.4\x019=52\x0135=0\x0110=0\x01"
    assert fixify(garbled) == garbled


def test_timify_replaces_time_with_offsets() -> None:
    now_ns = 1_700_000_000 * 10**9
    assert timify(b"52=<TIME>|122=<TIME-1>|x=<TIME+10>", now_ns) == (
        b"52=20231114-22:13:20|122=20231114-22:13:19|x=20231114-22:13:30"
    )


def test_compare_uses_field_patterns_for_time_and_checksum(patterns: dict[int, Any]) -> None:
    expected = b"8=FIX.4.4\x0152=00000000-00:00:00.000\x0110=0\x01"
    assert compare_messages(expected, b"8=FIX.4.4\x0152=20231114-22:13:20.000\x0110=123\x01",
                            patterns) is None  # fmt: skip
    assert compare_messages(expected, b"8=FIX.4.4\x0152=yesterday\x0110=123\x01", patterns)


def test_parse_script_reads_second_connection_prefixes() -> None:
    steps = parse_script(b"# c\n\ni2,CONNECT\nI2,8=FIX.4.4\x01\ne2,DISCONNECT\niDISCONNECT\n")
    assert [(s.action, s.cid) for s in steps] == [
        ("CONNECT", 2),
        ("I", 2),
        ("WAIT_DISCONNECT", 2),
        ("DISCONNECT", 1),
    ]


OVER_SOCKETS = [
    "1a_ValidLogonWithCorrectMsgSeqNum.def",
    "1b_DuplicateIdentity.def",
    "2b_MsgSeqNumTooHigh.def",
    "2m_BodyLengthValueNotCorrect.def",
    "3c_GarbledMessage.def",
    "4a_NoDataSentDuringHeartBtInt.def",
    "8_AdminAndApplicationMessages.def",
    "14e_IncorrectEnumValue.def",
    "20_SimultaneousResendRequest.def",
]


@pytest.mark.parametrize("name", OVER_SOCKETS)
def test_script_over_socket_pump(name: str, fix44: FixDictionary, patterns: dict[int, Any]) -> None:
    from connectivity.testing.fix_script_sockets import SocketHarness

    result = run_script(name, _script(name), SocketHarness(fix44), patterns)
    assert result.passed, f"{name} line {result.line_no}: {result.reason}"
