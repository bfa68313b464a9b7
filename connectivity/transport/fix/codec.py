"""FIX tag=value codec: validated parsing and encoding of messages over bytes, no I/O.

A message is checked before it is trusted: ``8=FIX`` first, ``9=`` (BodyLength, zero padding
allowed) second and ``35=`` third; the declared BodyLength must land exactly on ``10=NNN<SOH>``
and the CheckSum (sum of every byte before ``10=`` mod 256) must match, or it is *garbled*.
Length/data pairs (95/96 and friends) are honoured, so a data value may contain SOH. Cutting a
byte stream into frames is :mod:`.framing`'s role (:class:`~.framing.FixFramer`).

Speed matters (every ExecutionReport and market-data frame goes through here). The usual frame
(no ``=`` inside a value, known tags, no data fields) never meets a per-field Python loop:
``translate`` proves that ``=`` and SOH alternate, one split at both gives the tag and value
columns, tag numbers come from a cache in C (``map``), the tag -> value index is ``dict(zip())``,
and the list of (tag, value) pairs is only built when someone reads ``fields``. Anything else
takes the careful field-by-field path. The checksum uses ``zlib.adler32``, whose low half is
1 + the byte sum of a short enough chunk, rather than a Python loop over bytes. Encoding fills
a cached per-shape ``%`` template with the usual str/int values, encodes the whole message once
and checksums it in one call. ``benchmarks/fix_codec.py`` measures it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from typing import Any
from zlib import adler32

import simplefix

from connectivity.errors import ConnectivityError, ParseError

__all__ = [
    "DEFAULT_DATA_PAIRS",
    "SOH",
    "FixEncodeError",
    "FixMessage",
    "MAX_DIGITS",
    "FixParseError",
    "GarbledMessage",
    "checksum",
    "encode",
    "parse_message",
    "redact",
]

SOH = b"\x01"
BEGIN = b"8=FIX"
# Length tag -> data tag: the data value is exactly that many bytes and may contain SOH.
DEFAULT_DATA_PAIRS: Mapping[int, int] = {
    90: 91, 93: 89, 95: 96, 212: 213, 348: 349, 350: 351, 352: 353, 354: 355, 356: 357,
    358: 359, 360: 361, 362: 363, 364: 365, 445: 446, 618: 619, 621: 622,
}  # fmt: skip
# Values that must never reach a log: passwords, API keys, signatures.
SECRET_TAGS = frozenset({89, 91, 96, 553, 554, 925})
# Zero-padded tags ("0554=") are masked too: parse refuses them, but the refusal carries the
# raw bytes as its payload.
_SECRET_RE = re.compile(rb"(^|\x01)(0*(?:89|91|96|553|554|925))=[^\x01]*")
# A secret data field (96 after 95, ...) may hold SOH: its length field says where it ends.
_SECRET_DATA_RE = re.compile(
    rb"(?:^|\x01)0*(?:%s)=(\d{1,18})\x01(0*(?:%s))="
    % (
        b"|".join(b"%d" % n for n, d in DEFAULT_DATA_PAIRS.items() if d in SECRET_TAGS),
        b"|".join(b"%d" % d for d in DEFAULT_DATA_PAIRS.values() if d in SECRET_TAGS),
    )
)
# A number longer than this is hostile, not big: int() refuses 4300+ digits with a bare
# ValueError, and every valid BodyLength, length, tag or sequence number fits in 18 digits.
MAX_DIGITS = 18
_NON_PRINTABLE = bytes(range(0x20, 0x7F)) + SOH  # deleted by translate(); leftovers are bad
_NOT_DELIMITERS = bytes(sorted(set(range(256)) - {0x01, 0x3D}))  # translate() keeps SOH, "="
_MAX_CACHED_TAGS = 65536


class FixParseError(ParseError):
    """A FIX message could not be parsed; ``reason`` says why, ``parsed`` is the parse if any."""

    def __init__(
        self, reason: str, *, raw: bytes | None = None, parsed: FixMessage | None = None
    ) -> None:
        super().__init__(
            f"FIX: {reason}",
            operation="fix.parse",
            payload=None if raw is None else redact(raw),
        )
        self.reason = reason
        self.parsed = parsed


class GarbledMessage(FixParseError):
    """Bad framing, BodyLength or CheckSum: FIX says drop it silently and count it."""


class FixEncodeError(ConnectivityError, ValueError):
    """A message cannot be encoded (empty value, SOH in a non-data value, bad type)."""


def redact(raw: bytes) -> bytes:
    """Return ``raw`` with secret values (passwords, API key, signatures) masked for logging.

    A secret data value is masked for as many bytes as its length field says, SOH included
    (to the end of ``raw`` if the length overshoots).
    """
    found = _SECRET_DATA_RE.search(raw)
    if found is None:
        return _SECRET_RE.sub(rb"\1\2=***", raw)
    parts: list[bytes] = []
    pos = 0
    while found is not None:
        parts += (_SECRET_RE.sub(rb"\1\2=***", raw[pos : found.start(2)]), found[2], b"=***")
        pos = found.end() + int(found[1])
        found = _SECRET_DATA_RE.search(raw, pos)
    parts.append(_SECRET_RE.sub(rb"\1\2=***", raw[pos:]))
    return b"".join(parts)


def _checksum_int(data: bytes, end: int | None = None) -> int:
    """Sum of ``data[:end]`` mod 256."""
    # adler32's low 16 bits are (1 + byte sum) mod 65521, so they are exactly 1 + the sum of a
    # chunk whose sum stays below 65520: 256 bytes of any value (<= 65280), or 515 ASCII
    # bytes (<= 65405). FIX traffic is ASCII, so most messages take one call.
    n = len(data) if end is None else end
    step = 515 if data.isascii() else 256
    if n <= step:
        return ((adler32(data if end is None else data[:n]) & 0xFFFF) - 1) & 0xFF
    view = memoryview(data)
    total = 0
    for i in range(0, n, step):
        total += (adler32(view[i : min(i + step, n)]) & 0xFFFF) - 1
    return total & 0xFF


def checksum(data: bytes) -> bytes:
    """Return the FIX CheckSum of ``data`` (everything before ``10=``) as 3 digits."""
    return b"%03d" % _checksum_int(data)


def _tag_number(tag_bytes: bytes) -> int:
    """Miss path of the tag cache: validate the tag (or raise GarbledMessage), remember it."""
    digits = tag_bytes[1:] if tag_bytes[:1] == b"-" else tag_bytes
    if not digits.isdigit():  # bytes.isdigit is ASCII-only; int() would accept "1_0", " 5"
        # No bytes echoed: this may be the tail of raw data (a secret) cut off by its SOH.
        raise GarbledMessage("tag is not a number")
    # "00058" is not tag 58: a padded tag would slip past redaction and tag-based checks.
    if len(digits) > MAX_DIGITS or (digits[:1] == b"0" and len(digits) > 1):
        raise GarbledMessage("tag number is zero-padded or too long")
    tag = int(tag_bytes)
    if tag > 0 and len(_TAGS) < _MAX_CACHED_TAGS:  # garbage must not grow it without bound
        _TAGS[tag_bytes] = tag
    return tag


class _PrefixCache(dict[int, bytes]):
    """Tag int -> ``b"<tag>="``; a miss checks the tag is a positive int."""

    def __missing__(self, tag: int) -> bytes:
        if type(tag) is not int or tag <= 0:
            raise FixEncodeError(f"tag must be a positive int, got {tag!r}")
        prefix = self[tag] = b"%d=" % tag
        return prefix


class _TextPrefixCache(dict[int, str]):
    """Tag int -> ``"<tag>="`` for encode's str fast path; same check as _PrefixCache."""

    def __missing__(self, tag: int) -> str:
        prefix = self[tag] = _PREFIXES[tag].decode("ascii")
        return prefix


