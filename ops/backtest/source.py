"""Reading a backtest's input from the registry topics: a time range or explicit start offsets.

Records keep their real coordinates (partition, offset), which break event-time
ties in the replay order. A record that does not decode is not replayed; it is
returned as a DeadLetter with its coordinates, as the agents would have sent it.
`scan` is the raw read both the backtest and `arbees record` use; `decode_input`
turns one raw message into an input record, whether it came from the broker or
from a recording file (ops/backtest/recording.py), so both replay the same records.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Callable, Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas.codec import Codec, default_codec
from schemas.deadletters import dead_letter
from schemas.errors import DecodeError
from schemas.records import DeadLetter, EventState, MarketLink, MarketListing, Quote

from ops.backtest.records import INPUT_TOPICS, INPUT_TYPES, BacktestError, InputRecord

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RawMessage:
    """One Kafka record exactly as the broker holds it: coordinates, broker timestamp, key, headers, wire bytes."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # broker timestamp, epoch ms
    timestamp_type: int  # 1: producer's create time, 2: broker's log-append time
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass
class ReadInput:
    records: list[InputRecord] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def decode_input(codec: Codec, msg: RawMessage) -> InputRecord | DeadLetter:
    """The replayable input record a raw message holds, or the dead letter the agents would have sent for it."""
    raw = msg.value or b""
    try:
        value = codec.decode(raw)
    except DecodeError as exc:
        return dead_letter(topic=msg.topic, value=raw, error=exc, service="backtest", ts=msg.timestamp,
                           partition=msg.partition, offset=msg.offset, key=msg.key)
    want = INPUT_TYPES.get(msg.topic)
    if want is None or not isinstance(value, (EventState, MarketListing, MarketLink, Quote)) or not isinstance(value, want):
        expected = want.__name__ if want is not None else "no backtest input"
        return dead_letter(topic=msg.topic, value=raw, service="backtest", ts=msg.timestamp, partition=msg.partition,
                           offset=msg.offset, key=msg.key,
                           error=f"{msg.topic} carries {expected}, got {type(value).__name__}")
    return InputRecord(msg.topic, (msg.key or b"").decode(errors="replace"), value, msg.partition, msg.offset)


def collect_inputs(messages: Iterator[RawMessage] | list[RawMessage], codec: Codec,
                   start_ms: int | None = None, end_ms: int | None = None) -> ReadInput:
    """Input records with event time in [start_ms, end_ms); undecodable ones as dead letters (whatever their time)."""
    out = ReadInput()
    for msg in messages:
        got = decode_input(codec, msg)
        if isinstance(got, DeadLetter):
            out.dead.append(got)
        elif (start_ms is None or got.ts >= start_ms) and (end_ms is None or got.ts < end_ms):
            out.records.append(got)
    return out


def scan(
    bootstrap: str,
    topics: tuple[str, ...],
    start_ms: int | None = None,
    offsets: Mapping[str, Mapping[int, int]] | None = None,
    progress: Progress | None = None,
    timeout_s: float = 300.0,
) -> Iterator[RawMessage]:
    """Every record of `topics` from the start points up to the log ends as of the call, per partition in order.

    Start offsets come from `offsets` (topic → partition → offset) where given, else from the
    broker's time index at `start_ms` (a lower bound: broker time is never before event time
    for live data), else the beginning of the log.
    """
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"backtest-src-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "log_level": 0})
    try:
        meta = c.list_topics(timeout=15).topics
        missing = [t for t in topics if t not in meta]
        if missing:
            raise BacktestError(f"input topics missing on {bootstrap}: {missing}; run `arbees topics create`")
        starts: list[TopicPartition] = []
        for t in topics:
            parts = sorted(meta[t].partitions)
            given = (offsets or {}).get(t)
            if given is not None:
                starts += [TopicPartition(t, p, int(given.get(p, OFFSET_BEGINNING))) for p in parts]
            elif start_ms is not None:
                found = c.offsets_for_times([TopicPartition(t, p, start_ms) for p in parts], timeout=15)
                starts += [TopicPartition(t, tp.partition, tp.offset if tp.offset >= 0 else
                                          c.get_watermark_offsets(TopicPartition(t, tp.partition), timeout=10)[1])
                           for tp in found]
            else:
                starts += [TopicPartition(t, p, OFFSET_BEGINNING) for p in parts]
        remaining: dict[tuple[str, int], int] = {}
        total = 0
        for tp in starts:
            low, high = c.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
            first = low if tp.offset == OFFSET_BEGINNING else tp.offset
            if high > first:
                remaining[(tp.topic, tp.partition)] = high
                total += high - first
        todo = [tp for tp in starts if (tp.topic, tp.partition) in remaining]
        if not todo:
            return
        c.assign(todo)
        seen = 0
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            topic, part, off = str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0)
            end = remaining.get((topic, part))
            if end is None or off >= end:
                continue
            if off + 1 >= end:
                del remaining[(topic, part)]
            seen += 1
            if progress is not None and seen % 1000 == 0:
                progress(seen, total)
            kind, when = msg.timestamp()
            headers = tuple((str(k), None if v is None else bytes(v)) for k, v in (msg.headers() or ()))
            yield RawMessage(topic, part, off, int(when), int(kind), msg.key(), msg.value(), headers)
        if remaining:
            raise BacktestError(f"reading the input timed out after {timeout_s:.0f}s; unread: {sorted(remaining)[:5]}")
        if progress is not None:
            progress(total, total)
    finally:
        c.close()


def read_inputs(
    bootstrap: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    offsets: Mapping[str, Mapping[int, int]] | None = None,
    topics: tuple[str, ...] = INPUT_TOPICS,
    progress: Progress | None = None,
    timeout_s: float = 300.0,
) -> ReadInput:
    """Input records with event time in [start_ms, end_ms) (either bound optional), up to the current log ends."""
    return collect_inputs(scan(bootstrap, topics, start_ms, offsets, progress, timeout_s), default_codec(), start_ms, end_ms)
