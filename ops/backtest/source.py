"""Reading a backtest's input from the registry topics: a time range or explicit start offsets.

Records keep their real coordinates (partition, offset), which break event-time
ties in the replay order. A record that does not decode is not replayed; it is
returned as a DeadLetter with its coordinates, as the agents would have sent it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable, Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas.codec import default_codec
from schemas.deadletters import dead_letter
from schemas.errors import DecodeError
from schemas.records import DeadLetter, EventState, MarketLink, MarketListing, Quote

from ops.backtest.records import INPUT_TOPICS, INPUT_TYPES, BacktestError, InputRecord

Progress = Callable[[int, int], None]


@dataclass
class ReadInput:
    records: list[InputRecord] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def read_inputs(
    bootstrap: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    offsets: Mapping[str, Mapping[int, int]] | None = None,
    topics: tuple[str, ...] = INPUT_TOPICS,
    progress: Progress | None = None,
    timeout_s: float = 300.0,
) -> ReadInput:
    """Input records with event time in [start_ms, end_ms) (either bound optional), up to the current log ends.

    Start offsets come from `offsets` (topic → partition → offset) where given, else from the
    broker's time index at `start_ms`, else the beginning of the log.
    """
    import time

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"backtest-src-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "log_level": 0})
    codec = default_codec()
    out = ReadInput()
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
            return out
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
            key = (msg.key() or b"").decode(errors="replace")
            raw = msg.value() or b""
            when = msg.timestamp()[1]
            try:
                value = codec.decode(raw)
            except DecodeError as exc:
                out.dead.append(dead_letter(topic=topic, value=raw, error=exc, service="backtest", ts=when,
                                            partition=part, offset=off, key=msg.key()))
                continue
            if not isinstance(value, (EventState, MarketListing, MarketLink, Quote)) or not isinstance(value, INPUT_TYPES[topic]):
                out.dead.append(dead_letter(topic=topic, value=raw, service="backtest", ts=when, partition=part,
                                            offset=off, key=msg.key(),
                                            error=f"{topic} carries {INPUT_TYPES[topic].__name__}, got {type(value).__name__}"))
                continue
            record = InputRecord(topic, key, value, part, off)
            if (start_ms is not None and record.ts < start_ms) or (end_ms is not None and record.ts >= end_ms):
                continue
            out.records.append(record)
        if remaining:
            raise BacktestError(f"reading the input timed out after {timeout_s:.0f}s; unread: {sorted(remaining)[:5]}")
        if progress is not None:
            progress(total, total)
        return out
    finally:
        c.close()
