"""The sink process: every registry topic into PostgreSQL, offsets kept in the database.

Not a Faust agent and not a consumer group: the sink assigns itself every
partition and seeks to the `next_offset` stored in `sink_offsets` — committed in
the same transaction as the rows — so Kafka's committed offsets never decide
what is in the database. Undecodable or unstorable values become a `deadletter`
record (produced, and flushed, before the batch commits) plus a `dead_letters` row.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from connectors.publisher import Publisher
from ops.sink import store
from ops.sink.maintenance import Maintainer
from ops.sink.errors import SinkError, UnstorableRecord
from ops.sink.mapping import MAPPERS, Row, SourceRef, to_row
from ops.sink.writer import Batch, CopyWriter, InsertWriter, OffsetAdvance, Writer, WriteResult
from schemas.codec import Codec, default_codec
from schemas.deadletters import dead_letter
from schemas.errors import ContractError
from schemas.records import DeadLetter, LedgerEntry
from schemas.topics import BY_NAME, TOPICS
from telemetry.meter import meter

log = structlog.get_logger(__name__)

#: Every registry topic whose records have a table (`shard.inputs` only repeats states and quotes).
SINK_TOPICS: tuple[str, ...] = tuple(t.name for t in TOPICS if all(vt in MAPPERS for vt in t.value_types))

WRITERS: dict[str, type[Writer]] = {"copy": CopyWriter, "insert": InsertWriter}


@dataclass(frozen=True)
class SinkConfig:
    bootstrap: str
    database_url: str
    consumer: str = "arbees-sink"  # the key of this sink's rows in sink_offsets
    topics: tuple[str, ...] = SINK_TOPICS
    batch_size: int = 5_000
    batch_wait_s: float = 0.5  # a partial batch is written after this long
    batch_bytes: int = 64 * 1024 * 1024  # raw feeds carry MB-sized bodies: bound a batch's memory too
    writer: str = "copy"  # "copy" or "insert" (the row-by-row baseline)
    deadletter_topic: str = "deadletter"
    service: str = "sink"
    retention_every_s: float = 3600.0  # plain PostgreSQL only (TimescaleDB runs its own policy); <= 0: never
    maintenance_every_s: float = 60.0  # TimescaleDB only: check and run due policy jobs; <= 0: never
    maintenance_mode: str = "auto"  # see ops.sink.maintenance
    health_topic: str = "health"
    alerts_topic: str = "alerts"
    metadata_every_s: float = 30.0  # pick up partitions added to the topics


@dataclass
class SinkStats:
    batches: int = 0
    rows: int = 0
    rows_written: int = 0
    dead_letters: int = 0
    ledger_applied: int = 0
    ledger_refused: dict[str, int] = field(default_factory=dict)  # verdict -> entries not booked
    retention_deleted: int = 0
    maintenance_runs: int = 0
    maintenance_failures: int = 0
    tables: dict[str, int] = field(default_factory=dict)

    def add(self, result: WriteResult, dead: int) -> None:
        self.batches += 1
        self.rows += result.rows_in
        self.dead_letters += dead
        self.ledger_applied += result.ledger_applied
        for verdict, n in result.ledger_refused.items():
            self.ledger_refused[verdict] = self.ledger_refused.get(verdict, 0) + n
        for table, n in result.rows_written.items():
            self.rows_written += n
            self.tables[table] = self.tables.get(table, 0) + n


def _message_ts(msg: Message) -> int:
    """The broker/producer timestamp: stable across re-reads, so a dead letter's key stays the same."""
    kind, ts = msg.timestamp()
    return int(ts) if ts is not None and ts >= 0 else 0


