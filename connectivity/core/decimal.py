"""Exact prices and quantities: venue decimal strings <-> fixed-point integers.

A fixed-point value is a plain ``int`` holding ``value * 10**scale``. Hot paths (books, FIX
and JSON parsers) work on these ints; ``Decimal`` appears only at the public edge. Nothing here
ever touches ``float``.

Formatting never produces exponent notation, a sign on zero, or locale separators: it always
matches Binance's parameter regex ``^([0-9]{1,20})(\\.[0-9]{1,20})?$`` for non-negative values.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Callable
from decimal import Decimal

from connectivity.errors import ParseError

__all__ = [
    "MAX_SCALE",
    "Rounding",
    "decimal_to_fixed",
    "fixed_to_decimal",
    "format_decimal",
    "FixedCache",
    "fixed_parser",
    "format_fixed",
    "parse_decimal",
    "parse_fixed",
    "round_to_increment",
    "round_qty",
    "round_price",
    "scale_of",
]

MAX_SCALE = 18
_POW10 = tuple(10**i for i in range(64))


class Rounding(enum.Enum):
    """How to bring a value onto an increment grid."""

    DOWN = "down"  # toward zero: quantities (never exceed what you have)
    UP = "up"  # away from zero
    NEAREST = "nearest"  # half-even
    FLOOR = "floor"  # toward -infinity: a bid never improves past the intended price
    CEILING = "ceiling"  # toward +infinity: an ask never improves past the intended price


def _bad(text: object, why: str) -> ParseError:
    return ParseError(f"invalid decimal {text!r}: {why}")


def parse_fixed(text: str | bytes, scale: int) -> int:
    """Parse a plain decimal string into an int scaled by ``10**scale``, exactly.

    Accepts an optional leading ``-``, digits, and at most one ``.``; raises
    :class:`ParseError` on anything else, or when digits beyond ``scale`` are non-zero
    (the value is not representable at that scale).
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise _bad(text, "non-ASCII") from None
    negative = text[:1] == "-"
    body = text[1:] if negative else text
    dot = body.find(".")
    if dot < 0:
        whole, frac = body, ""
    else:
        whole, frac = body[:dot], body[dot + 1 :]
    digits = whole + frac
    if (
        not digits
        or not digits.isascii()
        or not digits.isdigit()
        or (dot >= 0 and not (whole and frac))
    ):
        raise _bad(text, "expected digits with an optional '.' fraction")
    n = len(frac)
    if n > scale:
        if frac[scale:].strip("0"):
            raise _bad(text, f"more than {scale} significant decimals")
        digits = whole + frac[:scale]
        n = scale
    value = int(digits) * _POW10[scale - n]
    return -value if negative else value


def format_fixed(value: int, scale: int, *, min_decimals: int = 0) -> str:
    """Format a scaled int as a plain decimal string, trailing zeros trimmed.

    ``min_decimals`` keeps at least that many decimals (e.g. to echo a venue's style).
    """
    sign = "-" if value < 0 else ""
    value = -value if value < 0 else value
    if scale == 0:
        text = str(value)
        return sign + (text + "." + "0" * min_decimals if min_decimals else text)
    whole, frac = divmod(value, _POW10[scale])
    frac_text = str(frac).rjust(scale, "0").rstrip("0")
    if len(frac_text) < min_decimals:
        frac_text = frac_text.ljust(min_decimals, "0")
    if value == 0:
        sign = ""
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


def scale_of(text: str) -> int:
    """Return the number of significant decimals of a decimal string (``"0.0100"`` -> 2)."""
    dot = text.find(".")
    if dot < 0:
        return 0
    return len(text[dot + 1 :].rstrip("0"))


