"""Session-level validation against a loaded dictionary: per-message-type plans and shapes.

:class:`Validator` is compiled once per dictionary (and options). Its *plans* hold, per
MsgType, the body layout (allowed tags, groups and their layouts) and the required tags of
header, body and trailer in the order QuickFIX reports them; :meth:`Validator.validate` walks a
parsed message against them, field by field, and raises :class:`FixValidationError` with the
reason QuickFIX gives. The checks, their order and their texts follow QuickFIX, whose
acceptance scripts 14a-14i, 2q and 21 spell them out: fields out of order (14) first, then
MsgType (11), required fields (1), then field by field: repeated (13), empty (4), format (6),
enum (5), unknown tag (0), tag not in this message (2), group layout (15) and group count (16).

A venue sends few *shapes* of each message: the same tags in the same order, group counts
included. Whether a message is valid depends only on its shape and on each value passing its
field's own check, so once a shape has passed the walk it is compiled into one regular
expression over the raw frame: each tag as a literal and each value as its field's format, its
enum values or its exact group count. :meth:`Validator.match` then parses and validates a
checksummed frame of a known shape in one C-level pass (the codec calls it before its own
split); anything else - a new shape, any invalid message - takes the walk, which finds the
precise reason. The shapes of one MsgType share one expression (a trie: they branch where
their tags differ) and are bounded in number and size; frames with length-prefixed data
(RawData, ...) are never shaped, since their values may hold SOH.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectivity.transport.fix.codec import SOH, FixMessage, FixParseError

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
# Bounds on learned shapes, ample for a venue's variants of its messages. Compiling costs
# 50-100 us per trie node and a new shape recompiles its MsgType's trie, so a peer sending
# ever new shapes costs at most a few tens of milliseconds per message, well under a second
# in all.
_MAX_SHAPE_FIELDS = 100
_MAX_NODES_PER_TRIE = 400  # one trie per first byte of MsgType
_MAX_NODES = 1600
_MAX_SHAPES = 256  # shapes tried (learnt or not): past this, nothing more is learnt


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

# Each format is one regex fullmatch (ranges included) so a check is a single C call; the same
# source is embedded in shape expressions.
_FRACTION = rb"(?:\.\d{3}|\.\d{6}|\.\d{9})?"
_YMD = rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_HMS = rb"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"  # 60: leap second
_PATTERNS = {
    "INT": rb"-?\d+",
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
for _name in ("SEQNUM", "LENGTH", "NUMINGROUP"):
    _PATTERNS[_name] = rb"\d+"  # what bytes.isdigit accepts (ASCII digits), as a pattern
for _name in ("QTY", "AMT", "FLOAT", "PRICEOFFSET", "PERCENTAGE"):
    _PATTERNS[_name] = _PATTERNS["PRICE"]
FORMATS: dict[str, Callable[[bytes], object]] = {
    name: re.compile(pattern, re.DOTALL).fullmatch for name, pattern in _PATTERNS.items()
}
for _name in ("SEQNUM", "LENGTH", "NUMINGROUP"):
    FORMATS[_name] = bytes.isdigit
MULTIPLE = frozenset({"MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "MULTIPLECHARVALUE"})
_ANY_VALUE = rb"[^\x01]+"


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
    """A dictionary compiled for validation: per-MsgType plans, value checks, learned shapes."""

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
        self._unshaped = frozenset(data_pairs) | frozenset(data_pairs.values())
        self._value_patterns: dict[int, bytes | None] = {}
        # first byte of MsgType -> the shapes of the message types it begins
        self._shapes: dict[int, _Shapes] = {}
        # (MsgType, tags, group counts by field index) of every shape tried
        self._seen_shapes: set[tuple[bytes, tuple[int, ...], tuple[tuple[int, int], ...]]] = set()
        self._nodes = 0  # trie nodes of all shapes

    # -- the walk ---------------------------------------------------------------------------

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
        self._learn(message, counts)

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

    # -- shapes -----------------------------------------------------------------------------

    def match(self, frame: bytes, body_start: int) -> FixMessage | None:
        """Parse and validate a checksummed frame of a known shape in one pass, else None."""
        shapes = self._shapes.get(frame[body_start + 3])  # MsgType's first byte
        if shapes is None:
            return None
        found = shapes.pattern.fullmatch(frame)
        if found is None:
            return None
        groups, tags = shapes.leaves[found.lastindex or 0]
        values = found.groups() if groups is None else found.group(*groups)
        message = FixMessage._from_columns(frame, tags, values, None)
        message.validated_by = self
        return message

    def _learn(self, message: FixMessage, counts: dict[int, int]) -> None:
        """Compile the shape of a message that passed the walk, within the bounds."""
        fields = message.fields
        key = (message.msg_type, tuple([tag for tag, _ in fields]), tuple(counts.items()))
        if key in self._seen_shapes:
            return
        if len(fields) > _MAX_SHAPE_FIELDS or len(self._seen_shapes) >= _MAX_SHAPES:
            return
        self._seen_shapes.add(key)  # learnt, or not expressible: either way not tried again
        path = []
        for i, (tag, _) in enumerate(fields):
            count = counts.get(i)
            pattern = self._value_pattern(tag) if count is None else self._count_pattern(tag, count)
            if pattern is None:
                return
            path.append((tag, pattern))
        path[0] = (8, re.escape(self.begin_string))
        path[2] = (35, re.escape(message.msg_type))
        shapes = self._shapes.get(message.msg_type[0])
        if shapes is None:
            shapes = self._shapes[message.msg_type[0]] = _Shapes()
        budget = min(_MAX_NODES_PER_TRIE - shapes.nodes, _MAX_NODES - self._nodes)
        self._nodes += shapes.add(path, budget)

    def _value_pattern(self, tag: int) -> bytes | None:
        """The expression of any valid value of ``tag`` (no SOH), or None if not expressible."""
        if tag in self._value_patterns:
            return self._value_patterns[tag]
        pattern: bytes | None = _ANY_VALUE
        field = self._fields.get(tag)
        if tag in self._unshaped:
            pattern = None  # a data value may hold SOH: never shaped
        elif field is not None and tag not in _FRAMING_TAGS:
            pattern = _field_pattern(field)
        self._value_patterns[tag] = pattern
        return pattern

    def _count_pattern(self, tag: int, count: int) -> bytes | None:
        """The expression of the values of a group count field that equal ``count``."""
        field = self._fields.get(tag)
        if field is None or field.enums is not None or field.type not in _DIGITS_ONLY:
            return None
        return b"0*%d" % count if count else b"0+"


_DIGITS_ONLY = frozenset({"SEQNUM", "LENGTH", "NUMINGROUP"})


def _field_pattern(field: Field) -> bytes | None:
    """The values ``field``'s check and enums accept, as an expression matching no SOH."""
    check = field.check
    if field.enums is None:
        if check is None:
            return _ANY_VALUE
        return rb"[^\x01]" if field.type == "CHAR" else _PATTERNS[field.type]
    if check is not None and field.multiple:
        return None
    # Enum values the format check would refuse are never valid: leave them out.
    values = sorted(
        (v for v in field.enums if v and SOH not in v and (check is None or check(v))),
        key=lambda v: (-len(v), v),
    )
    if not values:
        return None
    if not field.multiple:
        return b"|".join(map(re.escape, values))
    if b"" in field.enums:
        return None  # an empty token would pass between two spaces: leave it to the walk
    whole = b"|".join(map(re.escape, values))
    tokens = b"|".join(re.escape(v) for v in values if b" " not in v)
    return whole if not tokens else b"%s|(?:%s)(?: (?:%s))*" % (whole, tokens, tokens)


