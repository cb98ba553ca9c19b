"""Create every registry topic on the broker, idempotently, and say what changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    TopicMetadata,
)

from schemas.topics import TOPICS, TopicSpec
from streams.internal_topics import await_leaders
from streams.replication import Replication


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.altered)


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})


def ensure_topics(bootstrap: str, topics: tuple[TopicSpec, ...] = TOPICS, timeout: float = 30.0) -> TopicsReport:
    """Create missing topics, grow partition counts and fix configs that drifted."""
    admin = _admin(bootstrap)
    rep = Replication.from_env()
    report = TopicsReport()
    existing = admin.list_topics(timeout=timeout).topics
    missing = [t for t in topics if t.name not in existing]
    if missing:
        futures = admin.create_topics(
            [NewTopic(t.name, num_partitions=t.partitions, replication_factor=rep.factor, config=_config(t, rep)) for t in missing],
            operation_timeout=timeout,
        )
        for name, fut in futures.items():
            try:
                fut.result()
                report.created.append(name)
            except KafkaException as exc:
                report.problems.append(f"{name}: {exc}")
    present = [t for t in topics if t.name in existing]
    if present:
        _reconcile(admin, present, existing, report, rep)
    # Every topic, not only the new ones: creation and growth return before leaders serve, and a
    # broker restarted on existing data leads its partitions a few seconds after it answers metadata.
    # A reader in between gets NOT_LEADER_FOR_PARTITION.
    served = [t.name for t in topics if t.name in existing or t.name in report.created]
    report.problems += await_leaders(admin, served, timeout)
    return report


def _config(t: TopicSpec, rep: Replication) -> dict[str, str]:
    return {**t.broker_config(), **rep.topic_config()}


def _reconcile(admin: AdminClient, present: list[TopicSpec], existing: Mapping[str, TopicMetadata], report: TopicsReport,
               rep: Replication) -> None:
    """Grow partition counts and fix configs that drifted on topics that exist."""
    grow = [t for t in present if len(existing[t.name].partitions) < t.partitions]
    for t in present:
        if len(existing[t.name].partitions) > t.partitions:
            report.problems.append(
                f"{t.name}: has {len(existing[t.name].partitions)} partitions, registry says {t.partitions}; "
                "Kafka cannot shrink a topic — recreate it"
            )
    if grow:
        for name, fut in admin.create_partitions([NewPartitions(t.name, t.partitions) for t in grow]).items():
            fut.result()
            report.altered.append(f"{name} (partitions)")
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t.name) for t in present]
    current = {res.name: fut.result() for res, fut in admin.describe_configs(resources).items()}
    for t in present:
        wanted = _config(t, rep)
        have = current[t.name]
        drift = {k: v for k, v in wanted.items() if k not in have or have[k].value != v}
        if drift:
            # incremental alter keeps settings we do not manage
            entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in drift.items()]
            res = ConfigResource(ConfigResource.Type.TOPIC, t.name, incremental_configs=entries)
            for _, fut in admin.incremental_alter_configs([res]).items():
                fut.result()
            report.altered.append(f"{t.name} ({', '.join(sorted(drift))})")
        elif t.name not in [g.name for g in grow]:
            report.unchanged.append(t.name)