def parse_decimal(text: str | bytes) -> Decimal:
    """Parse a plain venue decimal string into ``Decimal`` (no exponent, no NaN, no spaces)."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("ascii", "replace")
    negative = text[:1] == "-"
    body = text[1:] if negative else text
    whole, _, frac = body.partition(".")
    digits = whole + frac
    if not whole or not digits.isascii() or not digits.isdigit() or (body.endswith(".")):
        raise _bad(text, "expected digits with an optional '.' fraction")
    return Decimal(text)


def decimal_to_fixed(value: Decimal, scale: int) -> int:
    """Convert a finite ``Decimal`` to a scaled int; raise if it needs more than ``scale``."""
    if not value.is_finite():
        raise _bad(value, "not finite")
    scaled = value.scaleb(scale)
    integral = scaled.to_integral_value(rounding=decimal.ROUND_DOWN)
    if integral != scaled:
        raise _bad(value, f"more than {scale} decimals")
    return int(integral)


def fixed_to_decimal(value: int, scale: int) -> Decimal:
    """Convert a scaled int back to an exact ``Decimal``."""
    return Decimal(value).scaleb(-scale)


def format_decimal(value: Decimal) -> str:
    """Format a ``Decimal`` as a plain string: no exponent, trailing zeros trimmed."""
    if not value.is_finite():
        raise _bad(value, "not finite")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


_ROUNDING = {
    Rounding.DOWN: decimal.ROUND_DOWN,
    Rounding.UP: decimal.ROUND_UP,
    Rounding.NEAREST: decimal.ROUND_HALF_EVEN,
    Rounding.FLOOR: decimal.ROUND_FLOOR,
    Rounding.CEILING: decimal.ROUND_CEILING,
}


def round_to_increment(value: Decimal, increment: Decimal, rounding: Rounding) -> Decimal:
    """Round ``value`` to a multiple of ``increment``; an increment of 0 leaves it unchanged."""
    if increment < 0:
        raise ValueError(f"increment must be >= 0, got {increment}")
    if increment == 0:
        return value
    with decimal.localcontext() as ctx:
        ctx.prec = 80  # exact for any venue-sized value: no silent rounding in the division
        steps = (value / increment).quantize(Decimal(1), rounding=_ROUNDING[rounding])
        result = steps * increment
        # Express the result at the increment's exponent so it formats like the venue's grid.
        exponent = min(int(increment.normalize().as_tuple().exponent), 0)
        return result.quantize(Decimal(1).scaleb(exponent)) if result != 0 else Decimal(0)


def round_qty(qty: Decimal, step: Decimal) -> Decimal:
    """Round a quantity DOWN to the step size (rounding up could exceed the balance)."""
    return round_to_increment(qty, step, Rounding.DOWN)


def round_price(price: Decimal, tick: Decimal, rounding: Rounding = Rounding.NEAREST) -> Decimal:
    """Round a price to the tick size (nearest by default; FLOOR for bids, CEILING for asks)."""
    return round_to_increment(price, tick, rounding)


class FixedCache(dict[str, int]):
    """Memoised exact ``str -> int`` at one scale: ``cache[text]``; non-negative values only.

    A hit is a plain C-level dict lookup (no Python frame), which is what makes it fast:
    venue books repeat the same price strings all the time. A miss is parsed strictly
    (:func:`parse_fixed` rules; negative values raise :class:`ParseError`), stored, and the
    cache is emptied when it reaches ``max_size`` entries, so memory stays bounded.
    """

    __slots__ = ("_width", "max_size", "scale")

    def __init__(self, scale: int, max_size: int = 8192) -> None:
        if not 0 <= scale <= MAX_SCALE:
            raise ValueError(f"scale must be within 0..{MAX_SCALE}, got {scale}")
        super().__init__()
        self.scale = scale
        self.max_size = max_size
        # Characters from the '.' to the end in the usual format; at scale 0 there is no usual
        # format with a '.' ("7." is not a decimal), so every dotted string is parsed strictly.
        self._width = scale + 1 if scale else -1

    def __missing__(self, text: str) -> int:
        dot = text.find(".")
        digits = text.replace(".", "", 1)
        # isascii + isdigit exclude what int() would tolerate: signs, '_', spaces, non-ASCII.
        if dot > 0 and len(text) - dot == self._width and digits.isascii() and digits.isdigit():
            value = int(digits)
        else:
            value = parse_fixed(text, self.scale)
            if value < 0:
                raise _bad(text, "negative")
        if len(self) >= self.max_size:
            self.clear()
        self[text] = value
        return value


def fixed_parser(scale: int, *, cache_size: int = 8192) -> Callable[[str], int]:
    """Return a fast, exact, non-negative ``str -> int`` parser at ``scale`` for hot paths.

    It is the bound ``__getitem__`` of a :class:`FixedCache`: a cached string costs one
    C-level lookup; anything else is parsed strictly and cached.
    """
    return FixedCache(scale, cache_size).__getitem__