# A plain dict (not a subclass with __missing__): subscripting it is the fastest lookup.
_TAGS: dict[bytes, int] = {b"%d" % tag: tag for tag in range(1, 1000)}
_PREFIXES = _PrefixCache({tag: b"%d=" % tag for tag in range(1, 1000)})
_TEXT_PREFIXES = _TextPrefixCache({tag: f"{tag}=" for tag in range(1, 1000)})
_TEXT_TYPES = frozenset({str, int, bytes})  # exactly these: bool, float must not pass as text
_STR_INT = frozenset({str, int})
# Body shape (tags after MsgType) -> encode's %-template; an application sends few shapes.
_TEMPLATES: dict[tuple[int, ...], str] = {}
_MAX_TEMPLATES = 4096
_TRAILERS = tuple(b"10=%03d\x01" % total for total in range(256))


class FixMessage:
    """A parsed FIX message: every field (8, 9, 35 ... 10) in wire order, values as bytes.

    ``validated_by`` is the dictionary validator that checked it while parsing (one pass, see
    ``FixDictionary.parse``), None otherwise.
    """

    __slots__ = ("_fields", "_first", "_tags", "_values", "msg_type", "raw", "validated_by")

    def __init__(
        self,
        raw: bytes,
        fields: list[tuple[int, bytes]],
        msg_type: bytes,
        first: dict[int, bytes] | None = None,
    ) -> None:
        self.raw = raw
        self._fields: list[tuple[int, bytes]] | None = fields
        self._tags: Sequence[int] = ()
        self._values: Sequence[bytes] = ()
        self.msg_type = msg_type
        self._first = first  # tag -> value of its first occurrence, built on demand
        self.validated_by: object = None  # the validator that checked it while parsing

    @classmethod
    def _from_columns(
        cls,
        raw: bytes,
        tags: Sequence[int],
        values: Sequence[bytes],
        first: dict[int, bytes] | None,
    ) -> FixMessage:
        # Parse's fast path: tags and values as two lists (zipped in C); the list of pairs
        # is only built if someone reads ``fields``.
        message = cls.__new__(cls)
        message.raw = raw
        message._fields = None
        message._tags = tags
        message._values = values
        message.msg_type = values[2]
        message._first = first
        message.validated_by = None
        return message

    @property
    def fields(self) -> list[tuple[int, bytes]]:
        """Every field (8, 9, 35 ... 10) in wire order as (tag, value) pairs."""
        fields = self._fields
        if fields is None:
            fields = self._fields = list(zip(self._tags, self._values, strict=True))
        return fields

    def _index(self) -> dict[int, bytes]:
        # Built on first lookup; the first occurrence of a repeated (group) tag wins.
        if self._fields is None:
            tags, values = self._tags, self._values
            first = dict(zip(tags, values, strict=True))
            if len(first) != len(tags):
                first = dict(zip(reversed(tags), reversed(values), strict=True))
        else:
            first = dict(self._fields)
            if len(first) != len(self._fields):
                first = dict(reversed(self._fields))
        self._first = first
        return first

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """Return the value of the first ``tag`` field, or ``default``."""
        return (self._first or self._index()).get(tag, default)

    def __getitem__(self, tag: int) -> bytes:
        return (self._first or self._index())[tag]

    def __contains__(self, tag: object) -> bool:
        return tag in (self._first or self._index())

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self._tags) if self._fields is None else len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FixMessage):
            return NotImplemented
        return self.fields == other.fields

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FixMessage({redact(self.raw).replace(SOH, b'|').decode('ascii', 'replace')})"

    def get_all(self, tag: int) -> list[bytes]:
        """Return the values of every ``tag`` field, in wire order."""
        return [value for t, value in self.fields if t == tag]

    def get_int(self, tag: int) -> int | None:
        """Return the first ``tag`` value as an int, None if absent; FixParseError if not one."""
        value = self.get(tag)
        if value is None:
            return None
        digits = value[1:] if value[:1] == b"-" else value
        if not digits.isdigit() or len(digits) > MAX_DIGITS:
            raise FixParseError(f"tag {tag} is not an integer: {value[:20]!r}", parsed=self)
        return int(value)

    def group(
        self, count_tag: int, delimiter_tag: int, member_tags: Container[int] | None = None
    ) -> list[list[tuple[int, bytes]]]:
        """Return the entries of the repeating group counted by ``count_tag``.

        An entry starts at ``delimiter_tag`` and takes the following fields in
        ``member_tags``; without ``member_tags`` it runs to the next delimiter, and the last
        entry stops at a tag it already holds or that no earlier entry held (pass
        ``member_tags`` when that guess is not good enough). FixParseError if the count is
        not a number or does not match the entries found.
        """
        fields = self.fields
        start = next((i for i, (t, _) in enumerate(fields) if t == count_tag), None)
        if start is None:
            return []
        count = self.get_int(count_tag) or 0
        entries: list[list[tuple[int, bytes]]] = []
        seen: set[int] = set()
        for tag, value in fields[start + 1 : -1]:
            if tag == delimiter_tag:
                if len(entries) == count:
                    break
                entries.append([(tag, value)])
                continue
            if not entries:
                break
            entry = entries[-1]
            if member_tags is not None:
                if tag not in member_tags:
                    break
            elif any(t == tag for t, _ in entry) or (len(entries) > 1 and tag not in seen):
                break
            entry.append((tag, value))
            if len(entries) == 1:
                seen.add(tag)
        if len(entries) != count:
            raise FixParseError(
                f"group {count_tag} declares {count} entries, found {len(entries)}", parsed=self
            )
        return entries

    def to_simplefix(self) -> Any:
        """Return the equivalent ``simplefix.FixMessage`` (its encode() recomputes 9 and 10)."""
        message = simplefix.FixMessage()
        for tag, value in self.fields:
            message.append_pair(tag, value)
        return message

    @classmethod
    def from_simplefix(cls, message: Any) -> FixMessage:
        """Build a FixMessage from a ``simplefix.FixMessage`` by encoding and re-parsing it."""
        return parse_message(message.encode())


