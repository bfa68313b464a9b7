"""QuickFIX-format XML data dictionaries and session-level message validation.

:class:`FixDictionary` loads the XML that venues publish (QuickFIX's ``FIX44.xml``, Binance's
``spot-fix-oe.xml`` / ``spot-fix-md.xml``) with the stdlib parser, expands components, and
precomputes per-message tables (allowed tags, required tags, group layouts, per-tag format and
enum checks) so that :meth:`FixDictionary.validate` is one pass over the fields.

A failed check raises :class:`FixValidationError` carrying what a session-level Reject needs:
``reject_reason`` (SessionRejectReason, 373), ``ref_tag`` (RefTagID, 371) and ``text`` (58).
The checks, their order and their texts follow QuickFIX, whose acceptance scripts 14a-14i, 2q
and 21 spell them out: fields out of order (14) first, then MsgType (11), required fields (1),
then field by field: repeated (13), empty (4), format (6), enum (5), unknown tag (0), tag not in
this message (2), group layout (15) and group count (16).

Groups: an entry begins at the group's delimiter (its first field). Some venues send another
member first (Binance's ListStatus puts Symbol before ClOrdID), so by default the first member
seen after the count marks entry boundaries; ``strict_group_order=True`` insists on the
delimiter. A member repeated within one entry is always out of order (15).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path

from connectivity.errors import ConfigError
from connectivity.transport.fix.codec import FixMessage, FixParseError

__all__ = [
    "BUILTIN_DICTIONARIES",
    "FIX44_HEADER_TAGS",
    "REJECT_TEXT",
    "FixDictionary",
    "FixValidationError",
    "builtin_path",
    "validate_structure",
]

REJECT_TEXT = {
    0: "Invalid tag number",
    1: "Required tag missing",
    2: "Tag not defined for this message type",
    3: "Undefined Tag",
    4: "Tag specified without a value",
    5: "Value is incorrect (out of range) for this tag",
    6: "Incorrect data format for value",
    9: "CompID problem",
    10: "SendingTime accuracy problem",
    11: "Invalid MsgType",
    13: "Tag appears more than once",
    14: "Tag specified out of required order",
    15: "Repeating group fields out of order",
    16: "Incorrect NumInGroup count for repeating group",
}
# The standard FIX 4.4 header, for structural checks when no dictionary is loaded.
FIX44_HEADER_TAGS = frozenset(
    {8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143, 116, 144, 129, 145, 43, 97, 52,
     122, 212, 213, 347, 369, 627, 628, 629, 630}
)  # fmt: skip
FIX44_TRAILER_TAGS = frozenset({93, 89, 10})
_FRAMING_TAGS = frozenset({8, 9, 35, 10})
# Dictionaries shipped as package data (dictionaries/SOURCES.md says where each comes from).
BUILTIN_DICTIONARIES = ("FIX44", "binance-spot-fix-md", "binance-spot-fix-oe")
_USER_DEFINED_MIN = 5000


class FixValidationError(FixParseError):
    """A message broke its dictionary; carries the SessionRejectReason, RefTagID and Text."""

    def __init__(
        self, reject_reason: int, ref_tag: int | None, message: FixMessage, text: str | None = None
    ) -> None:
        self.reject_reason = reject_reason
        self.ref_tag = ref_tag
        self.text = text or REJECT_TEXT.get(reject_reason, "Other")
        where = "" if ref_tag is None else f" (tag {ref_tag})"
        super().__init__(f"{self.text}{where} [373={reject_reason}]", parsed=message)


# -- value formats ------------------------------------------------------------------------

# Each format is one regex fullmatch (ranges included) so a check is a single C call.
_FRACTION = rb"(?:\.\d{3}|\.\d{6}|\.\d{9})?"
_YMD = rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_HMS = rb"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"  # 60: leap second
_CHECKS = {
    # Counts become int(): more than 18 digits is hostile (int() raises past 4300).
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
    # FIX floats: optional '-', digits with at most one '.'; no '+', exponent or spaces.
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


class _Field:
    __slots__ = ("check", "enums", "multiple", "name", "number", "type")

    def __init__(self, number: int, name: str, type_: str, enums: frozenset[bytes]) -> None:
        self.number = number
        self.name = name
        self.type = type_
        self.enums = enums or None
        self.multiple = type_ in _MULTIPLE
        self.check = _FORMATS.get(type_)


class _Layout:
    """Tags allowed at one level (header, body, trailer or a group entry), with its groups."""

    __slots__ = ("delimiter", "groups", "required", "tags")

    def __init__(self) -> None:
        self.tags: set[int] = set()
        self.required: list[int] = []
        self.groups: dict[int, _Layout] = {}
        self.delimiter = 0  # first field of a group entry

    def freeze(self) -> None:
        self.required.sort()  # QuickFIX reports the lowest missing tag number first


class FixDictionary:
    """A loaded data dictionary: field names/types/enums, header, trailer and messages."""

    def __init__(
        self,
        begin_string: bytes,
        fields: dict[int, _Field],
        header: _Layout,
        trailer: _Layout,
        messages: dict[bytes, tuple[str, _Layout]],
        *,
        strict_group_order: bool = False,
        allow_unknown_message_fields: bool = False,
        validate_user_defined_fields: bool = True,
    ) -> None:
        self.begin_string = begin_string
        self.fields = fields
        self.header = header
        self.trailer = trailer
        self.messages = messages
        self.strict_group_order = strict_group_order
        self.allow_unknown_message_fields = allow_unknown_message_fields
        self.validate_user_defined_fields = validate_user_defined_fields
        self._by_name = {f.name: f.number for f in fields.values()}
        self._header_all = header.tags | {t for g in header.groups.values() for t in g.tags}
        self._misplaced = frozenset(self._header_all | trailer.tags)
        # tag -> (format check, enum values, space-separated?); framing tags are not checked
        self._specs = {
            n: (None, None, False) if n in _FRAMING_TAGS else (f.check, f.enums, f.multiple)
            for n, f in fields.items()
        }
        self.data_pairs = self._pair_data_fields()

    @classmethod
    def from_xml(
        cls,
        path: str | os.PathLike[str],
        *,
        strict_group_order: bool = False,
        allow_unknown_message_fields: bool = False,
        validate_user_defined_fields: bool = True,
    ) -> FixDictionary:
        """Load a QuickFIX-format XML dictionary (``FIX44.xml``, Binance's schemas)."""
        root = ET.parse(path).getroot()
        kind = root.get("type", "FIX")
        begin = f"{kind}.{root.get('major')}.{root.get('minor')}".encode("ascii")
        fields: dict[int, _Field] = {}
        by_name: dict[str, int] = {}
        for el in _children(root, "fields"):
            number, name = int(el.get("number", "0")), el.get("name", "")
            enums = frozenset(v.get("enum", "").encode("ascii") for v in el.iter("value"))
            fields[number] = _Field(number, name, el.get("type", "STRING").upper(), enums)
            by_name[name] = number
        components = {el.get("name", ""): el for el in _children(root, "components")}
        loader = _Loader(by_name, components)
        header = loader.layout(root.find("header"))
        trailer = loader.layout(root.find("trailer"))
        messages = {
            el.get("msgtype", "").encode("ascii"): (el.get("name", ""), loader.layout(el))
            for el in _children(root, "messages")
        }
        return cls(
            begin, fields, header, trailer, messages,
            strict_group_order=strict_group_order,
            allow_unknown_message_fields=allow_unknown_message_fields,
            validate_user_defined_fields=validate_user_defined_fields,
        )  # fmt: skip

    @classmethod
    def builtin(
        cls,
        name: str,
        *,
        strict_group_order: bool = False,
        allow_unknown_message_fields: bool = False,
        validate_user_defined_fields: bool = True,
    ) -> FixDictionary:
        """Load a dictionary shipped with the package by name (``"FIX44"``, ...).

        ``BUILTIN_DICTIONARIES`` lists the names, ``dictionaries/SOURCES.md`` origins and licences.
        """
        return cls.from_xml(
            builtin_path(name),
            strict_group_order=strict_group_order,
            allow_unknown_message_fields=allow_unknown_message_fields,
            validate_user_defined_fields=validate_user_defined_fields,
        )

    def with_options(
        self,
        *,
        strict_group_order: bool | None = None,
        allow_unknown_message_fields: bool | None = None,
        validate_user_defined_fields: bool | None = None,
    ) -> FixDictionary:
        """Return a copy sharing the loaded tables, with some validation options changed."""

        def pick(value: bool | None, current: bool) -> bool:
            return current if value is None else value

        return FixDictionary(
            self.begin_string, self.fields, self.header, self.trailer, self.messages,
            strict_group_order=pick(strict_group_order, self.strict_group_order),
            allow_unknown_message_fields=pick(
                allow_unknown_message_fields, self.allow_unknown_message_fields
            ),
            validate_user_defined_fields=pick(
                validate_user_defined_fields, self.validate_user_defined_fields
            ),
        )  # fmt: skip

    def _pair_data_fields(self) -> dict[int, int]:
        # RawData (96) <- RawDataLength (95), Signature (89) <- SignatureLength (93), ...
        pairs = {}
        for f in self.fields.values():
            if f.type == "DATA":
                for suffix in ("Length", "Len"):
                    length = self._by_name.get(f.name + suffix)
                    if length is not None and self.fields[length].type == "LENGTH":
                        pairs[length] = f.number
        return pairs

    def field_name(self, tag: int) -> str | None:
        """Return the field's name (``"ClOrdID"`` for 11), or None if not in the dictionary."""
        f = self.fields.get(tag)
        return None if f is None else f.name

    def field_number(self, name: str) -> int | None:
        """Return the tag number of the field called ``name``."""
        return self._by_name.get(name)

    def field_type(self, tag: int) -> str | None:
        """Return the field's FIX type (``"PRICE"``, ``"UTCTIMESTAMP"``, ...)."""
        f = self.fields.get(tag)
        return None if f is None else f.type

    def message_name(self, msg_type: bytes) -> str | None:
        """Return the message's name (``"NewOrderSingle"`` for ``b"D"``)."""
        entry = self.messages.get(msg_type)
        return None if entry is None else entry[0]

    def is_known_msg_type(self, msg_type: bytes) -> bool:
        """Return True if the dictionary defines ``msg_type``."""
        return msg_type in self.messages

    def is_header_tag(self, tag: int) -> bool:
        """Return True if ``tag`` belongs to the standard header."""
        return tag in self._header_all

    def validate(self, message: FixMessage) -> None:
        """Check ``message`` against the dictionary; FixValidationError on the first problem."""
        fields = message.fields
        if fields[0][1] != self.begin_string:
            raise FixValidationError(5, 8, message, "BeginString value unexpected")
        n = len(fields)
        header_end = 3
        while header_end < n - 1 and fields[header_end][0] in self._header_all:
            header_end += 1
        trailer_start = n - 1
        while trailer_start > header_end and fields[trailer_start - 1][0] in self.trailer.tags:
            trailer_start -= 1
        _check_order(fields, header_end, trailer_start, self._misplaced, message)
        entry = self.messages.get(message.msg_type)
        if entry is None:
            raise FixValidationError(11, None, message)
        body = entry[1]
        for layout in (self.header, body, self.trailer):
            for tag in layout.required:
                if tag not in message:
                    raise FixValidationError(1, tag, message)
        self._walk(fields, 3, header_end, self.header, message, {8, 9, 35})
        self._walk(fields, trailer_start, n - 1, self.trailer, message, {10})
        seen = self._walk(fields, header_end, trailer_start, body, message, set())
        for tag in body.required:  # a required tag found only inside a group does not count
            if tag not in seen:
                raise FixValidationError(1, tag, message)

    def _check_value(self, tag: int, value: bytes, message: FixMessage) -> bool:
        """Check one value; return False for a tag the dictionary lets through unchecked."""
        if not value:
            raise FixValidationError(4, tag, message)
        spec = self._specs.get(tag)
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
            return self.validate_user_defined_fields
        return not self.allow_unknown_message_fields

    def _walk(
        self,
        fields: list[tuple[int, bytes]],
        i: int,
        end: int,
        layout: _Layout,
        msg: FixMessage,
        seen: set[int],
    ) -> set[int]:
        """Check fields[i:end] at one level; each tag at most once, groups walked in place."""
        allowed, groups, specs = layout.tags, layout.groups, self._specs
        while i < end:
            tag, value = fields[i]
            i += 1
            if tag in seen:
                raise FixValidationError(13, tag, msg)
            seen.add(tag)
            spec = specs.get(tag)
            if spec is None or not value:  # unknown or empty: the careful path decides
                if not self._check_value(tag, value, msg):
                    continue
            else:  # the same checks as _check_value, inlined: this is the per-field hot path
                check, enums, _ = spec
                if check is not None and not check(value):
                    raise FixValidationError(6, tag, msg)
                if enums is not None and value not in enums:
                    self._check_value(tag, value, msg)
            if tag not in allowed:
                if self._checks_unknown(tag):
                    raise FixValidationError(2, tag, msg)
                continue
            if tag in groups:
                i = self._walk_group(fields, i, end, tag, int(value), groups[tag], msg)
        return seen

    def _walk_group(
        self,
        fields: list[tuple[int, bytes]],
        i: int,
        end: int,
        count_tag: int,
        count: int,
        group: _Layout,
        msg: FixMessage,
    ) -> int:
        """Walk the entries after a NumInGroup field; return the index after the group."""
        entries = 0
        boundary = 0
        entry: set[int] = set()
        while i < end:
            tag, value = fields[i]
            if tag not in group.tags:
                break
            if not boundary:
                boundary = tag
                if tag != group.delimiter and self.strict_group_order:
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
    def _entry_complete(entry: set[int], group: _Layout, msg: FixMessage) -> None:
        if entry:
            for tag in group.required:
                if tag not in entry:
                    raise FixValidationError(1, tag, msg)


def builtin_path(name: str) -> Path:
    """Return the file of a dictionary shipped with the package (for engines that load paths)."""
    if name not in BUILTIN_DICTIONARIES:
        choices = ", ".join(BUILTIN_DICTIONARIES)
        raise ConfigError(f"no built-in FIX dictionary {name!r}; choose one of {choices}")
    return Path(__file__).with_name("dictionaries") / f"{name}.xml"


def _children(root: ET.Element, section: str) -> Iterable[ET.Element]:
    el = root.find(section)
    return () if el is None else list(el)


class _Loader:
    """Expands components and groups of the XML into :class:`_Layout` tables."""

    def __init__(self, by_name: dict[str, int], components: dict[str, ET.Element]) -> None:
        self.by_name = by_name
        self.components = components

    def _number(self, name: str) -> int:
        number = self.by_name.get(name)
        if number is None:
            raise ValueError(f"dictionary refers to undefined field {name!r}")
        return number

    def layout(self, el: ET.Element | None) -> _Layout:
        layout = _Layout()
        if el is not None:
            self._fill(el, layout, True)
        layout.freeze()
        return layout

    def _fill(self, el: ET.Element, layout: _Layout, required: bool) -> None:
        for child in el:
            req = required and child.get("required", "N").upper() == "Y"
            name = child.get("name", "")
            if child.tag == "component":
                component = self.components.get(name)
                if component is None:
                    raise ValueError(f"dictionary refers to undefined component {name!r}")
                self._fill(component, layout, req)
                continue
            if child.tag not in ("field", "group"):
                continue
            tag = self._number(name)
            layout.tags.add(tag)
            if req:
                layout.required.append(tag)
            if child.tag == "group":
                group = _Layout()
                self._fill(child, group, True)
                group.delimiter = _first_field(child, self)
                group.freeze()
                layout.groups[tag] = group


def _first_field(el: ET.Element, loader: _Loader) -> int:
    for child in el:
        if child.tag in ("field", "group"):
            return loader._number(child.get("name", ""))
        if child.tag == "component":
            return _first_field(loader.components[child.get("name", "")], loader)
    return 0


def validate_structure(
    message: FixMessage,
    header_tags: frozenset[int] = FIX44_HEADER_TAGS,
    trailer_tags: frozenset[int] = FIX44_TRAILER_TAGS,
) -> None:
    """Check what needs no dictionary: tag numbers, empty values, header/body/trailer order."""
    fields = message.fields
    n = len(fields)
    for tag, value in fields:
        if tag <= 0:
            raise FixValidationError(0, tag, message)
        if not value:
            raise FixValidationError(4, tag, message)
    header_end = 3
    while header_end < n - 1 and fields[header_end][0] in header_tags:
        header_end += 1
    trailer_start = n - 1
    while trailer_start > header_end and fields[trailer_start - 1][0] in trailer_tags:
        trailer_start -= 1
    _check_order(fields, header_end, trailer_start, header_tags | trailer_tags, message)


def _check_order(
    fields: list[tuple[int, bytes]],
    header_end: int,
    trailer_start: int,
    misplaced: frozenset[int],
    message: FixMessage,
) -> None:
    """Header fields must precede the body and trailer fields follow it (14)."""
    if misplaced.isdisjoint([tag for tag, _ in fields[header_end:trailer_start]]):
        return
    for tag, _ in fields[header_end:trailer_start]:
        if tag in misplaced:
            raise FixValidationError(14, tag, message)
