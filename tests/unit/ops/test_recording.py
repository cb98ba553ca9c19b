"""Recordings (ops/backtest/recording.py): what goes in comes back, decodable from the file alone.

Input: the recorded real session (data/sessions/nba-2026-finals-g3) as the connectors normalize it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastavro import reader

from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.backtest.records import BacktestError
from ops.backtest.recording import (
    FORMAT, EmbeddedRegistry, RecordingInfo, expand_topics, messages_of, read_recording, select, write_recording,
)
from ops.backtest.source import RawMessage
from ops.sessions import recording as session_recording
from ops.sessions.replay import load_session, normalize
from ops.backtest.records import partition_for
from schemas.topics import spec
from schemas.codec import Codec, default_codec
from schemas.errors import DecodeError

SESSION = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3"


@pytest.fixture(scope="module")
def session_records():
    return load_session(SESSION)


def _info() -> RecordingInfo:
    return RecordingInfo(("markets.quotes",), {"markets.quotes": 12}, None, None, "test")


def test_every_coordinate_key_header_and_byte_comes_back(session_records, tmp_path: Path) -> None:
    msgs = messages_of(session_records[:50])
    msgs[3] = RawMessage(msgs[3].topic, msgs[3].partition, msgs[3].offset, 1234, 2, msgs[3].key, msgs[3].value,
                         (("arbees-app", b"w-1"), ("empty", None)))
    times = [r.ts for r in session_records[:50]]
    path = write_recording(tmp_path / "r.avro", msgs, times, _info())
    back = read_recording(path)
    assert back.messages == msgs and back.event_ts == times
    assert back.info == _info()
    with path.open("rb") as f:  # a plain Avro object container any Avro reader opens
        avro = reader(f)
        assert avro.metadata["arbees.format"] == FORMAT
        first = next(iter(avro))
        assert first["schema_id"] == default_codec().schema_id(type(session_records[0].value))


def test_the_file_decodes_with_its_embedded_schemas_alone(session_records, tmp_path: Path) -> None:
    msgs = messages_of(session_records)
    path = write_recording(tmp_path / "r.avro", msgs, [r.ts for r in session_records], _info())
    rec = read_recording(path)
    assert isinstance(rec.registry, EmbeddedRegistry) and rec.registry.all()
    nothing = Codec(EmbeddedRegistry([]))  # a reader with no registry of its own cannot decode the values...
    with pytest.raises(DecodeError):
        nothing.decode(msgs[0].value)
    read = rec.inputs()  # ...the recording's codec can
    assert [(r.topic, r.key, r.partition, r.offset, r.value) for r in read.records] == [
        (r.topic, r.key, r.partition, r.offset, r.value) for r in session_records]
    assert not read.dead


def test_an_undecodable_record_is_kept_and_replayed_as_a_dead_letter(session_records, tmp_path: Path) -> None:
    good = messages_of(session_records[:5])
    bad = RawMessage("markets.quotes", 0, 99, 5, 1, b"KALSHI:X", b"\x00\x00\x00\x7f\x7fgarbage")
    kept, times = select([*good, bad], None, None)
    assert kept[-1] == bad and times[-1] is None
    rec = read_recording(write_recording(tmp_path / "r.avro", kept, times, _info()))
    read = rec.inputs()
    assert len(read.records) == 5 and len(read.dead) == 1
    assert read.dead[0].offset == 99 and read.dead[0].topic == "markets.quotes"


def test_select_keeps_the_event_time_range(session_records) -> None:
    msgs = messages_of(session_records)
    lo, hi = session_records[100].ts, session_records[200].ts
    kept, times = select(msgs, lo, hi)
    assert kept and all(lo <= t < hi for t in times)  # type: ignore[operator]
    assert len(kept) == sum(1 for r in session_records if lo <= r.ts < hi)


def test_topic_globs_expand_against_the_registry() -> None:
    assert "raw.espn" in expand_topics(["raw.*"]) and all(t.startswith("raw.") for t in expand_topics(["raw.*"]))
    assert expand_topics(["markets.quotes", "events.state"]) == ("events.state", "markets.quotes")
    with pytest.raises(BacktestError):
        expand_topics(["no.such.topic"])


def test_the_shipped_session_recording_is_the_session(session_records, tmp_path: Path) -> None:
    """data/sessions/nba-2026-finals-g3/recording.avro holds what the feed gives (rebuild: python -m ops.sessions.recording)."""
    shipped = read_recording(SESSION / session_recording.FILE)
    read = shipped.inputs()
    assert [(r.topic, r.key, r.partition, r.offset, r.value) for r in read.records] == [
        (r.topic, r.key, r.partition, r.offset, r.value) for r in session_records]
    again = session_recording.build(SESSION, tmp_path / "a.avro")
    assert again.read_bytes() == session_recording.build(SESSION, tmp_path / "b.avro").read_bytes()
    config = BacktestConfig(account="bt-unit")
    from_file = InProcessEngine(config).run(read.records)
    assert from_file.digest() == InProcessEngine(config).run(session_records).digest()
    assert from_file.orders and from_file.fills


def test_a_raw_only_recording_replays_through_the_connectors_into_the_same_run(session_records, tmp_path: Path) -> None:
    """`arbees record --topics 'raw.*'` keeps the payloads; the backtest rebuilds the inputs from them."""
    published = [p for p in normalize(SESSION) if p.topic.startswith("raw.")]
    codec = default_codec()
    offsets: dict[tuple[str, int], int] = {}
    msgs = []
    for p in published:
        part = partition_for(p.key, spec(p.topic).partitions)
        off = offsets[(p.topic, part)] = offsets.get((p.topic, part), -1) + 1
        msgs.append(RawMessage(p.topic, part, off, p.record.ts, 1, p.key.encode(), codec.encode(p.record)))
    msgs.append(RawMessage("raw.espn", 0, 10_000, 5, 1, b"espn", b"not avro"))
    kept, times = select(msgs, None, None)
    rec = read_recording(write_recording(tmp_path / "raw.avro", kept, times, _info()))
    assert rec.raw_only
    read = rec.inputs()
    assert [(r.topic, r.key, r.value) for r in read.records] == [(r.topic, r.key, r.value) for r in session_records]
    assert [d.offset for d in read.dead] == [10_000]
    config = BacktestConfig(account="bt-unit")
    assert InProcessEngine(config).run(read.records).digest() == InProcessEngine(config).run(session_records).digest()
