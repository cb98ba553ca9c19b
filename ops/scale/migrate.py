"""`arbees scale --partitions N`: start a new generation of a topic family at N partitions.

Run between stopping the family's workers (every group that reads or writes it: for the
shard family the router, shard and trading groups) and starting them again, in any
number. Nothing is lost, reordered per key or duplicated:

- N is a multiple of the current count M, so each new partition q takes keys of exactly
  one old partition (q mod M); records are copied one old partition at a time in offset
  order, so a key's records keep their order;
- only the tail not yet consumed by every group is copied (from the slowest group's
  committed offset), and each group's committed offset is translated into the new
  partitions, so no group reads a record twice or skips one;
- each group's tables of the family are rebuilt from their changelogs (the latest value
  per key, into the partition the key has at N) under the new generation's name;
- the generation becomes live only when all of that is on the broker (`scale.generations`);
  a run that died half way is redone from the start (the unpublished topics are recreated).
The old generation's topics stay as they are, for replay and audit.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from ops.backtest.records import murmur2
from schemas.topics import Family, partitions as family_partitions, spec
from streams.generations import CONTROL_TOPIC, SCALABLE, Generation, family_topics, initial, read_from_broker
from streams.internal_topics import await_leaders
from streams.replication import Replication

COPIED_HEADER = "arbees-copied-from"  # "<topic>:<partition>:<offset>" of the record in the old generation


def partition_for_bytes(key: bytes, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives a key, as Faust and our producers place it."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class ScaleError(RuntimeError):
    """The scale cannot be done as asked (a running worker, a count that is no multiple); nothing was published."""


@dataclass
class ScaleReport:
    old: Generation
    new: Generation
    groups: list[str]
    copied: dict[str, int] = field(default_factory=dict)  # new topic -> records copied from the old generation's tail
    tail: dict[str, dict[int, int]] = field(default_factory=dict)  # new topic -> partition -> copied records (its first offsets)
    states: dict[str, int] = field(default_factory=dict)  # new changelog -> keys rebuilt into it
    offsets: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)  # group -> topic -> partition -> offset
    seconds: float = 0.0


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})


def _consumer(bootstrap: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "arbees-scale", "enable.auto.commit": False,
                     "enable.partition.eof": True, "log_level": 0})


def _read(c: Consumer, topic: str, partition: int, start: int, end: int, timeout: float = 30.0) -> list[tuple[int, bytes | None, bytes | None, list, int]]:
    """(offset, key, value, headers, timestamp) of every record of [start, end) of one partition, in order."""
    out: list[tuple[int, bytes | None, bytes | None, list, int]] = []
    if end <= start:
        return out
    c.assign([TopicPartition(topic, partition, start)])
    pos = start
    while pos < end:
        msg = c.poll(timeout)
        if msg is None:
            raise ScaleError(f"{topic}[{partition}]: nothing read within {timeout}s at offset {pos} (end {end})")
        if msg.error() is not None:
            if msg.error().code() == -191:  # _PARTITION_EOF: compaction left a gap before the end
                break
            raise ScaleError(f"{topic}[{partition}]: {msg.error()}")
        pos = int(msg.offset() or 0) + 1
        out.append((pos - 1, msg.key(), msg.value(), list(msg.headers() or []), int(msg.timestamp()[1])))
    c.unassign()
    return out


def _groups_on(admin: AdminClient, topics: list[str]) -> dict[str, dict[tuple[str, int], int]]:
    """Consumer groups with committed offsets on `topics`: group -> (topic, partition) -> offset."""
    listed = admin.list_consumer_groups(request_timeout=30).result()
    ids = [g.group_id for g in listed.valid]
    out: dict[str, dict[tuple[str, int], int]] = {}
    for gid in ids:
        res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(gid)])[gid].result()
        committed = {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions
                     if tp.topic in topics and tp.offset >= 0}
        if committed:
            out[gid] = committed
    return out


def _active(admin: AdminClient, groups: list[str]) -> list[str]:
    if not groups:
        return []
    described = admin.describe_consumer_groups(groups, request_timeout=30)
    return [gid for gid, fut in described.items() if fut.result().members]


def _recreate(admin: AdminClient, name: str, partitions: int, config: dict[str, str], timeout: float) -> None:
    """A fresh, empty topic: an unpublished generation's leftovers from a run that died are dropped."""
    if name in admin.list_topics(timeout=timeout).topics:
        admin.delete_topics([name], operation_timeout=timeout)[name].result()
        deadline = time.monotonic() + timeout
        while name in admin.list_topics(timeout=timeout).topics:
            if time.monotonic() > deadline:
                raise ScaleError(f"{name}: still listed {timeout}s after its deletion")
            time.sleep(0.2)
    for _ in range(50):
        try:
            rep = Replication.from_env()
            admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=rep.factor,
                                          config={**config, **rep.topic_config()})],
                                operation_timeout=timeout)[name].result()
            break
        except KafkaException as exc:  # the broker may still be finishing the deletion
            if "TOPIC_ALREADY_EXISTS" not in str(exc) and "MARKED_FOR_DELETION" not in str(exc).upper():
                raise
            time.sleep(0.2)
    problems = await_leaders(admin, [name], timeout)
    if problems:
        raise ScaleError("; ".join(problems))


