"""Publishing records from connectors: confluent-kafka with Faust's partitioner.

`partitioner=murmur2_random` makes librdkafka place a key on the same
partition as the Java client and aiokafka/Faust do; without it co-partitioned
joins break silently (DESIGN.md, correctness rules).
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from confluent_kafka import KafkaException, Producer

from schemas.codec import Codec, default_codec
from schemas.deadletters import dead_letter
from schemas.topics import spec
from telemetry.meter import meter

log = structlog.get_logger(__name__)

PRODUCER_DEFAULTS: dict[str, Any] = {
    "partitioner": "murmur2_random",
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    # librdkafka checks this before compressing; raw feed bodies (an ESPN game summary is ~1.4 MB)
    # shrink ~10x under lz4, well below the raw topics' max.message.bytes.
    "message.max.bytes": 16 * 1024 * 1024,
}


def make_producer(bootstrap: str, **overrides: Any) -> Producer:
    conf = {"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS, **overrides}
    return Producer(conf)


class Sink(Protocol):
    """What a connector pipeline needs of a Publisher (tests pass a recording fake)."""

    def publish(self, topic: str, key: str, record: Any) -> None: ...

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None: ...


class Publisher:
    """Encodes records with the contract codec and produces them keyed by string."""

    def __init__(self, bootstrap: str, service: str, codec: Codec | None = None, **overrides: Any) -> None:
        self._producer = make_producer(bootstrap, **overrides)
        self._codec = codec or default_codec()
        self.service = service
        self._errors: list[str] = []
        self.meter = meter(service)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")
            log.error("delivery failed", topic=msg.topic(), error=str(err))

    def publish(self, topic: str, key: str, record: Any) -> None:
        spec(topic)  # refuse topics outside the registry early
        value = self._codec.encode(record)
        while True:
            try:
                self._producer.produce(topic, key=key.encode(), value=value, on_delivery=self._on_delivery)
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: back-pressure, then retry
        self._producer.poll(0)
        if topic != "health":
            self.meter.produced(topic, record_ms=int(getattr(record, "ts", 0) or 0))

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        record = dead_letter(topic=topic, value=value, error=error, service=self.service, ts=ts, key=key.encode() if key else None)
        log.warning("dead-lettered", service=self.service, topic=topic, error=str(error))
        self.publish("deadletter", topic, record)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise KafkaException(f"{remaining} messages still undelivered after {timeout}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise KafkaException("delivery failed: " + "; ".join(errors[:5]))
