"""Reads the topics the board draws on a background thread and folds them into a `BoardState`.

Group-less (assign, never commit): the board moves no consumer group. Account
topics and links are read from the beginning (balances and positions need the
whole history), or from where the database's history ends (`start`, see
ops.board.history); the busy event topics from `since_ms` on. The client reconnects
by itself when the broker goes away; the board keeps serving what it has and
says how old it is.
"""

from __future__ import annotations

import threading
import time
import uuid

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from ops.board.state import BoardState
from schemas.codec import default_codec
from schemas.errors import DecodeError
from telemetry.meter import Meter

log = structlog.get_logger(__name__)

#: Read whole: small, and needed from the start (balances, positions, links, breakers).
FROM_START = ("ledger", "positions", "risk.state", "markets.links", "orders", "fills")
#: Read from the window's start on.
WINDOWED = ("events.state", "model.probabilities", "markets.quotes", "signals", "health", "alerts", "deadletter")


class Feed(threading.Thread):
    def __init__(self, bootstrap: str, state: BoardState, since_ms: int, meter: Meter | None = None,
                 start: dict[tuple[str, int], int] | None = None) -> None:
        super().__init__(name="board-feed", daemon=True)
        self.bootstrap, self.state, self.since_ms, self.meter = bootstrap, state, since_ms, meter
        self.start_offsets = dict(start or {})  # (topic, partition) -> offset: the database has what is before it
        self.lock = threading.Lock()
        self.version = 0  # bumped per batch folded: the page is pushed only when it moved
        self.last_read_wall = 0.0
        self.connected = False
        self.error = ""
        self._stop = threading.Event()

    def _assign(self, consumer: Consumer) -> list[str]:
        meta = consumer.list_topics(timeout=10)
        tps: list[TopicPartition] = []
        windowed: list[TopicPartition] = []
        for name in (*FROM_START, *WINDOWED):
            topic = meta.topics.get(name)
            if topic is None or topic.error is not None:
                continue
            for p in topic.partitions:
                if name in FROM_START:
                    tps.append(TopicPartition(name, p, self.start_offsets.get((name, p), OFFSET_BEGINNING)))
                else:
                    windowed.append(TopicPartition(name, p, self.since_ms))
        if windowed:
            tps += consumer.offsets_for_times(windowed, timeout=10)
        consumer.assign(tps)
        return sorted({tp.topic for tp in tps})

    def run(self) -> None:
        codec = default_codec()
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"arbees-board-{uuid.uuid4().hex}",
                             "enable.auto.commit": False, "log_level": 0})
        try:
            while not self._stop.is_set():
                try:
                    topics = self._assign(consumer)
                    break
                except Exception as exc:  # noqa: BLE001 - the broker is not up yet: say so, try again
                    self.error = f"broker {self.bootstrap}: {exc}"
                    self._stop.wait(2.0)
            else:
                return
            log.info("board.reading", topics=topics, since_ms=self.since_ms)
            while not self._stop.is_set():
                batch = consumer.consume(500, timeout=0.5)
                if not batch:
                    continue
                with self.lock:
                    for msg in batch:
                        if msg.error() is not None:
                            continue
                        try:
                            record = codec.decode(msg.value())
                        except DecodeError:
                            self.state.undecodable_record(str(msg.topic()))
                            continue
                        self.state.apply(str(msg.topic()), record)
                        if self.meter is not None:
                            self.meter.consumed(str(msg.topic()), 1, int(getattr(record, "ts", 0) or 0))
                    self.version += 1
                self.connected, self.error, self.last_read_wall = True, "", time.time()
        finally:
            consumer.close()

    def stop(self) -> None:
        self._stop.set()