class _Shapes:
    """The known shapes of one MsgType: a trie of (tag, value expression) compiled into one
    expression whose groups are the values; ``leaves`` maps the group that closes a shape (its
    CheckSum) to that shape's value groups and tags."""

    __slots__ = ("leaves", "nodes", "pattern", "trie")

    def __init__(self) -> None:
        self.trie: dict[tuple[int, bytes], Any] = {}
        self.nodes = 0
        # group closing a shape -> its value groups (None: all of them) and its tags
        self.leaves: dict[int, tuple[tuple[int, ...] | None, tuple[int, ...]]] = {}
        self.pattern: Any = None

    def add(self, path: Sequence[tuple[int, bytes]], budget: int) -> int:
        """Add a new shape and recompile if it needs at most ``budget`` new trie nodes;
        return the nodes added."""
        node = self.trie
        shared = 0  # the new shape branches off after this many steps
        while shared < len(path) and path[shared] in node:
            node = node[path[shared]]
            shared += 1
        added = len(path) - shared
        if added > budget:
            return 0
        for step in path[shared:]:
            child: dict[tuple[int, bytes], Any] = {}
            node[step] = child
            node = child
        self.nodes += added
        self._compile()
        return added

    def _compile(self) -> None:
        parts: list[bytes] = []
        leaves: dict[int, tuple[tuple[int, ...] | None, tuple[int, ...]]] = {}
        group = 0
        # Iterative walk of the trie: (node, its branch index, groups and tags on the way).
        stack: list[tuple[Any, int, tuple[int, ...], tuple[int, ...]]] = [(self.trie, 0, (), ())]
        while stack:
            node, k, groups, tags = stack.pop()
            items = list(node.items())
            if k == len(items):
                if len(items) > 1:
                    parts.append(b")")
                continue
            if k == 0 and len(items) > 1:
                parts.append(b"(?:")
            elif k:
                parts.append(b"|")
            (tag, pattern), child = items[k]
            stack.append((node, k + 1, groups, tags))
            group += 1
            parts.append(b"%d=(%s)\x01" % (tag, pattern))
            if child:
                stack.append((child, 0, (*groups, group), (*tags, tag)))
            else:
                leaves[group] = ((*groups, group), (*tags, tag))
        self.pattern = re.compile(b"".join(parts), re.DOTALL)
        if len(leaves) == 1:  # one shape: its groups are all the groups
            leaves = {group: (None, tags) for group, (_, tags) in leaves.items()}
        self.leaves = leaves


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
