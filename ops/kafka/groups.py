"""Placing a consumer group's committed offsets (a worker's group started at the log ends, a backtest's at its run's
start), retrying while a freshly started broker's group coordinator is not ready yet.

On a broker seconds old, the first commit of a group can meet NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS
while `__consumer_offsets` is created and loaded (a parallel suite run on fresh stacks failed there); both are
transient, so the commit is tried again until `timeout_s`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

#: Commit errors that only say the coordinator is not there yet.
TRANSIENT = frozenset({KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                       KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.REQUEST_TIMED_OUT,
                       KafkaError._TIMED_OUT, KafkaError._TRANSPORT})


def transient(exc: KafkaException) -> bool:
    err = exc.args[0] if exc.args else None
    return isinstance(err, KafkaError) and (err.code() in TRANSIENT or err.retriable())


def commit_offsets(bootstrap: str, group: str, offsets: Iterable[TopicPartition], timeout_s: float = 60.0) -> None:
    """Commit `offsets` (the next offset to read, per partition) for `group`, which has no member now."""
    wanted = list(offsets)
    deadline = time.monotonic() + timeout_s
    while True:
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 0})
        try:
            c.commit(offsets=wanted, asynchronous=False)
            return
        except KafkaException as exc:
            if not transient(exc) or time.monotonic() > deadline:
                raise
        finally:
            c.close()
        time.sleep(0.5)
