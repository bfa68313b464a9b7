"""Session-level validation against a loaded dictionary: per-message-type plans and shapes.

:class:`Validator` is compiled once per dictionary (and options). Its *plans* hold, per
MsgType, the body layout (allowed tags, groups and their layouts) and the required tags of
header, body and trailer in the order QuickFIX reports them; :meth:`Validator.validate` walks a
parsed message against them, field by field, and raises :class:`FixValidationError` with the
reason QuickFIX gives. The checks, their order and their texts follow QuickFIX, whose
acceptance scripts 14a-14i, 2q and 21 spell them out: fields out of order (14) first, then
MsgType (11), required fields (1), then field by field: repeated (13), empty (4), format (6),
enum (5), unknown tag (0), tag not in this message (2), group layout (15) and group count (16).

Once a message has passed the walk its shape is learnt (:mod:`.shapes`), and
:attr:`Validator.match` parses and validates later frames of that shape in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectivity.transport.fix.codec import FixMessage, FixParseError, Matcher
from connectivity.transport.fix.formats import Field
from connectivity.transport.fix.shapes import ShapeIndex

__all__ = ["REJECT_TEXT", "FixValidationError", "Validator", "check_order"]

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
_FRAMING_TAGS = frozenset({8, 9, 35, 10})
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


class Layout:
    """Tags allowed at one level (header, body, trailer or a group entry), with its groups."""

    __slots__ = ("delimiter", "groups", "required", "tags")

    def __init__(self) -> None:
        self.tags: set[int] = set()
        self.required: list[int] = []
        self.groups: dict[int, Layout] = {}
        self.delimiter = 0  # first field of a group entry

    def freeze(self) -> None:
        """Sort the required tags: QuickFIX reports the lowest missing tag number first."""
        self.required.sort()


class Validator:
    """A dictionary compiled for validation: per-MsgType plans, value checks, learnt shapes."""

    def __init__(
        self,
        begin_string: bytes,
        fields: Mapping[int, Field],
        header: Layout,
        trailer: Layout,
        messages: Mapping[bytes, Layout],
        data_pairs: Mapping[int, int],
        *,
        strict_group_order: bool,
        allow_unknown_message_fields: bool,
        validate_user_defined_fields: bool,
    ) -> None:
        self.begin_string = begin_string
        self.header = header
        self.trailer = trailer
        self.strict_group_order = strict_group_order
        self.allow_unknown_message_fields = allow_unknown_message_fields
        self.validate_user_defined_fields = validate_user_defined_fields
        in_groups = {tag for group in header.groups.values() for tag in group.tags}
        self.header_all = frozenset(header.tags | in_groups)
        self._misplaced = self.header_all | trailer.tags
        # MsgType -> (body layout, required tags of header, body and trailer in report order)
        self._plans = {
            msg_type: (body, (*header.required, *body.required, *trailer.required))
            for msg_type, body in messages.items()
        }
        self._fields = fields
        # tag -> (format check, enum values, space-separated?); framing tags are not checked
        self._specs: dict[int, tuple[Callable[[bytes], object] | None, Any, bool]] = {
            n: (None, None, False) if n in _FRAMING_TAGS else (f.check, f.enums, f.multiple)
            for n, f in fields.items()
        }
        unshaped = frozenset(data_pairs) | frozenset(data_pairs.values())
        self.shapes = ShapeIndex(self, begin_string, fields, unshaped)
        # (frame, body start) -> the message parsed and validated in one pass, or None
        self.match: Matcher = self.shapes.match

    def validate(self, message: FixMessage) -> None:
        """Check ``message``; FixValidationError on the first problem, in QuickFIX's order."""
        if message.validated_by is self:  # parsed by match(): validated in the same pass
            return
        fields = message.fields
        if fields[0][1] != self.begin_string:
            raise FixValidationError(5, 8, message, "BeginString value unexpected")
        n = len(fields)
        header_all, trailer_tags = self.header_all, self.trailer.tags
        header_end = 3
        while header_end < n - 1 and fields[header_end][0] in header_all:
            header_end += 1
        trailer_start = n - 1
        while trailer_start > header_end and fields[trailer_start - 1][0] in trailer_tags:
            trailer_start -= 1
        check_order(fields, header_end, trailer_start, self._misplaced, message)
        plan = self._plans.get(message.msg_type)
        if plan is None:
            raise FixValidationError(11, None, message)
        body, required = plan
        for tag in required:
            if tag not in message:
                raise FixValidationError(1, tag, message)
        counts: dict[int, int] = {}  # field index of each group count -> its entries
        self._walk(fields, 3, header_end, self.header, message, {8, 9, 35}, counts)
        self._walk(fields, trailer_start, n - 1, self.trailer, message, {10}, counts)
        seen = self._walk(fields, header_end, trailer_start, body, message, set(), counts)
        for tag in body.required:  # a required tag found only inside a group does not count
            if tag not in seen:
                raise FixValidationError(1, tag, message)
        self.shapes.learn(message, counts)

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
        layout: Layout,
        msg: FixMessage,
        seen: set[int],
        counts: dict[int, int],
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
                i = self._walk_group(fields, i, end, int(value), groups[tag], msg, counts)
        return seen

    def _walk_group(
        self,
        fields: list[tuple[int, bytes]],
        i: int,
        end: int,
        count: int,
        group: Layout,
        msg: FixMessage,
        counts: dict[int, int],
    ) -> int:
        """Walk the entries after the NumInGroup field at ``i - 1``; return the index after."""
        count_at = i - 1
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
                _entry_complete(entry, group, msg)
                entries += 1
                entry = set()
            elif tag in entry:
                raise FixValidationError(15, tag, msg)
            entry.add(tag)
            i += 1
            self._check_value(tag, value, msg)
            nested = group.groups.get(tag)
            if nested is not None:
                i = self._walk_group(fields, i, end, int(value), nested, msg, counts)
        _entry_complete(entry, group, msg)
        if entries != count:
            raise FixValidationError(16, fields[count_at][0], msg)
        counts[count_at] = count
        return i


def _entry_complete(entry: set[int], group: Layout, msg: FixMessage) -> None:
    if entry:
        for tag in group.required:
            if tag not in entry:
                raise FixValidationError(1, tag, msg)


def check_order(
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
