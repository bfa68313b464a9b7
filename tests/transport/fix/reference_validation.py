"""The dictionary validation as it was before compiled plans and shapes: a test oracle only.

A frozen copy of the original field-by-field walk (formats included), reading the loaded tables
of a :class:`FixDictionary`. ``test_validation_equivalence`` checks that the library's
validator gives the same verdict - the same reject reason, tag and text - on many mutated
messages, both on a shape's first sight (the walk) and once the shape is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from connectivity.transport.fix.codec import FixMessage
from connectivity.transport.fix.dictionary import FixDictionary, FixValidationError

_FRACTION = rb"(?:\.\d{3}|\.\d{6}|\.\d{9})?"
_YMD = rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_HMS = rb"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"
_CHECKS = {
    "INT": rb"-?\d{1,18}",
    "NUMINGROUP": rb"\d{1,18}",
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
    "PRICE": rb"-?(?:\d+\.?\d*|\.\d+)",
}
_FORMATS: dict[str, Callable[[bytes], object]] = {
    name: re.compile(pattern, re.DOTALL).fullmatch for name, pattern in _CHECKS.items()
}
for _name in ("SEQNUM", "LENGTH"):
    _FORMATS[_name] = bytes.isdigit
for _name in ("QTY", "AMT", "FLOAT", "PRICEOFFSET", "PERCENTAGE"):
    _FORMATS[_name] = _FORMATS["PRICE"]
_MULTIPLE = frozenset({"MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "MULTIPLECHARVALUE"})
_FRAMING_TAGS = frozenset({8, 9, 35, 10})
_USER_DEFINED_MIN = 5000


class ReferenceValidator:
    """The original validation walk over a dictionary's loaded tables."""

    def __init__(self, dictionary: FixDictionary) -> None:
        self.d = dictionary
        header = dictionary.header
        self.header_all = header.tags | {t for g in header.groups.values() for t in g.tags}
        self.misplaced = frozenset(self.header_all | dictionary.trailer.tags)
        self.specs = {
            n: (None, None, False)
            if n in _FRAMING_TAGS
            else (_FORMATS.get(f.type), f.enums, f.type in _MULTIPLE)
            for n, f in dictionary.fields.items()
        }

    def validate(self, message: FixMessage) -> None:
        d = self.d
        fields = message.fields
        if fields[0][1] != d.begin_string:
            raise FixValidationError(5, 8, message, "BeginString value unexpected")
        n = len(fields)
        header_end = 3
        while header_end < n - 1 and fields[header_end][0] in self.header_all:
            header_end += 1
        trailer_start = n - 1
        while trailer_start > header_end and fields[trailer_start - 1][0] in d.trailer.tags:
            trailer_start -= 1
        if not self.misplaced.isdisjoint([tag for tag, _ in fields[header_end:trailer_start]]):
            for tag, _ in fields[header_end:trailer_start]:
                if tag in self.misplaced:
                    raise FixValidationError(14, tag, message)
        entry = d.messages.get(message.msg_type)
        if entry is None:
            raise FixValidationError(11, None, message)
        body = entry[1]
        for layout in (d.header, body, d.trailer):
            for tag in layout.required:
                if tag not in message:
                    raise FixValidationError(1, tag, message)
        self._walk(fields, 3, header_end, d.header, message, {8, 9, 35})
        self._walk(fields, trailer_start, n - 1, d.trailer, message, {10})
        seen = self._walk(fields, header_end, trailer_start, body, message, set())
        for tag in body.required:
            if tag not in seen:
                raise FixValidationError(1, tag, message)

    def _check_value(self, tag: int, value: bytes, message: FixMessage) -> bool:
        if not value:
            raise FixValidationError(4, tag, message)
        spec = self.specs.get(tag)
        if spec is None:
            if tag <= 0 or self._checks_unknown(tag):
                raise FixValidationError(0, tag, message)
            return False
        check, enums, multiple = spec
        if check is not None and not check(value):
            raise FixValidationError(6, tag, message)
        if (
            enums is not None
            and value not in enums
            and (not multiple or any(v not in enums for v in value.split(b" ")))
        ):
            raise FixValidationError(5, tag, message)
        return True

    def _checks_unknown(self, tag: int) -> bool:
        if tag >= _USER_DEFINED_MIN:
            return self.d.validate_user_defined_fields
        return not self.d.allow_unknown_message_fields

    def _walk(
        self,
        fields: list[tuple[int, bytes]],
        i: int,
        end: int,
        layout: Any,
        msg: FixMessage,
        seen: set[int],
    ) -> set[int]:
        while i < end:
            tag, value = fields[i]
            i += 1
            if tag in seen:
                raise FixValidationError(13, tag, msg)
            seen.add(tag)
            if not self._check_value(tag, value, msg):
                continue
            if tag not in layout.tags:
                if self._checks_unknown(tag):
                    raise FixValidationError(2, tag, msg)
                continue
            if tag in layout.groups:
                i = self._walk_group(fields, i, end, tag, int(value), layout.groups[tag], msg)
        return seen

    def _walk_group(
        self,
        fields: list[tuple[int, bytes]],
        i: int,
        end: int,
        count_tag: int,
        count: int,
        group: Any,
        msg: FixMessage,
    ) -> int:
        entries = 0
        boundary = 0
        entry: set[int] = set()
        while i < end:
            tag, value = fields[i]
            if tag not in group.tags:
                break
            if not boundary:
                boundary = tag
                if tag != group.delimiter and self.d.strict_group_order:
                    raise FixValidationError(15, tag, msg)
            if tag == boundary:
                self._entry_complete(entry, group, msg)
                entries += 1
                entry = set()
            elif tag in entry:
                raise FixValidationError(15, tag, msg)
            entry.add(tag)
            i += 1
            self._check_value(tag, value, msg)
            nested = group.groups.get(tag)
            if nested is not None:
                i = self._walk_group(fields, i, end, tag, int(value), nested, msg)
        self._entry_complete(entry, group, msg)
        if entries != count:
            raise FixValidationError(16, count_tag, msg)
        return i

    @staticmethod
    def _entry_complete(entry: set[int], group: Any, msg: FixMessage) -> None:
        if entry:
            for tag in group.required:
                if tag not in entry:
                    raise FixValidationError(1, tag, msg)