def _coords(msg: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a consumed (error-free) message, which always has all three."""
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or partition is None or offset is None:
        raise SinkError(f"consumed a message without coordinates ({topic}, {partition}, {offset})")
    return topic, partition, offset


class Sink:
    """Owns one database connection, one consumer and (lazily) one dead-letter publisher."""

    def __init__(self, config: SinkConfig, codec: Codec | None = None) -> None:
        if config.writer not in WRITERS:
            raise SinkError(f"writer {config.writer!r}: choose one of {sorted(WRITERS)}")
        self.config = config
        self.codec = codec or default_codec()
        self.stats = SinkStats()
        self.meter = meter("sink")
        self._conn: psycopg.Connection | None = None
        self._writer: Writer | None = None
        self._consumer: Consumer | None = None
        self._publisher: Publisher | None = None
        self._stored: dict[tuple[str, int], int] = {}  # what sink_offsets holds, as last committed by us
        self._assigned: set[tuple[str, int]] = set()
        self._timescale = "off"
        self._next_retention = 0.0
        self._next_metadata = 0.0
        self._next_maintenance = 0.0
        self._maintainer: Maintainer | None = None

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        cfg = self.config
        self._conn = store.connect(cfg.database_url)
        self._timescale = store.timescaledb_features(self._conn)
        if self._timescale == "on":
            self._maintainer = Maintainer(self._conn, cfg.maintenance_mode)
        self._writer = WRITERS[cfg.writer](self._conn, cfg.consumer)
        self._stored = store.load_offsets(self._conn, cfg.consumer)
        self._consumer = Consumer({
            "bootstrap.servers": cfg.bootstrap,
            "group.id": cfg.consumer,  # required by librdkafka; nothing is ever committed to it
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        })
        self._assign(initial=True)
        self._next_metadata = time.monotonic() + cfg.metadata_every_s
        log.info("sink open", consumer=cfg.consumer, partitions=len(self._assigned),
                 stored=len(self._stored), timescaledb=self._timescale, writer=cfg.writer)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._publisher is not None:
            self._publisher.flush()
            self._publisher = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Sink:
        self.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ partitions

    def _assign(self, initial: bool) -> None:
        """Assign every partition of the sink's topics, each at its stored offset (or the beginning)."""
        assert self._consumer is not None
        meta = self._consumer.list_topics(timeout=15).topics
        new: list[TopicPartition] = []
        for topic in self.config.topics:
            tmeta = meta.get(topic)
            if tmeta is None or tmeta.error is not None:
                if initial:
                    raise SinkError(f"topic {topic!r} does not exist on {self.config.bootstrap}: "
                                    "run `arbees topics create` first")
                continue
            for p in sorted(tmeta.partitions):
                if (topic, p) not in self._assigned:
                    new.append(TopicPartition(topic, p, self._stored.get((topic, p), OFFSET_BEGINNING)))
        if new:
            self._consumer.incremental_assign(new)
            self._assigned.update((tp.topic, tp.partition) for tp in new)
            if not initial:
                log.info("sink assigned new partitions", partitions=[f"{tp.topic}[{tp.partition}]" for tp in new])

    def end_offsets(self) -> dict[tuple[str, int], int]:
        """The high watermark of every assigned partition that holds records now (two batched requests)."""
        admin = AdminClient({"bootstrap.servers": self.config.bootstrap})
        parts = [TopicPartition(t, p) for t, p in sorted(self._assigned)]

        def offsets(spec: OffsetSpec) -> dict[tuple[str, int], int]:
            futures = admin.list_offsets({tp: spec for tp in parts}, request_timeout=30)
            return {(tp.topic, tp.partition): fut.result().offset for tp, fut in futures.items()}

        low, high = offsets(OffsetSpec.earliest()), offsets(OffsetSpec.latest())
        return {tp: h for tp, h in high.items() if h > low[tp]}

    def caught_up(self, targets: dict[tuple[str, int], int]) -> bool:
        """Every partition's committed next offset has reached its target."""
        assert self._consumer is not None
        behind = [tp for tp, high in targets.items() if self._stored.get(tp, 0) < high]
        if not behind:
            return True
        # Offsets can have gaps (compaction): the position may pass the target with no record there.
        # Everything consumed is written before this check, so the position is committed progress.
        positions = self._consumer.position([TopicPartition(t, p) for t, p in behind])
        return all(tp.offset >= targets[(tp.topic, tp.partition)] for tp in positions)

    # ------------------------------------------------------------------ batches

    def poll(self) -> list[Message]:
        """Up to `batch_size` messages or `batch_bytes` of values, waiting at most `batch_wait_s`."""
        assert self._consumer is not None
        cfg = self.config
        out: list[Message] = []
        size = 0
        deadline = time.monotonic() + cfg.batch_wait_s
        while len(out) < cfg.batch_size and size < cfg.batch_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            got = self._consumer.consume(num_messages=min(cfg.batch_size - len(out), 500), timeout=remaining)
            out.extend(got)
            size += sum(len(m.value() or b"") for m in got)
        return out

    def _refuse(self, msg: Message, error: BaseException) -> DeadLetter:
        topic, partition, offset = _coords(msg)
        record = dead_letter(
            topic=topic, value=msg.value() or b"", error=error, service=self.config.service,
            ts=_message_ts(msg), partition=partition, offset=offset, key=msg.key(),
        )
        # the reason must itself be storable: PostgreSQL text refuses NUL
        return replace(record, error=record.error.replace("\x00", "\\x00"))

    def build(self, msgs: list[Message]) -> tuple[Batch, list[DeadLetter]]:
        """Decode and map a run of messages; bad ones become dead letters, never gaps."""
        rows: list[Row] = []
        ledger: list[LedgerEntry] = []
        dead: list[DeadLetter] = []
        next_offsets: dict[tuple[str, int], int] = {}
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                if err.fatal():
                    raise KafkaException(err)
                # transient (broker restart, leader move): librdkafka recovers and nothing was consumed
                log.warning("consumer error", error=str(err), code=err.code())
                continue
            topic, partition, offset = _coords(msg)
            src = SourceRef(topic, partition, offset)
            try:
                record = self.codec.decode(msg.value())
                spec = BY_NAME.get(topic)
                if spec is not None and type(record) not in spec.value_types:
                    raise UnstorableRecord(f"{type(record).__name__} does not belong on {topic}")
                rows.append(to_row(record, src))
                if isinstance(record, LedgerEntry):
                    ledger.append(record)
            except (ContractError, UnstorableRecord) as exc:
                bad = self._refuse(msg, exc)
                rows.append(to_row(bad, src))
                dead.append(bad)
            next_offsets[(topic, partition)] = offset + 1
        advances = [OffsetAdvance(t, p, self._stored.get((t, p)), n) for (t, p), n in next_offsets.items()]
        return Batch(rows, ledger, advances), dead

    def write(self, batch: Batch, dead: list[DeadLetter]) -> WriteResult:
        """Dead letters reach the broker before the batch commits: a crash between re-sends them (same id)."""
        assert self._writer is not None
        if dead:
            if self._publisher is None:
                self._publisher = Publisher(self.config.bootstrap, self.config.service)
            for d in dead:
                log.warning("dead-lettered", topic=d.topic, partition=d.partition, offset=d.offset, error=d.error)
                self._publisher.publish(self.config.deadletter_topic, d.topic, d)
            self._publisher.flush()
        result = self._writer.write(batch)
        for adv in batch.offsets:
            self._stored[(adv.topic, adv.partition)] = adv.next_offset
        self.stats.add(result, len(dead))
        return result

    # ------------------------------------------------------------------ housekeeping

    def housekeeping(self) -> None:
        now = time.monotonic()
        if self._timescale == "off" and self.config.retention_every_s > 0 and now >= self._next_retention:
            assert self._conn is not None
            deleted = store.apply_retention(self._conn)
            self.stats.retention_deleted += deleted
            self._next_retention = now + self.config.retention_every_s
            log.info("retention applied", deleted=deleted)
        if self._maintainer is not None and self.config.maintenance_every_s > 0 and now >= self._next_maintenance:
            self.maintain(now)
            self._next_maintenance = now + self.config.maintenance_every_s
        if now >= self._next_metadata:
            self._assign(initial=False)
            self._next_metadata = now + self.config.metadata_every_s

    def maintain(self, now: float) -> None:
        """Run the due TimescaleDB policy jobs (where the stack must) and say so on `health` and `alerts`."""
        assert self._maintainer is not None and self._conn is not None
        done = self._maintainer.run_pass(now)
        instance = str(self._conn.info.dbname)
        if self._publisher is None:
            self._publisher = Publisher(self.config.bootstrap, self.config.service)
        beat = done.heartbeat(instance)
        try:
            self._publisher.publish(self.config.health_topic, f"{beat.service}:{beat.instance}", beat)
            for alert in done.alerts(instance):
                log.error("maintenance job failed", message=alert.message)
                self._publisher.publish(self.config.alerts_topic, alert.dedupe_key, alert)
            self._publisher.flush()
        except KafkaException as exc:  # the jobs ran; only their report is lost, and that is said loudly
            log.error("maintenance report not delivered", error=str(exc), heartbeat=beat.detail)
        self.stats.maintenance_runs += len(done.runs)
        self.stats.maintenance_failures += len(done.failed)
        log.info("maintenance pass", mode=done.mode, reason=done.reason, ran=len(done.runs), failed=len(done.failed))

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event | None = None, until_caught_up: bool = False) -> SinkStats:
        """Consume and write until `stop` is set (or, with `until_caught_up`, the log's end at start)."""
        targets = self.end_offsets() if until_caught_up else {}
        while stop is None or not stop.is_set():
            self.housekeeping()
            msgs = self.poll()
            for msg in msgs:
                self.meter.consumed(msg.topic(), record_ms=_message_ts(msg))
            if msgs:
                batch, dead = self.build(msgs)
                if batch.rows or batch.offsets:
                    result = self.write(batch, dead)
                    log.debug("batch written", rows=result.rows_in, written=sum(result.rows_written.values()))
            if until_caught_up and self.caught_up(targets):
                break
        return self.stats
