"""scripts/stream_book.py against its embedded simulated venue, in plain (non-terminal) mode."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "stream_book.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stream_book_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plain_mode_prints_a_line_per_symbol_per_second_and_a_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record = tmp_path / "rec.jsonl"
    code = _load().main(["--symbol", "BTC-USDT", "--duration", "1.6", "--record", str(record)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    lines = [line for line in out if line.startswith("BTCUSDT VALID")]
    assert lines and "spread=" in lines[-1] and "lat_ms p50=" in lines[-1]
    assert any(line.startswith("BTCUSDT: ever_valid=True") for line in out)
    assert "books valid 1/1 snapshots pending=0 in_flight=0 fetched=1" in out  # progress
    assert '"kind":"snapshot"' in record.read_text()


def test_a_symbol_the_simulator_does_not_list_is_refused() -> None:
    assert _load().main(["--symbol", "DOGEUSDT", "--duration", "0.1"]) == 2
