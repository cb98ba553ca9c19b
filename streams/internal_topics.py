"""Create a worker's internal topics (table changelogs, repartition topics) before it subscribes.

Faust declares them itself, but on a fresh broker its first group assignment can
run before the new topics are in the metadata: it logs "Ignoring missing topic"
and never consumes them. Creating them first, and waiting until every partition
is served, removes the race.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic, OffsetSpec

from schemas.topics import BY_NAME
from streams.replication import Replication


def await_leaders(admin: AdminClient, names: list[str], timeout: float) -> list[str]:
    """Wait until every partition of `names` answers a ListOffsets at its leader.

    Creation returns before the partitions are led, and the metadata names a leader
    a moment before that broker serves the partition; readers in between get
    NOT_LEADER_FOR_PARTITION. Returns the topics that never got there.
    """
    deadline = time.monotonic() + timeout
    waiting = set(names)
    while True:
        meta = admin.list_topics(timeout=timeout).topics
        requests = {
            TopicPartition(name, p): OffsetSpec.latest()
            for name in waiting
            if (t := meta.get(name)) is not None and t.error is None
            for p in t.partitions
        }
        ready = {name for name in waiting if meta.get(name) is not None and meta[name].partitions}
        if requests:
            for tp, fut in admin.list_offsets(requests, request_timeout=timeout).items():
                try:
                    fut.result()
                except KafkaException:
                    ready.discard(tp.topic)
        waiting -= ready
        if not waiting:
            return []
        if time.monotonic() > deadline:
            return [f"{name}: partitions not served by a leader after {timeout:.0f}s" for name in sorted(waiting)]
        time.sleep(0.1)


def internal_topic_specs(app: Any) -> dict[str, tuple[int, dict[str, str]]]:
    """name -> (partitions, config) of every changelog and internal source topic of `app`."""
    default = int(app.conf.topic_partitions)
    specs: dict[str, tuple[int, dict[str, str]]] = {}
    for table in app.tables.values():
        config = {"cleanup.policy": "compact", **{k: str(v) for k, v in (table.extra_topic_configs or {}).items()}}
        specs[table.changelog_topic.get_topic_name()] = (table.partitions or default, config)
    for agent in app.agents.values():
        channel = agent.channel
        if getattr(channel, "internal", False):
            for name in channel.topics:
                if name not in BY_NAME:  # a registry topic in an internal channel is created with its registry config
                    specs[name] = (channel.partitions or default, {})
    return specs


def grow_internal_topics(admin: AdminClient, specs: dict[str, tuple[int, dict[str, str]]], existing: Any, timeout: float) -> list[str]:
    """Grow changelogs and internal topics that have fewer partitions than their family now has.

    A changelog grows with its source topic (Faust refuses a table whose changelog and source counts differ).
    Growing in place only keeps keys where they are on an empty topic; a running system with state grows by a
    new generation instead (`arbees scale`, ops/scale), whose internal topics are new and created at the new count.
    """
    problems: list[str] = []
    grow = [NewPartitions(n, p) for n, (p, _) in specs.items() if n in existing and len(existing[n].partitions) < p]
    for n, (p, _) in specs.items():
        if n in existing and len(existing[n].partitions) > p:
            problems.append(f"{n}: has {len(existing[n].partitions)} partitions, the registry says {p}; Kafka cannot shrink a topic")
    if grow:  # INVALID_PARTITIONS: another worker of the group grew it first
        problems += _failures(admin.create_partitions(grow, operation_timeout=timeout), "INVALID_PARTITIONS")
    return problems


def _failures(futures: dict[str, Any], raced: str) -> list[str]:
    """What an admin request failed at, per topic; `raced` is the error another worker's win gives."""
    out: list[str] = []
    for name, fut in futures.items():
        try:
            fut.result()
        except KafkaException as exc:
            if raced not in str(exc):
                out.append(f"{name}: {exc}")
    return out


def ensure_internal_topics(bootstrap: str, app: Any, timeout: float = 30.0) -> list[str]:
    """Create the missing internal topics of `app`; return problems (empty when all are served)."""
    specs = internal_topic_specs(app)
    if not specs:
        return []
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    existing = admin.list_topics(timeout=timeout).topics
    rep = Replication.from_env()
    missing = [NewTopic(n, num_partitions=p, replication_factor=rep.factor, config={**c, **rep.topic_config()})
               for n, (p, c) in specs.items() if n not in existing]
    problems: list[str] = grow_internal_topics(admin, specs, existing, timeout)
    if missing:  # TOPIC_ALREADY_EXISTS: another worker of the group won the race
        problems += _failures(admin.create_topics(missing, operation_timeout=timeout), "TOPIC_ALREADY_EXISTS")
    return problems + await_leaders(admin, list(specs), timeout)