def _split_fields(
    pieces: list[bytes], data_pairs: Mapping[int, int]
) -> tuple[list[tuple[int, bytes]], dict[int, bytes]]:
    """Turn a frame's SOH-separated pieces into (tag, value) pairs and a first-value index.

    The fast loop assumes no value contains SOH; if a length/data pair turns up (or a piece
    fails to parse, which a SOH inside data would cause) the careful loop redoes it.
    """
    tags = _TAGS
    try:
        # A piece without "=" fails the 2-tuple unpacking; a new or bad tag misses the cache.
        fields = [(tags[t], v) for p in pieces for t, v in (p.split(b"=", 1),)]
    except (KeyError, ValueError):
        fields = _split_with_data(pieces, data_pairs)  # learns new tags, or raises precisely
    first = dict(fields)
    if data_pairs and not first.keys().isdisjoint(data_pairs):
        fields = _split_with_data(pieces, data_pairs)
        first = dict(fields)
    if len(first) != len(fields):  # repeated tags (groups): the first occurrence wins
        first = dict(reversed(fields))
    return fields, first


def _split_with_data(pieces: list[bytes], data_pairs: Mapping[int, int]) -> list[tuple[int, bytes]]:
    """Careful loop: a data field's value is exactly its length field's count of bytes."""
    fields: list[tuple[int, bytes]] = []
    it = iter(pieces)
    for piece in it:
        tag_bytes, eq, value = piece.partition(b"=")
        if not eq:
            raise GarbledMessage("field without '='")  # no echo, as for a bad tag number
        tag = _TAGS.get(tag_bytes)
        if tag is None:
            tag = _tag_number(tag_bytes)
        fields.append((tag, value))
        if tag in data_pairs:
            fields.append(_data_field(tag, value, data_pairs[tag], it))
    return fields


