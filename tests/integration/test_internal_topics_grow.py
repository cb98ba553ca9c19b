"""A changelog grows with its source topic's family (issue 18): a worker started after a family grew finds its
internal topics at the new count, instead of Faust refusing the table for a partition mismatch."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from streams.internal_topics import await_leaders, grow_internal_topics

pytestmark = pytest.mark.integration


def test_internal_topics_grow_to_their_family_count_and_never_shrink(kafka_bootstrap: str, topic_factory) -> None:  # type: ignore[no-untyped-def]
    changelog = topic_factory("it.grow.changelog", partitions=2, config={"cleanup.policy": "compact"})
    wider = topic_factory("it.grow.wider", partitions=3)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap, "log_level": 0})
    specs = {changelog: (4, {"cleanup.policy": "compact"}), wider: (2, {})}

    problems = grow_internal_topics(admin, specs, admin.list_topics(timeout=10).topics, timeout=30)

    assert await_leaders(admin, [changelog], 30) == []
    meta = admin.list_topics(timeout=10).topics
    assert len(meta[changelog].partitions) == 4
    assert len(meta[wider].partitions) == 3 and problems == [
        f"{wider}: has 3 partitions, the registry says 2; Kafka cannot shrink a topic"]
    # a second worker of the group finds it grown already: nothing to do, nothing wrong
    assert grow_internal_topics(admin, specs | {wider: (3, {})}, meta, timeout=30) == []
