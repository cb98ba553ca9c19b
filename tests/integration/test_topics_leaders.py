"""`ensure_topics` returns only when every registry partition is served by its leader.

A broker restarted on existing data answers metadata seconds before it leads its
partitions again; a reader in between (the e2e test's first end-offset read) got
NOT_LEADER_FOR_PARTITION. Runs on a private broker so the session's is never restarted.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from ops.kafka import broker
from ops.kafka.broker import BrokerConfig
from ops.topics import ensure_topics
from schemas.topics import TOPICS

pytestmark = pytest.mark.integration


def _free_pair() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
        with socket.socket() as b:
            try:
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port pair")


@pytest.fixture
def private_broker() -> Iterator[BrokerConfig]:
    folder = Path(tempfile.mkdtemp(prefix="arbees-leaders-"))
    port = _free_pair()
    config = BrokerConfig(state_dir=folder / "kafka", port=port, controller_port=port + 1)
    try:
        yield config
    finally:
        broker.stop(config)
        shutil.rmtree(folder, ignore_errors=True)


def _end_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    """Every registry partition's high watermark with a fresh consumer, no retries: any error raises."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "leaders-probe", "log_level": 0})
    try:
        return {(t.name, p): c.get_watermark_offsets(TopicPartition(t.name, p), timeout=10)[1]
                for t in TOPICS for p in range(t.partitions)}
    finally:
        c.close()


def test_topics_are_readable_right_after_a_broker_restart(private_broker: BrokerConfig) -> None:
    bootstrap = f"127.0.0.1:{private_broker.port}"
    broker.start(private_broker)
    first = ensure_topics(bootstrap)
    assert not first.problems, first.problems
    assert len(first.created) == len(TOPICS)

    broker.stop(private_broker)
    broker.start(private_broker)  # existing data: partitions are led again only after re-registration
    again = ensure_topics(bootstrap)
    assert not again.problems, again.problems
    assert again.created == []
    ends = _end_offsets(bootstrap)
    assert len(ends) == sum(t.partitions for t in TOPICS)
    assert set(ends.values()) == {0}


def test_kafka_backtest_reads_log_ends_right_after_a_broker_restart(private_broker: BrokerConfig) -> None:
    """The Kafka engine's first offset read (`python -m bench.backtest` on a fresh stack) waits for leaders."""
    from ops.backtest.kafka import KafkaEngine

    bootstrap = f"127.0.0.1:{private_broker.port}"
    broker.start(private_broker)
    assert not ensure_topics(bootstrap).problems
    broker.stop(private_broker)
    broker.start(private_broker)  # no ensure_topics this time: the engine's own read must wait
    names = tuple(t.name for t in TOPICS)
    ends = KafkaEngine(bootstrap)._ends(names)
    assert {(t, p) for t, parts in ends.items() for p in parts} == {(t.name, p) for t in TOPICS for p in range(t.partitions)}
    assert {o for parts in ends.values() for o in parts.values()} == {0}
