"""Recordings: a range of topics kept outside the broker, as one Avro object container file.

Topics age out after their retention; a recording does not. Each entry is one
Kafka record exactly as the broker held it — topic, partition, offset, broker
timestamp and its type, key, headers and the value's wire bytes (Confluent
framing: magic byte, schema id, Avro body) — plus the value's event time and
schema id, read once at recording time so a reader can select a range without
decoding. The file's metadata embeds every value schema the entries use
(`arbees.schemas`: id, subject, schema), so the file decodes without the
registry that wrote it: `Recording.codec()` resolves ids from the file alone and
reads them into the current record types by Avro schema resolution.

Replaying a recording gives the backtest the records it would have read from the
topics, coordinates included (ops/backtest/source.py `collect_inputs`), so a run
on the file and a run on the topics are the same run, record for record.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro import reader, writer

from schemas.codec import Codec, default_codec
from schemas.errors import DecodeError, RegistryError
from schemas.registry import RegisteredSchema, canonical
from schemas.topics import TOPICS

from ops.backtest.records import INPUT_TOPICS, BacktestError, InputRecord
from ops.backtest.source import RawMessage, ReadInput, collect_inputs

FORMAT = "arbees.recording/1"
_FRAME = struct.Struct(">bI")

ENTRY_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "RecordedMessage",
    "namespace": "arbees.recording",
    "doc": "One Kafka record as the broker held it; `value` is Confluent-framed Avro whose schema is in the file's "
           "`arbees.schemas` metadata under `schema_id`.",
    "fields": [
        {"name": "topic", "type": "string"},
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "timestamp", "type": "long", "doc": "broker timestamp, epoch ms"},
        {"name": "timestamp_type", "type": "int", "doc": "1: producer create time, 2: broker log-append time"},
        {"name": "event_ts", "type": ["null", "long"], "default": None,
         "doc": "the value's event time (`ts`, epoch ms); null when the value does not decode"},
        {"name": "schema_id", "type": ["null", "int"], "default": None},
        {"name": "key", "type": ["null", "bytes"], "default": None},
        {"name": "headers", "type": {"type": "array", "items": {
            "type": "record", "name": "Header",
            "fields": [{"name": "key", "type": "string"}, {"name": "value", "type": ["null", "bytes"]}]}},
         "default": []},
        {"name": "value", "type": ["null", "bytes"], "default": None},
    ],
}


def expand_topics(patterns: Iterable[str]) -> tuple[str, ...]:
    """Registry topic names matching the given names or globs (`raw.*`), in registry order; unknown names fail."""
    names = [t.name for t in TOPICS]
    out: list[str] = []
    for pattern in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise BacktestError(f"no registry topic matches {pattern!r}")
        out += [h for h in hits if h not in out]
    return tuple(n for n in names if n in out)


class EmbeddedRegistry:
    """The schemas a recording carries, by id: a read-only registry for the codec."""

    def __init__(self, schemas: Iterable[RegisteredSchema]) -> None:
        self._by_id = {s.schema_id: s for s in schemas}

    def id_for(self, subject: str, schema: dict[str, Any]) -> int:
        raise RegistryError("a recording's registry is read-only")

    def schema_for(self, schema_id: int) -> RegisteredSchema:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise RegistryError(f"schema id {schema_id} is not embedded in the recording") from None

    def all(self) -> list[RegisteredSchema]:
        return [self._by_id[k] for k in sorted(self._by_id)]


@dataclass(frozen=True)
class RecordingInfo:
    """What a recording covers: the event-time range asked for, the topics and their partition counts, where from."""

    topics: tuple[str, ...]
    partitions: dict[str, int]
    start_ms: int | None
    end_ms: int | None
    source: str

    def as_json(self) -> str:
        return json.dumps({"topics": list(self.topics), "partitions": self.partitions, "from": self.start_ms,
                           "to": self.end_ms, "source": self.source}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RecordingInfo:
        d = json.loads(text)
        return cls(tuple(d["topics"]), {k: int(v) for k, v in d["partitions"].items()}, d.get("from"), d.get("to"),
                   d.get("source", ""))


@dataclass
class Recording:
    """A recording read back: what it covers, its embedded schemas and its messages in file order."""

    info: RecordingInfo
    registry: EmbeddedRegistry
    messages: list[RawMessage] = field(default_factory=list)
    event_ts: list[int | None] = field(default_factory=list)

    def codec(self) -> Codec:
        """A codec that knows only the file's schemas (never the registry of the machine reading it)."""
        return Codec(self.registry)

    @property
    def raw_only(self) -> bool:
        """The file holds `raw.*` records and no backtest input: the inputs are rebuilt from the payloads."""
        return not any(m.topic in INPUT_TOPICS for m in self.messages) and any(
            m.topic.startswith("raw.") for m in self.messages)

    def inputs(self, start_ms: int | None = None, end_ms: int | None = None) -> ReadInput:
        """The backtest input records in the file (event time in [start_ms, end_ms)), as the topics would give them;
        from a `raw.*`-only file, what the connectors' normalizers make of its payloads (ops/backtest/raw_replay.py)."""
        if self.raw_only:
            from ops.backtest.raw_replay import inputs_from_raw

            return inputs_from_raw(self.messages, self.codec(), start_ms, end_ms)
        wanted = [m for m in self.messages if m.topic in INPUT_TOPICS]
        return collect_inputs(wanted, self.codec(), start_ms, end_ms)


