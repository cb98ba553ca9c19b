"""`arbees topics tail` and `arbees topics show`: a topic read and described without Docker or Kafka UI.

Reading is group-less (assign, never commit), so looking at a topic moves no
consumer group's offsets.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from ops.topic_lines import Decoded, Message, decode
from schemas.codec import Codec, default_codec, subject_of
from schemas.topics import TopicSpec, spec


class TopicMissing(LookupError):
    """The topic is not on the broker (or not in the registry); the message says which."""


@dataclass(frozen=True)
class TailOptions:
    from_beginning: bool = False
    key: str | None = None
    since_ms: int | None = None
    #: stop once every partition's end at start is read (else follow until interrupted)
    until_end: bool = False
    limit: int | None = None


def _partitions(consumer: Consumer, topic: str) -> list[int]:
    meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise TopicMissing(f"topic {topic!r} is not on the broker ({meta.error if meta else 'no metadata'}); "
                           "`arbees topics list` shows the registry, `arbees topics create` creates it")
    return sorted(meta.partitions)


def _start_offsets(consumer: Consumer, topic: str, parts: list[int], opts: TailOptions) -> list[TopicPartition]:
    if opts.since_ms is not None:
        wanted = [TopicPartition(topic, p, opts.since_ms) for p in parts]
        return consumer.offsets_for_times(wanted, timeout=10)  # -1 (end) where nothing is that recent
    start = 0 if opts.from_beginning else OFFSET_END
    return [TopicPartition(topic, p, start) for p in parts]


def tail(bootstrap: str, topic: str, opts: TailOptions, codec: Codec | None = None,
         poll_s: float = 0.5) -> Iterator[Decoded]:
    """Every record of `topic` from the chosen start, decoded or marked undecodable, in per-partition order."""
    codec = codec or default_codec()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"arbees-tail-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 0})
    try:
        parts = _partitions(consumer, topic)
        ends = {}
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends[p] = high
        starts = _start_offsets(consumer, topic, parts, opts)
        consumer.assign(starts)
        pending = set(parts)
        if opts.until_end:
            # a partition is done when its start is at or past its end at start
            for tp in starts:
                if tp.offset == OFFSET_END or tp.offset < 0 or tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
        shown = 0
        while not (opts.until_end and not pending):
            msg = consumer.poll(poll_s)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF and opts.until_end:
                    if int(msg.offset() or 0) >= ends.get(int(msg.partition() or 0), 0):
                        pending.discard(int(msg.partition() or 0))
                continue
            part, offset = int(msg.partition() or 0), int(msg.offset() or 0)
            if opts.until_end and offset + 1 >= ends.get(part, 0):
                pending.discard(part)
            raw_key = msg.key()
            key = raw_key.decode("utf-8", "replace") if raw_key is not None else None
            if opts.key is not None and key != opts.key:
                continue
            _, ts = msg.timestamp()
            yield decode(codec, Message(topic, part, offset, int(ts), key, msg.value()))
            shown += 1
            if opts.limit is not None and shown >= opts.limit:
                return
    finally:
        consumer.close()


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    low: int
    high: int
    leader: int

    @property
    def records(self) -> int:
        return self.high - self.low


@dataclass(frozen=True)
class GroupLag:
    group: str
    committed: dict[int, int]  # partition -> committed offset (partitions the group has committed)
    lag: dict[int, int]  # partition -> high watermark - committed

    @property
    def total(self) -> int:
        return sum(self.lag.values())


@dataclass(frozen=True)
class TopicInfo:
    name: str
    spec: TopicSpec | None
    partitions: list[PartitionInfo]
    config: dict[str, str]
    groups: list[GroupLag]
    schemas: list[tuple[str, int, str]] = field(default_factory=list)  # (subject, schema id, record type)


def _groups_lag(admin: AdminClient, topic: str, parts: dict[int, PartitionInfo], timeout: float) -> list[GroupLag]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    listed = admin.list_consumer_groups(request_timeout=timeout).result()
    names = sorted(g.group_id for g in listed.valid)
    futures = {}
    for name in names:
        req = [ConsumerGroupTopicPartitions(name, [TopicPartition(topic, p) for p in parts])]
        futures[name] = admin.list_consumer_group_offsets(req, request_timeout=timeout)[name]
    out = []
    for name, fut in futures.items():
        try:
            result = fut.result()
        except KafkaException:
            continue  # a group that went away between the list and the ask
        committed = {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}
        if committed:
            lag = {p: max(parts[p].high - off, 0) for p, off in committed.items() if p in parts}
            out.append(GroupLag(name, committed, lag))
    return out


def show(bootstrap: str, topic: str, timeout: float = 15.0, codec: Codec | None = None) -> TopicInfo:
    """Partitions with offsets, the broker config we set, every consumer group's lag, the schemas the topic carries."""
    from confluent_kafka.admin import ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    meta = admin.list_topics(topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None:
        raise TopicMissing(f"topic {topic!r} is not on the broker ({meta.error if meta else 'no metadata'})")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"arbees-show-{uuid.uuid4().hex}", "log_level": 0})
    try:
        parts = {}
        for p, pm in sorted(meta.partitions.items()):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            parts[p] = PartitionInfo(p, low, high, pm.leader)
    finally:
        consumer.close()
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result()
    config = {k: str(v.value) for k, v in entries.items()
              if k in ("cleanup.policy", "retention.ms", "max.message.bytes", "compression.type")}
    try:
        topic_spec: TopicSpec | None = spec(topic)
    except KeyError:
        topic_spec = None
    codec = codec or default_codec()
    schemas = [(subject_of(cls), codec.schema_id(cls), cls.__name__) for cls in (topic_spec.value_types if topic_spec else ())]
    return TopicInfo(topic, topic_spec, list(parts.values()), config, _groups_lag(admin, topic, parts, timeout), schemas)
