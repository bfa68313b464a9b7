"""The venue-neutral recording: written with the venue's name, read back as the same records."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectivity.connector.recording import FORMAT, Record, RecordWriter, read_recording, venue_of
from connectivity.errors import ParseError


def test_records_round_trip_and_the_meta_line_names_the_venue(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with RecordWriter(path, venue="kraken") as writer:
        writer.connect(1, "wss://ws.example/v2")
        writer.ws(2, "wss://ws.example/v2", b'{"a":1}')
        writer.snapshot(3, "XBT/USD", b'{"bids":[]}', "https://api.example")
    venue, records = venue_of(read_recording(path))
    assert venue == "kraken"
    listed = list(records)
    assert listed[0].kind == "meta" and FORMAT in (listed[0].data or "")
    assert listed[1:] == [
        Record(1, "connect", "wss://ws.example/v2"),
        Record(2, "ws", "wss://ws.example/v2", None, '{"a":1}'),
        Record(3, "snapshot", "https://api.example", "XBT/USD", '{"bids":[]}'),
    ]


def test_a_recording_without_meta_line_has_no_venue_and_keeps_every_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bare.jsonl"
    path.write_text('{"t": 5, "kind": "connect", "url": "u"}\n')
    venue, records = venue_of(read_recording(path))
    assert venue is None and list(records) == [Record(5, "connect", "u")]


def test_a_malformed_line_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t": "soon", "kind": "ws"}\n')
    with pytest.raises(ParseError):
        list(read_recording(path))
