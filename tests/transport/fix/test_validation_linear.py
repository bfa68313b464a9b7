"""Hostile values cost linear time: no value format backtracks more than once over a value.

Each test runs under a guard that interrupts it after a few seconds (the regex engine checks
for signals), so a regression fails instead of hanging; when linear they take microseconds.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectivity.transport.fix.dictionary import FixDictionary, FixValidationError
from connectivity.transport.fix.formats import FORMATS
from tests.transport.fix.test_validation_equivalence import NOW, build, split

FIX44 = FixDictionary.builtin("FIX44")
ORDER = f"35=D|34=2|49=TW44|52={NOW}|56=ISLD|11=ID|21=1|40=2|54=1|55=INTC|"
PRICE_TAGS = (38, 44, 99, 110, 111, 152, 210, 211)


@contextmanager
def guard(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds``: a guard against a hang, not a measurement."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_price_of_fifty_thousand_digits_is_rejected_without_quadratic_backtracking() -> None:
    raw = build(split(f"{ORDER}38={'1' * 50_000}x|60={NOW}|"))
    with guard(5), pytest.raises(FixValidationError) as caught:
        FIX44.parse(raw)
    assert (caught.value.reject_reason, caught.value.ref_tag) == (6, 38)


def test_a_known_shape_with_long_numbers_and_a_bad_last_value_fails_fast() -> None:
    fresh = FIX44.with_options()
    prices = "".join(f"{tag}=1|" for tag in PRICE_TAGS)
    fresh.parse(build(split(f"{ORDER}{prices}60={NOW}|")))  # learns the shape
    long_prices = "".join(f"{tag}={'7' * 25}|" for tag in PRICE_TAGS)
    with guard(5), pytest.raises(FixValidationError) as caught:
        fresh.parse(build(split(f"{ORDER}{long_prices}60=20241301-00:00:00|")))
    assert (caught.value.reject_reason, caught.value.ref_tag) == (6, 60)


ORIGINAL_PRICE = re.compile(rb"-?(?:\d+\.?\d*|\.\d+)", re.DOTALL).fullmatch


@given(st.text(alphabet="0123456789.-+e ", max_size=8))
def test_the_price_format_accepts_exactly_what_it_did_before(text: str) -> None:
    value = text.encode()
    assert bool(FORMATS["PRICE"](value)) == bool(ORIGINAL_PRICE(value))