def _schema_id(value: bytes | None) -> int | None:
    if not value or len(value) < _FRAME.size:
        return None
    magic, schema_id = _FRAME.unpack_from(value)
    return schema_id if magic == 0 else None


def _entries(messages: Iterable[RawMessage], event_ts: Iterable[int | None]) -> Iterator[dict[str, Any]]:
    for m, ts in zip(messages, event_ts):
        yield {"topic": m.topic, "partition": m.partition, "offset": m.offset, "timestamp": m.timestamp,
               "timestamp_type": m.timestamp_type, "event_ts": ts, "schema_id": _schema_id(m.value), "key": m.key,
               "headers": [{"key": k, "value": v} for k, v in m.headers], "value": m.value}


def select(messages: Iterable[RawMessage], start_ms: int | None, end_ms: int | None,
           codec: Codec | None = None) -> tuple[list[RawMessage], list[int | None]]:
    """The messages whose event time is in [start_ms, end_ms), with that time; undecodable ones are kept (time None):
    a recording never drops what it cannot read, the backtest dead-letters it as the topics would."""
    codec = codec or default_codec()
    kept: list[RawMessage] = []
    times: list[int | None] = []
    for m in messages:
        try:
            ts: int | None = int(codec.decode(m.value).ts)
        except (DecodeError, AttributeError):
            ts = None
        if ts is not None and ((start_ms is not None and ts < start_ms) or (end_ms is not None and ts >= end_ms)):
            continue
        kept.append(m)
        times.append(ts)
    return kept, times


def write_recording(path: Path, messages: list[RawMessage], event_ts: list[int | None], info: RecordingInfo,
                    codec: Codec | None = None) -> Path:
    """Write the messages (in the given order) with every value schema they use; byte-identical for equal input."""
    codec = codec or default_codec()
    ids = sorted({i for i in (_schema_id(m.value) for m in messages) if i is not None})
    schemas = []
    for i in ids:
        try:
            reg = codec.registry.schema_for(i)
        except RegistryError:
            continue  # a value framed with an id nobody knows: kept as bytes, dead-lettered on replay
        schemas.append({"id": reg.schema_id, "subject": reg.subject, "schema": canonical(reg.schema)})
    meta = {"arbees.format": FORMAT, "arbees.schemas": json.dumps(schemas, sort_keys=True),
            "arbees.info": info.as_json()}
    digest = hashlib.blake2b(digest_size=16)
    for m in messages:
        digest.update(f"{m.topic}/{m.partition}/{m.offset}".encode())
        digest.update(m.value or b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as out:
        # a sync marker from the content (fastavro draws a random one), and the schema as written here (a parsed
        # schema's key order varies with the process's hash seed): the same recording gives the same bytes
        writer(out, ENTRY_SCHEMA, _entries(messages, event_ts), codec="deflate", metadata=meta,
               sync_marker=digest.digest(), sync_interval=64 * 1024)
    tmp.replace(path)
    return path


def read_recording(path: Path) -> Recording:
    """Read a recording file; a file that is not one says so."""
    try:
        with path.open("rb") as f:
            avro = reader(f)
            meta = avro.metadata
            if meta.get("arbees.format") != FORMAT:
                raise BacktestError(f"{path} is not an Arbees recording (format {meta.get('arbees.format')!r})")
            schemas = [RegisteredSchema(int(s["id"]), s["subject"], json.loads(s["schema"]))
                       for s in json.loads(meta["arbees.schemas"])]
            rec = Recording(RecordingInfo.from_json(meta["arbees.info"]), EmbeddedRegistry(schemas))
            for entry in avro:
                e: dict[str, Any] = entry  # type: ignore[assignment]  # records of ENTRY_SCHEMA
                rec.messages.append(RawMessage(
                    e["topic"], e["partition"], e["offset"], e["timestamp"], e["timestamp_type"], e["key"], e["value"],
                    tuple((h["key"], h["value"]) for h in e["headers"])))
                rec.event_ts.append(e["event_ts"])
    except (OSError, ValueError, KeyError) as exc:
        raise BacktestError(f"cannot read recording {path}: {exc}") from exc
    return rec


def messages_of(records: Iterable[InputRecord], codec: Codec | None = None) -> list[RawMessage]:
    """Input records as the broker would hold them (timestamp = event time), for recordings made without a broker."""
    codec = codec or default_codec()
    return [RawMessage(r.topic, r.partition, r.offset, r.ts, 1, r.key.encode(), codec.encode(r.value))
            for r in records]
