"""FIX value formats: one check per dictionary type, and each check's expression.

Each format is one regex fullmatch (ranges included) so that a check is a single C call; the
same source is embedded in the expressions of learnt message shapes (:mod:`.shapes`). Every
pattern matches a value in at most one way, so matching never backtracks more than linearly.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["FORMATS", "MULTIPLE", "PATTERNS", "Field"]

_FRACTION = rb"(?:\.\d{3}|\.\d{6}|\.\d{9})?"
_YMD = rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_HMS = rb"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"  # 60: leap second
PATTERNS = {
    # Counts become int(): more than 18 digits is hostile (int() raises past 4300).
    "INT": rb"-?\d{1,18}",
    "NUMINGROUP": rb"\d{1,18}",
    "SEQNUM": rb"\d+",
    "LENGTH": rb"\d+",
    "DAYOFMONTH": rb"0?[1-9]|[12]\d|3[01]",
    "BOOLEAN": rb"[YN]",
    "CHAR": rb".",
    "UTCTIMESTAMP": _YMD + rb"-" + _HMS + _FRACTION,
    "UTCTIMEONLY": _HMS + _FRACTION,
    "UTCDATEONLY": _YMD,
    "UTCDATE": _YMD,
    "LOCALMKTDATE": _YMD,
    "DATE": _YMD,
    "MONTHYEAR": rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|w[1-5])?",
    # FIX floats: optional '-', digits with at most one '.'; no '+', exponent or spaces. Each
    # value has one way to match: "\d+\.?\d*" had n ways for n digits, which made a check
    # of a long number quadratic and a failing shape expression exponential.
    "PRICE": rb"-?(?:\d+(?:\.\d*)?|\.\d+)",
}
for _name in ("QTY", "AMT", "FLOAT", "PRICEOFFSET", "PERCENTAGE"):
    PATTERNS[_name] = PATTERNS["PRICE"]
# bytes.isdigit is the "\d+" check (ASCII digits only), without a regex call.
FORMATS: dict[str, Callable[[bytes], object]] = {
    name: bytes.isdigit if pattern == rb"\d+" else re.compile(pattern, re.DOTALL).fullmatch
    for name, pattern in PATTERNS.items()
}
MULTIPLE = frozenset({"MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "MULTIPLECHARVALUE"})


class Field:
    """One dictionary field: number, name, FIX type, enum values and its format check."""

    __slots__ = ("check", "enums", "multiple", "name", "number", "type")

    def __init__(self, number: int, name: str, type_: str, enums: frozenset[bytes]) -> None:
        self.number = number
        self.name = name
        self.type = type_
        self.enums = enums or None
        self.multiple = type_ in MULTIPLE
        self.check = FORMATS.get(type_)
