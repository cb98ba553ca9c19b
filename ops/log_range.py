"""Read a topic's partitions from their first held record to their ends as they are now, without a group.

The CLI's reports (`arbees pnl`, `arbees positions`), the demo and the replay check all read "what is on
the log now": start at each partition's low watermark (offset 0 is out of range once retention or
delete-records removed the oldest, and the consumer would then jump to the end and read nothing), stop
at the end it had when reading began, commit nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition


@dataclass(frozen=True)
class LogMessage:
    partition: int
    offset: int
    value: bytes


class LogRange:
    """Iterate the messages of `topic` (the given partitions, else all) up to each partition's end at start;
    `drop(partition)` stops one early. Stops at `timeout_s` even if a partition is not read to its end."""

    def __init__(self, bootstrap: str, topic: str, partitions: Iterable[int] | None = None, timeout_s: float = 60.0,
                 purpose: str = "read") -> None:
        self.bootstrap, self.topic, self.timeout_s = bootstrap, topic, timeout_s
        self._wanted = None if partitions is None else set(partitions)
        self._purpose = purpose
        self._todo: dict[int, int] = {}
        self._consumer: Consumer | None = None

    def __iter__(self) -> Iterator[LogMessage]:
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"arbees-{self._purpose}-{uuid.uuid4().hex[:8]}",
                      "enable.auto.commit": False, "log_level": 0})
        self._consumer = c
        try:
            meta = c.list_topics(self.topic, timeout=10).topics.get(self.topic)
            parts = sorted(meta.partitions) if meta is not None and meta.error is None else []
            starts: dict[int, int] = {}
            for p in parts:
                if self._wanted is not None and p not in self._wanted:
                    continue
                low, high = c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)
                if high > low:
                    starts[p], self._todo[p] = low, high
            c.assign([TopicPartition(self.topic, p, off) for p, off in starts.items()])
            deadline = time.monotonic() + self.timeout_s
            while self._todo and time.monotonic() < deadline:
                msg = c.poll(0.5)
                if msg is None or msg.error() is not None:
                    continue
                p, off = int(msg.partition() or 0), int(msg.offset() or 0)
                end = self._todo.get(p)
                if end is None:
                    continue  # dropped, or read to its end
                if off + 1 >= end:
                    del self._todo[p]
                yield LogMessage(p, off, bytes(msg.value() or b""))
        finally:
            self._consumer = None
            c.close()

    def drop(self, partition: int) -> None:
        """Read no more of `partition`."""
        if self._todo.pop(partition, None) is not None and self._consumer is not None:
            self._consumer.incremental_unassign([TopicPartition(self.topic, partition)])