def _data_field(
    length_tag: int, length: bytes, data_tag: int, it: Iterator[bytes]
) -> tuple[int, bytes]:
    """Read the data field after a length field, re-joining pieces split at SOH inside it."""
    if not length.isdigit() or len(length) > MAX_DIGITS:
        raise GarbledMessage(f"data length {length_tag} is not a number: {length[:20]!r}")
    size = int(length)
    tag_bytes, _, value = next(it, b"").partition(b"=")
    if tag_bytes != b"%d" % data_tag:
        raise GarbledMessage(f"data field {data_tag} must follow its length field {length_tag}")
    parts, got = [value], len(value)
    while got < size:  # joined once: appending piece by piece was quadratic in SOHs
        piece = next(it, None)
        if piece is None:
            break
        parts.append(piece)
        got += 1 + len(piece)
    if got != size:
        raise GarbledMessage(f"data field {data_tag} is not {size} bytes long")
    return data_tag, SOH.join(parts) if len(parts) > 1 else value


# A dictionary's one-pass parse of the frames it knows (FixDictionary.validator.match):
# (frame, body start) -> the parsed, validated message, or None to parse here.
Matcher = Callable[[bytes, int], "FixMessage | None"]


def _parse_frame(
    frame: bytes,
    body_start: int,
    trailer_at: int,
    data_pairs: Mapping[int, int],
    printable_only: bool,
    match: Matcher | None = None,
) -> FixMessage:
    """Parse one frame whose body starts at ``body_start`` and whose BodyLength was checked
    to end at ``10=`` (``trailer_at``)."""
    declared = frame[trailer_at + 3 : trailer_at + 6]
    if not declared.isdigit() or int(declared) != _checksum_int(frame, trailer_at):
        raise GarbledMessage(f"CheckSum {declared!r} does not match the bytes", raw=frame)
    message = (
        (match is not None and match(frame, body_start))
        or _parse_plain(frame, data_pairs)
        or _parse_pieces(frame, body_start, trailer_at, data_pairs)
    )
    if printable_only and frame.translate(None, _NON_PRINTABLE):
        raise FixParseError("non-printable byte (only printable ASCII and SOH)", parsed=message)
    return message


