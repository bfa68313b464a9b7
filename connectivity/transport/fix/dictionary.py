"""QuickFIX-format XML data dictionaries and session-level message validation.

:class:`FixDictionary` loads the XML that venues publish (QuickFIX's ``FIX44.xml``, Binance's
``spot-fix-oe.xml`` / ``spot-fix-md.xml``, shipped with the package: :meth:`FixDictionary.builtin`)
with the stdlib parser, expands components into per-message tables (allowed tags, required
tags, group layouts, field types and enums) and compiles them into a :class:`.Validator`:
:meth:`FixDictionary.validate` checks a parsed message, :meth:`FixDictionary.parse` parses and
validates in one pass, and a :class:`~.framing.FixFramer` given the dictionary does the same
for a stream.

A failed check raises :class:`FixValidationError` carrying what a session-level Reject needs:
``reject_reason`` (SessionRejectReason, 373), ``ref_tag`` (RefTagID, 371) and ``text`` (58), in
QuickFIX's order (see :mod:`.validation`).

Groups: an entry begins at the group's delimiter (its first field). Some venues send another
member first (Binance's ListStatus puts Symbol before ClOrdID), so by default the first member
seen after the count marks entry boundaries; ``strict_group_order=True`` insists on the
delimiter. A member repeated within one entry is always out of order (15).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from connectivity.errors import ConfigError
from connectivity.transport.fix.codec import FixMessage, parse_message
from connectivity.transport.fix.formats import Field
from connectivity.transport.fix.validation import (
    REJECT_TEXT,
    FixValidationError,
    Layout,
    Validator,
    check_order,
)

__all__ = [
    "BUILTIN_DICTIONARIES",
    "FIX44_HEADER_TAGS",
    "REJECT_TEXT",
    "FixDictionary",
    "FixValidationError",
    "builtin_path",
    "validate_structure",
]

# The standard FIX 4.4 header, for structural checks when no dictionary is loaded.
FIX44_HEADER_TAGS = frozenset(
    {8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143, 116, 144, 129, 145, 43, 97, 52,
     122, 212, 213, 347, 369, 627, 628, 629, 630}
)  # fmt: skip
FIX44_TRAILER_TAGS = frozenset({93, 89, 10})
# Dictionaries shipped as package data (dictionaries/SOURCES.md says where each comes from).
BUILTIN_DICTIONARIES = ("FIX44", "binance-spot-fix-md", "binance-spot-fix-oe")


class FixDictionary:
    """A loaded data dictionary: field names/types/enums, header, trailer and messages."""

    def __init__(
        self,
        begin_string: bytes,
        fields: dict[int, Field],
        header: Layout,
        trailer: Layout,
        messages: dict[bytes, tuple[str, Layout]],
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
        self.data_pairs = self._pair_data_fields()
        self.validator = Validator(
            begin_string, fields, header, trailer,
            {msg_type: layout for msg_type, (_, layout) in messages.items()},
            self.data_pairs,
            strict_group_order=strict_group_order,
            allow_unknown_message_fields=allow_unknown_message_fields,
            validate_user_defined_fields=validate_user_defined_fields,
        )  # fmt: skip

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
        fields: dict[int, Field] = {}
        by_name: dict[str, int] = {}
        for el in _children(root, "fields"):
            number, name = int(el.get("number", "0")), el.get("name", "")
            enums = frozenset(v.get("enum", "").encode("ascii") for v in el.iter("value"))
            fields[number] = Field(number, name, el.get("type", "STRING").upper(), enums)
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
        """Return a copy sharing the loaded tables, with some validation options changed.

        The copy compiles its own validator: shapes learnt by one are not trusted by the other.
        """

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
        return tag in self.validator.header_all

    def validate(self, message: FixMessage) -> None:
        """Check ``message`` against the dictionary; FixValidationError on the first problem."""
        self.validator.validate(message)

    def parse(self, raw: bytes, *, printable_only: bool = False) -> FixMessage:
        """Parse and validate one message: GarbledMessage on framing, FixValidationError else.

        A message of a shape this dictionary validated before is parsed and validated in one
        pass (see :mod:`.validation`).
        """
        message = parse_message(
            raw, data_pairs=self.data_pairs, printable_only=printable_only,
            match=self.validator.match,
        )  # fmt: skip
        if message.validated_by is not self.validator:  # not a known shape: walk it
            self.validator.validate(message)
        return message


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
    """Expands components and groups of the XML into :class:`Layout` tables."""

    def __init__(self, by_name: dict[str, int], components: dict[str, ET.Element]) -> None:
        self.by_name = by_name
        self.components = components

    def _number(self, name: str) -> int:
        number = self.by_name.get(name)
        if number is None:
            raise ValueError(f"dictionary refers to undefined field {name!r}")
        return number

    def layout(self, el: ET.Element | None) -> Layout:
        layout = Layout()
        if el is not None:
            self._fill(el, layout, True)
        layout.freeze()
        return layout

    def _fill(self, el: ET.Element, layout: Layout, required: bool) -> None:
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
                group = Layout()
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
    check_order(fields, header_end, trailer_start, header_tags | trailer_tags, message)