def _topic_config(admin: AdminClient, name: str) -> dict[str, str]:
    """The settings `name` was given (not the broker's defaults), to give its next generation the same."""
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    entries = admin.describe_configs([res])[res].result()
    return {k: e.value for k, e in entries.items() if not e.is_default and e.value is not None and not e.is_read_only}


def _produce(p: Producer, topic: str, partition: int, key: bytes | None, value: bytes | None, headers: list, ts: int) -> None:
    while True:
        try:
            p.produce(topic, value=value, key=key, partition=partition, headers=headers, timestamp=ts)
            return
        except BufferError:
            p.poll(0.1)


def _flush(p: Producer, errors: list[str]) -> None:
    if p.flush(60) != 0 or errors:
        raise ScaleError(f"the copy was not delivered whole: {errors[:3]}")


def scale(bootstrap: str, partitions: int, family: Family = Family.SHARD, timeout: float = 30.0,
          wait_s: float = 30.0) -> ScaleReport:
    """Grow `family` to `partitions` by a new generation (see the module docstring); the report says what moved."""
    started = time.monotonic()
    if family not in SCALABLE:
        raise ScaleError(f"family {family.value} is not scalable by generations; scalable: {[f.value for f in SCALABLE]}")
    admin = _admin(bootstrap)
    old = read_from_broker(bootstrap).get(family, initial(family))
    bases = family_topics(family)
    meta = admin.list_topics(timeout=timeout).topics
    missing = [old.topic(b) for b in bases if old.topic(b) not in meta]
    if missing:
        raise ScaleError(f"{missing} not on the broker: run `arbees topics create` first")
    m = len(meta[old.topic(bases[0])].partitions)  # the broker's count, whatever the registry says
    if partitions <= m or partitions % m:
        raise ScaleError(f"{family.value}: {partitions} partitions is no multiple of the current {m} above it "
                         "(a new partition must take the keys of exactly one old partition)")
    new = Generation(family, old.number + 1, partitions)
    old_topics = [old.topic(b) for b in bases]
    groups = _groups_on(admin, old_topics)
    running = _active(admin, list(groups))
    deadline = time.monotonic() + wait_s  # a stopped worker leaves its group a moment after it exits
    while running and time.monotonic() < deadline:
        time.sleep(0.5)
        running = _active(admin, list(groups))
    if running:
        raise ScaleError(f"consumer groups {running} still have members: stop the workers of the {family.value} family "
                         "(and the producers of its topics) first, then start them again after the scale")
    report = ScaleReport(old, new, sorted(groups))
    errors: list[str] = []
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                         "log_level": 0})

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    producer.poll(0)
    consumer = _consumer(bootstrap)
    try:
        for base in bases:
            src, dst = old.topic(base), new.topic(base)
            _recreate(admin, dst, partitions, spec(base).broker_config(), timeout)
            copied = _copy_tail(consumer, producer, delivered, src, dst, m, partitions, groups, report)
            report.copied[dst] = copied
        for base in SCALABLE[family]:
            for gid in groups:
                old_log, new_log = f"{gid}-{old.table(base)}-changelog", f"{gid}-{new.table(base)}-changelog"
                if old_log not in meta:
                    continue
                _recreate(admin, new_log, partitions, {"cleanup.policy": "compact", **_topic_config(admin, old_log)}, timeout)
                report.states[new_log] = _rebuild_state(consumer, producer, delivered, old_log, new_log, partitions)
        _flush(producer, errors)
        for gid, per_topic in report.offsets.items():
            tps = [TopicPartition(t, q, off) for t, parts in per_topic.items() for q, off in parts.items()]
            admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(gid, tps)])[gid].result()
        _publish(admin, producer, new, timeout)
        _flush(producer, errors)
    finally:
        consumer.close()
    report.seconds = time.monotonic() - started
    return report


