"""scripts/stream_book.py against its embedded simulated venue, in plain (non-terminal) mode."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import gevent
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "stream_book.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stream_book_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Handler:
    """What ``gevent.signal_handler`` returns: something to cancel."""

    def cancel(self) -> None:
        pass


def test_plain_mode_prints_a_line_per_symbol_per_second_and_a_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stopped as Ctrl-C stops it, once a VALID line is out: however slow the machine is, the
    # book had time to become valid (a fixed --duration would race the startup).
    stops: list[Callable[[], None]] = []

    def signal_handler(signum: int, callback: Callable[[], None]) -> _Handler:
        stops.append(callback)
        return _Handler()

    monkeypatch.setattr(gevent, "signal_handler", signal_handler)
    record = tmp_path / "rec.jsonl"
    argv = ["--symbol", "BTC-USDT", "--duration", "120", "--record", str(record)]
    runner = gevent.spawn(_load().main, argv)
    out: list[str] = []
    try:
        with gevent.Timeout(60, AssertionError("no VALID line within 60 s")):
            while not any(line.startswith("BTCUSDT VALID") for line in out):
                runner.join(timeout=0.05)
                out += capsys.readouterr().out.splitlines()
        stops[0]()
        code = runner.get(timeout=10)
    finally:
        runner.kill()
    out += capsys.readouterr().out.splitlines()
    assert code == 0
    lines = [line for line in out if line.startswith("BTCUSDT VALID")]
    assert lines and "spread=" in lines[-1] and "lat_ms p50=" in lines[-1]
    assert any(line.startswith("BTCUSDT: ever_valid=True") for line in out)
    assert "books valid 1/1 snapshots pending=0 in_flight=0 fetched=1" in out  # progress
    assert '"kind":"snapshot"' in record.read_text()


def test_a_symbol_the_simulator_does_not_list_is_refused() -> None:
    assert _load().main(["--symbol", "DOGEUSDT", "--duration", "0.1"]) == 2


# -- a user's mistakes: one clear line on stderr, exit status 2, nothing started --------------


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--duration", "nan"], "--duration"),
        (["--duration", "inf"], "--duration"),
        (["--duration", "0"], "--duration"),
        (["--duration", "-1"], "--duration"),
        (["--duration", "soon"], "--duration"),
        (["--depth", "0"], "--depth"),
        (["--depth", "-1"], "--depth"),
        (["--depth", "1e9"], "--depth"),
        (["--book-depth", "0"], "--book-depth"),
        (["--symbol", "BTC-"], "BASE-QUOTE"),
        (["--symbol", "BTC/USDT"], "--symbol"),
        (["--symbol", ""], "--symbol"),
    ],
)
def test_a_bad_argument_is_one_line_on_stderr_and_exit_status_2(
    args: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _load().main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("stream_book") and complaint in err[0]


@pytest.mark.parametrize("where", ["missing/rec.jsonl", "."])
def test_a_recording_path_that_cannot_be_written_is_refused_before_anything_starts(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _load().main(["--duration", "5", "--record", str(tmp_path / where)])
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "cannot write the recording" in err[0]


def test_the_real_command_line_prints_no_traceback_for_a_bad_argument() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--duration", "inf"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
