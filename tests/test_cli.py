"""connectivity.cli: one-line argument errors and the checked argparse types."""

from __future__ import annotations

import argparse

import pytest

from connectivity.cli import ArgumentParser, bounded_int, positive_seconds


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "0", "-1", "1e400", "soon", ""])
def test_positive_seconds_refuses_what_is_not_a_finite_positive_duration(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        positive_seconds(text)


def test_positive_seconds_accepts_fractions() -> None:
    assert positive_seconds("0.25") == 0.25


@pytest.mark.parametrize("text", ["0", "6", "-1", "2.5", "x"])
def test_bounded_int_refuses_values_outside_its_range(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        bounded_int(1, 5)(text)


def test_parser_errors_are_one_line_and_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    parser = ArgumentParser(prog="tool")
    parser.add_argument("--n", type=bounded_int(1, 5), required=True)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--n", "9"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "tool: error: argument --n: must be within 1..5, got 9\n"
    assert parser.fail("no such file") == 2
    assert capsys.readouterr().err == "tool: error: no such file\n"