def _copy_tail(consumer: Consumer, producer: Producer, delivered: object, src: str, dst: str, m: int, n: int,
               groups: dict[str, dict[tuple[str, int], int]], report: ScaleReport) -> int:
    """Copy what some group has not consumed of `src` into `dst`; record each group's offsets in `dst`."""
    copied = 0
    for p in range(m):
        low, end = consumer.get_watermark_offsets(TopicPartition(src, p), timeout=30)
        committed = {gid: offs.get((src, p), low) for gid, offs in groups.items()}
        start = min(committed.values(), default=end)
        per_q: dict[int, list[int]] = defaultdict(list)  # new partition -> old offsets copied into it, in order
        for off, key, value, headers, ts in _read(consumer, src, p, start, end):
            if key is None:
                raise ScaleError(f"{src}[{p}]@{off}: a record without a key cannot be placed in the new generation")
            q = partition_for_bytes(key, n)
            if q % m != p:
                raise ScaleError(f"{src}[{p}]@{off}: key {key!r} hashes to old partition {q % m}: not murmur2-placed")
            headers = [*headers, (COPIED_HEADER, f"{src}:{p}:{off}".encode())]
            _produce(producer, dst, q, key, value, headers, ts)
            producer.poll(0)
            per_q[q].append(off)
            copied += 1
        for q, offs in per_q.items():
            report.tail.setdefault(dst, {})[q] = len(offs)
        for gid, c in committed.items():
            for q in range(p, n, m):  # the new partitions that take old partition p's keys
                done = sum(1 for off in per_q.get(q, []) if off < c)
                report.offsets.setdefault(gid, {}).setdefault(dst, {})[q] = done
    producer.flush(60)
    return copied


def _rebuild_state(consumer: Consumer, producer: Producer, delivered: object, old_log: str, new_log: str, n: int) -> int:
    """The latest value of every live key of `old_log`, written to the partition the key has at `n`."""
    latest: dict[bytes, tuple[bytes, list, int]] = {}
    meta = consumer.list_topics(old_log, timeout=30).topics[old_log]
    for p in sorted(meta.partitions):
        low, end = consumer.get_watermark_offsets(TopicPartition(old_log, p), timeout=30)
        for _off, key, value, headers, ts in _read(consumer, old_log, p, low, end):
            if key is None:
                continue
            if value is None:
                latest.pop(key, None)  # a tombstone: the key was deleted
            else:
                latest[key] = (value, headers, ts)
    for key, (value, headers, ts) in latest.items():
        _produce(producer, new_log, partition_for_bytes(key, n), key, value, headers, ts)
        producer.poll(0)
    producer.flush(60)
    return len(latest)


def _publish(admin: AdminClient, producer: Producer, gen: Generation, timeout: float) -> None:
    """Make `gen` the live generation of its family (workers read it at their next start)."""
    if CONTROL_TOPIC not in admin.list_topics(timeout=timeout).topics:
        try:
            rep = Replication.from_env()
            admin.create_topics([NewTopic(CONTROL_TOPIC, num_partitions=family_partitions(Family.OPS), replication_factor=rep.factor,
                                          config={"cleanup.policy": "compact", **rep.topic_config()})],
                                operation_timeout=timeout)[CONTROL_TOPIC].result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
        await_leaders(admin, [CONTROL_TOPIC], timeout)
    key = gen.family.value.encode()
    producer.produce(CONTROL_TOPIC, key=key, value=gen.to_json(), partition=partition_for_bytes(key, family_partitions(Family.OPS)))
