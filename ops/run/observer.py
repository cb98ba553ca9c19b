"""Reads what the screen needs off the log on a background thread and folds it into a `Board`."""

from __future__ import annotations

import threading
import uuid

import structlog
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from ops.run.board import FROM_END, FROM_START, Board
from schemas.codec import default_codec

log = structlog.get_logger(__name__)


class Observer(threading.Thread):
    """A group-less consumer: small topics from the beginning, the rest from now on."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(name="observer", daemon=True)
        self.board = Board()
        self.lock = threading.Lock()
        self.bootstrap = bootstrap
        self.errors = 0
        self._stop = threading.Event()

    def _assign(self, consumer: Consumer) -> None:
        metadata = consumer.list_topics(timeout=15)
        tps = []
        for name in (*FROM_START, *FROM_END):
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                continue
            start = OFFSET_BEGINNING if name in FROM_START else OFFSET_END
            tps += [TopicPartition(name, p, start) for p in topic.partitions]
        consumer.assign(tps)

    def run(self) -> None:
        codec = default_codec()
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"arbees-screen-{uuid.uuid4().hex}",
                             "enable.auto.commit": False, "log_level": 0})
        try:
            self._assign(consumer)
            while not self._stop.is_set():
                for msg in consumer.consume(500, timeout=0.25):
                    if msg.error() is not None or msg.value() is None:
                        continue
                    try:
                        record = codec.decode(msg.value())
                    except Exception:  # noqa: BLE001 - the agents dead-letter bad input; the screen just skips it
                        self.errors += 1
                        continue
                    with self.lock:
                        self.board.apply(msg.topic() or "", record)
        finally:
            consumer.close()

    def stop(self) -> None:
        self._stop.set()