def _parse_plain(frame: bytes, data_pairs: Mapping[int, int]) -> FixMessage | None:
    """Fast path for a well-formed frame whose values hold no ``=``: None sends anything
    else (new or bad tags, data fields, misplaced 35/10, a BeginString in the body) to
    :func:`_parse_pieces`, which learns the tag or raises the precise error.
    """
    # With exactly one "=" per field, "=" and SOH alternate; then splitting at both gives
    # tag, value, tag, value ... and the tag and value columns are plain slices.
    delimiters = frame.translate(None, _NOT_DELIMITERS)
    count = len(delimiters) >> 1
    if count < 4 or delimiters != b"=\x01" * count:
        return None
    tokens = frame.replace(b"=", SOH).split(SOH)
    try:
        tags = list(map(_TAGS.__getitem__, tokens[0:-1:2]))
    except KeyError:
        return None
    values = tokens[1::2]
    first = dict(zip(tags, values, strict=True))
    if tags[2] != 35 or tags[-1] != 10:
        return None
    if len(first) != count:  # repeated tags (groups): the first occurrence wins
        if 8 in tags[2:-1]:
            return None
        first = dict(zip(reversed(tags), reversed(values), strict=True))
    if data_pairs and not first.keys().isdisjoint(data_pairs):
        return None
    return FixMessage._from_columns(frame, tags, values, first)


def _parse_pieces(
    frame: bytes, body_start: int, trailer_at: int, data_pairs: Mapping[int, int]
) -> FixMessage:
    """Careful parse of a checksummed frame: field by field, data pairs, precise errors."""
    pieces = frame.split(SOH)
    pieces.pop()
    fields, first = _split_fields(pieces, data_pairs)
    if len(fields) < 4 or fields[2][0] != 35 or fields[-1][0] != 10:
        raise GarbledMessage("MsgType (35) must be the third field", raw=frame)
    # A BeginString inside the body means two frames were fused (a BodyLength or CheckSum
    # field there is left to validation: header/trailer field out of order).
    if frame.find(b"\x018=", body_start - 1, trailer_at) >= 0 and any(
        tag == 8 for tag, _ in fields[2:-1]
    ):
        raise GarbledMessage("BeginString inside the body", raw=frame)
    return FixMessage(frame, fields, fields[2][1], first)


