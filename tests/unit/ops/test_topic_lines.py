"""Readable topic lines: --since parsing, undecodable records shown with their offset, JSON out."""

from __future__ import annotations

import json

import pytest

from ops.topic_lines import Message, as_json, decode, parse_since, readable
from schemas.codec import default_codec
from tests.unit.sink.samples import every_type

NOW = 1_781_000_000_000


def test_since_accepts_iso_epoch_and_spans() -> None:
    assert parse_since("2026-06-09T01:00:00Z") == 1_780_966_800_000
    assert parse_since("2026-06-09T01:00:00") == 1_780_966_800_000  # no zone: UTC
    assert parse_since("1780966800000") == 1_780_966_800_000
    assert parse_since("15m", now_ms=NOW) == NOW - 900_000
    assert parse_since("2h", now_ms=NOW) == NOW - 7_200_000
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday")


def test_undecodable_record_is_a_line_with_its_offset_and_why() -> None:
    d = decode(default_codec(), Message("signals", 3, 41, NOW, "k", b"\x00\x00\x00\x99\x99junk"))  # made-up bytes
    assert d.record is None
    line = readable(d)
    assert "signals[3]@41 key=k UNDECODABLE (9 bytes" in line and "schema id" in line
    assert json.loads(as_json(d))["undecodable"] is True


def test_recorded_records_read_as_lines_and_json() -> None:
    codec = default_codec()
    for i, rec in enumerate(every_type("u1")):
        d = decode(codec, Message("t", 0, i, NOW, "k", codec.encode(rec)))
        assert d.record == rec
        line = readable(d)
        assert f"t[0]@{i} key=k {type(rec).__name__} " in line and len(line) < 2_000  # a RawFeed body is cut short
        assert json.loads(as_json(d))["type"] == type(rec).__name__
