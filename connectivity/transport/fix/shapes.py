"""Learnt message shapes: a frame of a known shape parsed and validated in one pass.

A venue sends few *shapes* of each message: the same tags in the same order, group counts
included. Whether a message is valid depends only on its shape and on each value passing its
field's own check, so once a shape has passed the validator's walk it is compiled into one
regular expression over the raw frame: each tag as a literal, each value as its field's
format, its enum values or its exact group count. :meth:`ShapeIndex.match` then parses and
validates a checksummed frame of a known shape in one C-level pass (the codec calls it before
its own split); anything else - a new shape, any invalid message - is left to the walk, which
finds the precise reason.

The shapes of the message types beginning with one byte share one expression (a trie: they
branch where their tags differ); the group that closes a shape tells which one matched. Frames
with length-prefixed data (RawData, ...) are never shaped, since their values may hold SOH.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from connectivity.transport.fix.codec import SOH, FixMessage
from connectivity.transport.fix.formats import PATTERNS, Field

__all__ = ["ShapeIndex"]

_FRAMING_TAGS = frozenset({8, 9, 35, 10})
_ANY_VALUE = rb"[^\x01]+"
# Bounds on learnt shapes, ample for a venue's variants of its messages. Compiling costs
# 50-100 us per trie node and a new shape recompiles its trie, so a peer sending ever new
# shapes costs at most a few tens of milliseconds per message, well under a second in all.
_MAX_SHAPE_FIELDS = 100
_MAX_NODES_PER_TRIE = 400  # one trie per first byte of MsgType
_MAX_NODES = 1600
_MAX_SHAPES = 256  # shapes tried (learnt or not): past this, nothing more is learnt


class ShapeIndex:
    """The shapes of the valid messages one validator has seen, compiled for matching."""

    def __init__(
        self,
        owner: object,
        begin_string: bytes,
        fields: Mapping[int, Field],
        unshaped: frozenset[int],
    ) -> None:
        self._owner = owner  # what a matched message is marked ``validated_by``
        self.begin_string = begin_string
        self._fields = fields
        self._unshaped = unshaped  # length and data tags of length-prefixed data
        self._value_patterns: dict[int, bytes | None] = {}
        self._tries: dict[int, _Trie] = {}  # first byte of MsgType -> its trie
        # (MsgType, tags, group counts by field index) of every shape tried
        self._seen_shapes: set[tuple[bytes, tuple[int, ...], tuple[tuple[int, int], ...]]] = set()
        self._nodes = 0  # trie nodes of all shapes

    def match(self, frame: bytes, body_start: int) -> FixMessage | None:
        """Parse and validate a checksummed frame of a known shape in one pass, else None."""
        trie = self._tries.get(frame[body_start + 3])  # MsgType's first byte
        if trie is None:
            return None
        found = trie.pattern.fullmatch(frame)
        if found is None:
            return None
        groups, tags = trie.leaves[found.lastindex or 0]
        values = found.groups() if groups is None else found.group(*groups)
        message = FixMessage._from_columns(frame, tags, values, None)
        message.validated_by = self._owner
        return message

    def learn(self, message: FixMessage, counts: Mapping[int, int]) -> None:
        """Compile the shape of a message that passed validation, within the bounds.

        ``counts`` maps the index of each field that counted a group to its entries.
        """
        fields = message.fields
        if len(fields) > _MAX_SHAPE_FIELDS:
            return
        key = (message.msg_type, tuple([tag for tag, _ in fields]), tuple(counts.items()))
        if key in self._seen_shapes or len(self._seen_shapes) >= _MAX_SHAPES:
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
        trie = self._tries.get(message.msg_type[0]) or _Trie()
        added = trie.add(path, min(_MAX_NODES_PER_TRIE - trie.nodes, _MAX_NODES - self._nodes))
        if added:  # a trie is only reachable by match() once it has compiled a shape
            self._tries[message.msg_type[0]] = trie
            self._nodes += added

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
        """The expression of the values of a group count field that equal ``count``: its
        format (a lookahead) and ``int(value) == count``."""
        field = self._fields.get(tag)
        if field is None or field.enums is not None or field.type not in PATTERNS:
            return None
        equal = b"0*%d" % count if count else b"-?0+"
        return b"(?=(?:%s)\x01)%s" % (PATTERNS[field.type], equal)


def _field_pattern(field: Field) -> bytes | None:
    """The values ``field``'s check and enums accept, as an expression matching no SOH."""
    check = field.check
    if field.enums is None:
        if check is None:
            return _ANY_VALUE
        return rb"[^\x01]" if field.type == "CHAR" else PATTERNS[field.type]
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
    # Tokens separated by single spaces, or a whole enum value that is not such a sequence:
    # either way one way to match, which keeps a failing match from backtracking further.
    singles = [v for v in values if b" " not in v]
    wholes = [v for v in values if b" " in v and not set(v.split(b" ")) <= set(singles)]
    parts = [re.escape(v) for v in wholes]
    if singles:
        tokens = b"|".join(map(re.escape, singles))
        parts.append(b"(?:%s)(?: (?:%s))*" % (tokens, tokens))
    return b"|".join(parts)


class _Trie:
    """The known shapes of the MsgTypes beginning with one byte: a trie of (tag, value
    expression) compiled into one expression whose groups are the values; ``leaves`` maps the
    group that closes a shape (its CheckSum) to that shape's value groups and tags."""

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
        if not 0 < added <= budget:
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
