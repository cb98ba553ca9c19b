"""Placing a group's offsets retries only what says the coordinator is not ready yet."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ops.kafka import groups


@pytest.mark.parametrize("code", [KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                                  KafkaError.COORDINATOR_NOT_AVAILABLE])
def test_a_coordinator_not_ready_yet_is_transient(code: int) -> None:
    assert groups.transient(KafkaException(KafkaError(code)))


def test_a_refused_commit_is_not() -> None:
    assert not groups.transient(KafkaException(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED)))
    assert not groups.transient(KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)))


def test_the_commit_is_tried_again_until_the_coordinator_answers(monkeypatch: Any) -> None:
    """The first two commits meet NOT_COORDINATOR (a broker seconds old, as in a parallel suite run on fresh stacks:
    made-up here, the error is the recorded one); the third is taken. Every consumer is closed."""
    calls: list[list[TopicPartition]] = []
    closed: list[bool] = []

    class Consumer:  # made up: a stand-in for confluent_kafka.Consumer
        def __init__(self, conf: dict[str, Any]) -> None:
            assert conf["group.id"] == "g" and conf["enable.auto.commit"] is False

        def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
            calls.append(offsets)
            if len(calls) < 3:
                raise KafkaException(KafkaError(KafkaError.NOT_COORDINATOR))

        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(groups, "Consumer", Consumer)
    monkeypatch.setattr(groups.time, "sleep", lambda s: None)
    groups.commit_offsets("b:1", "g", [TopicPartition("t", 0, 5)])
    assert len(calls) == 3 and len(closed) == 3 and calls[-1][0].offset == 5