def parse_message(
    raw: bytes,
    *,
    data_pairs: Mapping[int, int] | None = None,
    printable_only: bool = False,
    match: Matcher | None = None,
) -> FixMessage:
    """Parse exactly one complete message; GarbledMessage on framing/length/checksum errors.

    ``match`` is a dictionary's one-pass parse and validation (``FixDictionary.parse`` passes
    it, with the dictionary's ``data_pairs``).
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    pairs = DEFAULT_DATA_PAIRS if data_pairs is None else data_pairs
    # The usual case, checked without splitting; any failure is explained by _header.
    soh1 = raw.find(SOH)
    soh2 = raw.find(SOH, soh1 + 1)
    length = raw[soh1 + 3 : soh2]
    # soh2 - soh1 - 3 is the digit count: at most MAX_DIGITS (18) for int() to be safe.
    if (
        raw.startswith(BEGIN)
        and raw.startswith(b"9=", soh1 + 1)
        and length.isdigit()
        and soh2 - soh1 <= 21
    ):
        body_start = soh2 + 1
        trailer_at = body_start + int(length)
        if (
            body_start < trailer_at
            and len(raw) == trailer_at + 7
            and raw[-1] == 1
            and raw.startswith(b"\x0110=", trailer_at - 1)
        ):
            return _parse_frame(raw, body_start, trailer_at, pairs, printable_only, match)
    body_start, trailer_at = _header(raw)
    return _parse_frame(raw, body_start, trailer_at, pairs, printable_only, match)


def _header(raw: bytes) -> tuple[int, int]:
    """Check 8, 9 and 10 framing field by field: (body start, ``10=`` position), or raise."""
    pieces = raw.split(SOH)
    if not raw.startswith(BEGIN) or len(pieces) < 5:
        raise GarbledMessage("not a FIX message (8=FIX, 9, 35, 10)", raw=raw)
    if pieces[1][:2] != b"9=" or not pieces[1][2:].isdigit():
        raise GarbledMessage("BodyLength (9) must be the second field", raw=raw)
    if len(pieces[1]) > MAX_DIGITS + 2:
        raise GarbledMessage("BodyLength (9) has too many digits", raw=raw)
    body_start = len(pieces[0]) + len(pieces[1]) + 2
    trailer_at = body_start + int(pieces[1][2:])
    if not raw.startswith(b"\x0110=", trailer_at - 1):
        raise GarbledMessage(f"BodyLength {pieces[1][2:]!r} does not end at 10=", raw=raw)
    if len(raw) != trailer_at + 7 or pieces[-1]:
        raise GarbledMessage("CheckSum must be 3 digits and end the message", raw=raw)
    return body_start, trailer_at


def _value(tag: int, value: Any) -> bytes:
    """Slow path of encode's value conversion: str, int, bytes-like; never bool or float."""
    if isinstance(value, str):
        try:
            return value.encode("ascii")
        except UnicodeEncodeError:
            raise FixEncodeError(f"tag {tag}: value is not ASCII") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return b"%d" % value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise FixEncodeError(f"tag {tag}: cannot encode a {type(value).__name__} (use str or int)")


def encode(
    begin_string: bytes,
    msg_type: bytes | str,
    fields: Iterable[tuple[int, bytes | str | int]],
) -> bytes:
    """Encode a message: 8, 9 (computed), 35, ``fields`` in the given order, 10 (computed).

    ``fields`` is everything after MsgType, header then body. A data field (96 after 95, ...)
    may contain SOH when its length field says so; any other SOH is refused, as is an empty
    value, since either would let a value smuggle in fields. The caller supplies the length
    field (``(95, len(signature))``); a disagreeing length is refused whenever the value
    takes the careful path (SOH inside, trailing ``=`` as in base64 padding, non-ASCII),
    not on the fast path, which keeps encoding at half of simplefix's time.
    """
    if type(fields) is not list:
        fields = list(fields)
    if type(begin_string) is not bytes:
        begin_string = _value(8, begin_string)
    message = _encode_text(begin_string, msg_type, fields)
    if message is None:
        body = _encode_body(msg_type, fields)
        message = b"8=%s\x019=%d\x01%s" % (begin_string, len(body), body)
        message += b"10=%03d\x01" % _checksum_int(message)
    return message


