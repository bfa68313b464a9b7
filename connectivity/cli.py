"""Command-line helpers for entry points (``scripts/*``, a bot's ``main``); stdlib only.

A user's mistake gets one clear line on stderr and exit status 2, never a traceback or a
usage screen: :class:`ArgumentParser` reports argument errors that way, and
:meth:`ArgumentParser.fail` does the same for what can only be checked after parsing (a file
that cannot be opened). The argparse types refuse values that parse but mean nothing
(``--duration nan``, ``--depth 0``).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

__all__ = ["ArgumentParser", "bounded_int", "positive_seconds"]


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr (``prog: error: ...``), exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` (no usage block) and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")

    def fail(self, message: str) -> int:
        """Print the same one line for an error found after parsing; return the status, 2."""
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        return 2


def positive_seconds(text: str) -> float:
    """Parse a finite number of seconds above 0 (``nan``, ``inf``, 0 and negatives refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    return value


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type accepting integers in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be within {low}..{high}, got {value}")
        return value

    return parse
