import importlib.util
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

from connectivity.connector.recording import BadLine
from connectivity.errors import ParseError
from exchanges.binance.recording import (
    FORMAT,
    Record,
    read_cryptofeed,
    read_recording,
)
from exchanges.binance.recording import (
    BinanceRecordWriter as RecordWriter,
)
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "replay_book.py"
URL = "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("replay_book", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def depth(
    first: int,
    last: int,
    bids: list[list[str]] | None = None,
    asks: list[list[str]] | None = None,
    symbol: str = "BTCUSDT",
) -> str:
    data = {
        "e": "depthUpdate",
        "E": 1,
        "s": symbol,
        "U": first,
        "u": last,
        "b": bids or [],
        "a": asks or [],
    }
    return orjson.dumps({"stream": symbol.lower() + "@depth@100ms", "data": data}).decode()


def snapshot(last_id: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    return orjson.dumps({"lastUpdateId": last_id, "bids": bids, "asks": asks}).decode()


def test_real_recording_respects_update_id_rules_and_never_crosses() -> None:
    ws = DATA / "recorded" / "BINANCE.ws.1.0"
    http = DATA / "recorded" / "BINANCE.http.0.0"
    report = load_script().replay(read_cryptofeed(ws, http))
    symbols = report["symbols"]
    assert set(symbols) == {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}
    for name, result in symbols.items():
        assert result["status"] == "valid", name
        assert result["rule_violations"] == 0, name
        # Recorded under the pre-2024 text (snapshot limit 1000): consistent with it too.
        assert result["pre2024_rule_violations"] == 0, name
        assert result["crossed_ever"] is False, name
        assert (result["gaps"], result["resyncs"], result["snapshot_refetches"]) == (0, 0, 0)
        assert result["ticker_mismatches"] == 0, name
    # The books agree exactly with Binance's own bookTicker whenever both are at one update id.
    assert sum(r["ticker_matches"] for r in symbols.values()) >= 20
    nkn = symbols["NKNUSDT"]
    assert nkn["updates_applied"] == 149 and nkn["last_update_id"] == 499870179
    assert nkn["best_bid"] == ["0.3527", "9602"] and nkn["best_ask"] == ["0.3531", "152"]
    assert report["parse_errors"] == {"UnknownEnumValue": 2}  # the two kline frames


def test_replay_script_prints_the_report_as_its_last_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with RecordWriter(path) as writer:
        writer.connect(1, URL)
        writer.ws(2, URL, depth(10, 11, bids=[["100.00000000", "1.00000000"]]))
        writer.snapshot(
            3,
            "BTCUSDT",
            snapshot(10, [["99.00000000", "2.00000000"]], [["101.00000000", "1.00000000"]]),
        )
        writer.ws(4, URL, depth(12, 12, asks=[["100.50000000", "3.00000000"]]))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    btc = report["symbols"]["BTCUSDT"]
    assert btc["best_bid"] == ["100", "1"] and btc["best_ask"] == ["100.5", "3"]
    assert btc["updates_applied"] == 2 and btc["status"] == "valid"


def test_our_format_replays_a_gap_and_a_reconnect_with_resyncs(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    bid = [["100.00000000", "1.00000000"]]
    ask = [["101.00000000", "1.00000000"]]
    with RecordWriter(path) as writer:
        writer.connect(1, URL)
        writer.ws(2, URL, depth(10, 11))
        writer.snapshot(3, "BTCUSDT", snapshot(11, bid, ask))
        writer.ws(4, URL, depth(12, 13, bids=[["100.00000000", "2.00000000"]]))
        writer.ws(5, URL, depth(20, 21))  # 14..19 missing: gap
        writer.snapshot(6, "BTCUSDT", snapshot(21, bid, ask))
        writer.ws(7, URL, b"{broken")  # counted, the replay goes on
        writer.connect(8, URL)  # reconnect: resync
        writer.ws(9, URL, depth(30, 30))
        writer.snapshot(10, "BTCUSDT", snapshot(30, [["99.00000000", "5.00000000"]], ask))
    report = load_script().replay(read_recording(path))
    btc = report["symbols"]["BTCUSDT"]
    assert (btc["gaps"], btc["resyncs"], btc["snapshots_applied"]) == (1, 2, 3)
    assert btc["status"] == "valid" and btc["best_bid"] == ["99", "5"]
    assert btc["rule_violations"] == 0 and not btc["crossed_ever"]
    assert report["reconnects"] == 1 and report["parse_errors"] == {"ParseError": 1}


def test_crossed_book_in_a_recording_fails_the_replay() -> None:
    records = [
        Record(1, "ws", URL, None, depth(10, 10)),
        Record(
            2,
            "snapshot",
            "",
            "BTCUSDT",
            snapshot(10, [["100.00000000", "1.00000000"]], [["101.00000000", "1.00000000"]]),
        ),
        Record(3, "ws", URL, None, depth(11, 11, bids=[["102.00000000", "1.00000000"]])),
    ]
    module = load_script()
    report = module.replay(records)
    assert report["symbols"]["BTCUSDT"]["crossed_ever"] is True
    assert module.failed(report)


def test_record_writer_output_reads_back_exactly(tmp_path: Path) -> None:
    buffer = io.StringIO()
    writer = RecordWriter(buffer)
    writer.connect(5, URL)
    writer.ws(6, URL, b'{"a":1}')
    writer.snapshot(7, "BTCUSDT", '{"lastUpdateId":1}', url="https://x/api/v3/depth")
    writer.flush()
    writer.close()
    path = tmp_path / "r.jsonl"
    path.write_text(buffer.getvalue())
    records = list(read_recording(path))
    assert records[0].kind == "meta" and FORMAT in (records[0].data or "")
    assert records[1:] == [
        Record(5, "connect", URL),
        Record(6, "ws", URL, None, '{"a":1}'),
        Record(7, "snapshot", "https://x/api/v3/depth", "BTCUSDT", '{"lastUpdateId":1}'),
    ]
    assert writer.records == 4


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b'{"kind":"ws"}',
        b'{"t":1,"kind":"weird"}',
        b'{"t":1.5,"kind":"ws"}',
        b'{"t":1,"kind":"ws","data":5}',
    ],
)
def test_malformed_recording_lines_raise_parse_error(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(line + b"\n")
    with pytest.raises(ParseError):
        list(read_recording(path))


def test_cryptofeed_format_timestamps_are_exact_nanoseconds(tmp_path: Path) -> None:
    ws = tmp_path / "X.ws.1.0"
    http = tmp_path / "X.http.0.0"
    ws.write_text(f"{URL} <-> 1633998511.159679\n1633998512.0633569: {{}}\n")
    http.write_text("https://h/api/v3/depth?symbol=BTCUSDT&limit=1000 -> 1633998512.5: {}\n")
    records = list(read_cryptofeed(ws, http))
    assert [(r.t, r.kind) for r in records] == [
        (1633998511159679000, "connect"),
        (1633998512063356900, "ws"),
        (1633998512500000000, "snapshot"),
    ]
    assert records[2].symbol == "BTCUSDT"
    assert load_script().records_of(ws) is not None


def test_cryptofeed_lines_without_the_expected_shape_raise_parse_error(tmp_path: Path) -> None:
    ws = tmp_path / "X.ws.1.0"
    ws.write_text("no separator here\n")
    with pytest.raises(ParseError):
        list(read_cryptofeed(ws))
    http = tmp_path / "X.http.0.0"
    http.write_text("https://h/api/v3/depth -> 1.0: {}\n")
    ws.write_text("")
    with pytest.raises(ParseError):
        list(read_cryptofeed(ws, http))


def test_reconnect_of_one_shard_resyncs_only_the_symbols_it_carried(tmp_path: Path) -> None:
    url_b = "wss://stream.binance.com:9443/stream?streams=ethusdt@depth@100ms"
    bid, ask = [["100.00000000", "1.00000000"]], [["101.00000000", "1.00000000"]]
    path = tmp_path / "shards.jsonl"
    with RecordWriter(path) as writer:
        writer.connect(1, URL)
        writer.connect(2, url_b)  # a second shard: not a reconnect
        writer.ws(3, URL, depth(10, 10))
        writer.ws(4, url_b, depth(50, 50, symbol="ETHUSDT"))
        writer.snapshot(5, "BTCUSDT", snapshot(10, bid, ask))
        writer.snapshot(6, "ETHUSDT", snapshot(50, bid, ask))
        writer.connect(7, url_b)  # shard B reconnects
        writer.ws(8, URL, depth(11, 11))
    report = load_script().replay(read_recording(path))
    assert report["reconnects"] == 1
    assert report["symbols"]["BTCUSDT"]["status"] == "valid"
    assert report["symbols"]["BTCUSDT"]["resyncs"] == 0
    assert report["symbols"]["ETHUSDT"]["status"] == "resyncing"


# -- the script as a user misuses it, and recordings a crash or a disk damaged ----------------


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the script as a user does (a subprocess, bounded)."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def run_main(capsys: pytest.CaptureFixture[str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Call the script's main(argv) in this process (faster); same shape as run_script."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        code = load_script().main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def good_recording(path: Path) -> list[str]:
    """Write a small valid recording; return its lines."""
    with RecordWriter(path) as writer:
        writer.connect(1, URL)
        writer.ws(2, URL, depth(10, 11, bids=[["100.00000000", "1.00000000"]]))
        writer.snapshot(
            3,
            "BTCUSDT",
            snapshot(10, [["99.00000000", "2.00000000"]], [["101.00000000", "1.00000000"]]),
        )
        writer.ws(4, URL, depth(12, 12, asks=[["100.50000000", "3.00000000"]]))
        writer.ws(5, URL, depth(13, 13, bids=[["100.00000000", "4.00000000"]]))
    return path.read_text().splitlines(keepends=True)


def one_error_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("replay_book.py: error: "), done.stderr
    assert all(word in lines[0] for word in words), lines[0]


def test_a_missing_file_is_one_error_line_and_exit_status_2(tmp_path: Path) -> None:
    one_error_line(run_script(str(tmp_path / "nope.jsonl")), "cannot read", "No such file")


def test_a_directory_is_one_error_line_and_exit_status_2(run_main: Any, tmp_path: Path) -> None:
    one_error_line(run_main(str(tmp_path)), "is a directory")


def test_a_missing_http_file_is_one_error_line_and_exit_status_2(
    run_main: Any, tmp_path: Path
) -> None:
    ws = tmp_path / "X.ws.1.0"
    ws.write_text(f"{URL} <-> 1.0\n")
    one_error_line(run_main(str(ws), "--http", str(tmp_path / "none")), "cannot read")


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 64, b"{\x00\xff binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n"],
)
def test_a_binary_file_is_not_a_recording(run_main: Any, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(content)
    one_error_line(run_main(str(path)), "is not a recording", "line 1")


def test_a_truncated_last_line_replays_up_to_it_with_a_warning_and_a_report(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crashed.jsonl"
    lines = good_recording(path)
    path.write_text("".join(lines) + lines[-1][:25])  # a crash while writing the next record
    done = run_script(str(path))
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "line 7 is truncated" in warnings[0]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["torn_line"] == 7 and report["skipped_lines"] == 0
    btc = report["symbols"]["BTCUSDT"]
    assert btc["status"] == "valid" and btc["last_update_id"] == 13
    assert btc["best_bid"] == ["100", "4"] and "Traceback" not in done.stderr


def test_a_bad_line_in_the_middle_is_skipped_with_a_counted_warning(
    run_main: Any, tmp_path: Path
) -> None:
    path = tmp_path / "damaged.jsonl"
    lines = good_recording(path)
    lines[4] = "\x00\x00garbage from a damaged disk\n"  # the diff 12..12 is lost
    path.write_text("".join(lines))
    done = run_main(str(path))
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "line 5 skipped" in warnings[0]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["skipped_lines"] == 1 and report["torn_line"] is None
    btc = report["symbols"]["BTCUSDT"]
    assert btc["gaps"] == 1 and btc["status"] == "resyncing"  # the lost diff was noticed


def test_many_bad_lines_warn_ten_times_then_give_the_total(run_main: Any, tmp_path: Path) -> None:
    path = tmp_path / "damaged.jsonl"
    lines = good_recording(path)
    path.write_text("".join(lines[:2] + ["not json\n"] * 25 + lines[2:]))
    done = run_main(str(path))
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 11 and "25 lines skipped" in warnings[-1]
    assert json.loads(done.stdout.splitlines()[-1])["skipped_lines"] == 25


META = {
    "t": 0,
    "kind": "meta",
    "data": orjson.dumps({"format": FORMAT, "venue": "binance"}).decode(),
}


@pytest.mark.parametrize("content", ["", "\n\n", orjson.dumps(META).decode() + "\n"])
def test_an_empty_recording_says_so_and_exits_non_zero(
    run_main: Any, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    done = run_main(str(path))
    assert done.returncode == 1
    assert "holds no market data" in done.stderr and "Traceback" not in done.stderr


def test_a_malformed_diff_in_a_recording_resyncs_its_book_as_live(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    good_recording(path)
    bad = depth(14, 14, bids=[["100.00000000", "-1.00000000"]])  # a '-': the strict path
    records = [*read_recording(path), Record(6, "ws", URL, None, bad)]
    report = load_script().replay(records)
    btc = report["symbols"]["BTCUSDT"]
    assert btc["malformed"] == 1 and btc["status"] == "resyncing" and btc["resyncs"] == 1
    assert report["parse_errors"] == {"ParseError": 1} and btc["rule_violations"] == 0


def test_readers_report_bad_lines_with_their_number_and_whether_the_line_is_torn(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"t":1,"kind":"connect","url":"u"}\nnot json\n{"t":2,"kind":"ws"')
    bad: list[BadLine] = []
    records = list(read_recording(path, bad.append))
    assert records == [Record(1, "connect", "u")]
    assert [(b.line_no, b.torn, type(b.error)) for b in bad] == [
        (2, False, ParseError),
        (3, True, ParseError),
    ]
    ws = tmp_path / "X.ws.1.0"
    ws.write_bytes(f"{URL} <-> 1.0\n".encode() + b"\xff\xfe: x\n" + b"2.0: {}")
    bad.clear()
    assert [r.kind for r in read_cryptofeed(ws, None, bad.append)] == ["connect", "ws"]
    assert [(b.line_no, b.torn) for b in bad] == [(2, False)]


def test_a_recording_of_another_venue_is_one_error_line(run_main: Any, tmp_path: Path) -> None:
    path = tmp_path / "okx.jsonl"
    meta = {**META, "data": orjson.dumps({"format": FORMAT, "venue": "okx"}).decode()}
    path.write_text(orjson.dumps(meta).decode() + "\n")
    one_error_line(run_main(str(path)), "records 'okx'")