def _template(tags: tuple[int, ...]) -> str:
    """Return the ``%`` template of a body shape (``34=%s<SOH>49=%s<SOH>...``), cached."""
    prefixes = _TEXT_PREFIXES  # a bad tag raises FixEncodeError here, as on the careful path
    template = "".join([f"{prefixes[tag]}%s\x01" for tag in tags])
    if len(_TEMPLATES) < _MAX_TEMPLATES:  # odd shapes must not grow it without bound
        _TEMPLATES[tags] = template
    return template


def _encode_text(begin_string: bytes, msg_type: bytes | str, fields: list[Any]) -> bytes | None:
    """Fast path for the usual case (str, int and bytes values, all ASCII): the message up to
    ``10=`` as one str from a per-shape template, encoded once, then its trailer. Returns None for
    anything else (non-ASCII, SOH, empty values, other types) so that the careful path deals
    with it.
    """
    if not fields:
        return None
    # strict: a field that is not a pair raises instead of being cut short.
    tags, values = zip(*fields, strict=True)
    types = set(map(type, values))  # exact types: bool, float must not pass as text
    if not types <= _STR_INT:
        if not types <= _TEXT_TYPES:
            return None
        values = tuple([v.decode("latin-1") if type(v) is bytes else v for v in values])
    template = _TEMPLATES.get(tags) or _template(tags)
    text_type = msg_type.decode("latin-1") if isinstance(msg_type, bytes) else msg_type
    body = f"35={text_type}\x01{template % values}"
    try:
        message = f"8={begin_string.decode('latin-1')}\x019={len(body)}\x01{body}".encode("ascii")
    except UnicodeEncodeError:
        return None
    # Each field adds exactly one SOH, and "=" right before one is an empty value.
    if message.count(SOH) != len(values) + 3 or message.find(b"=\x01") >= 0:
        return None
    # ASCII up to 515 bytes sums to less than adler32's modulus (see _checksum_int).
    total = (adler32(message) & 0xFFFF) - 1 if len(message) <= 515 else _checksum_int(message)
    return message + _TRAILERS[total & 0xFF]


def _encode_body(msg_type: bytes | str, fields: list[tuple[int, Any]]) -> bytes:
    """Careful path: bytes values, raw data with SOH, and precise errors for bad values."""
    parts = [b"35=", msg_type if type(msg_type) is bytes else _value(35, msg_type), SOH]
    prefixes = _PREFIXES
    for tag, value in fields:
        parts += (prefixes[tag], value if type(value) is bytes else _value(tag, value), SOH)
    body = b"".join(parts)
    if body.count(SOH) != len(parts) // 3 or body.find(b"=\x01") >= 0 or not parts[1]:
        _check_values(parts)
    return body


def _check_values(parts: list[bytes]) -> None:
    """Find the offending value after encode's cheap whole-body check failed."""
    data_length: dict[int, int] = {}  # data tag -> length its length field announced
    for i in range(0, len(parts), 3):
        tag = int(parts[i][:-1])
        value = parts[i + 1]
        if not value:
            raise FixEncodeError(f"tag {tag}: empty value (FIX forbids empty fields)")
        expected = data_length.get(tag)
        if expected is not None and expected != len(value):
            raise FixEncodeError(
                f"tag {tag}: {len(value)} bytes of data, length field says {expected}"
            )
        if SOH in value and expected is None:
            raise FixEncodeError(f"tag {tag}: SOH inside a value that is not length-prefixed data")
        data_length.clear()
        if tag in DEFAULT_DATA_PAIRS and value.isdigit() and len(value) <= MAX_DIGITS:
            data_length[DEFAULT_DATA_PAIRS[tag]] = int(value)
