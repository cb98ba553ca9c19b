"""Every worker's heartbeat on `health`, and its metrics: loaded into every worker whatever its agents.

A Faust sensor counts records in and out by topic (the Prometheus counters and
the heartbeat's totals come from the same `Meter`), times each event through its
stream, and keeps the last offset read per partition, so lag is the partition's
high watermark minus what this worker has read.
"""

from __future__ import annotations

import time
from typing import Any

from faust.sensors import Sensor

from streams.app import AGENTS, app
from streams.topics import topic
from telemetry import heartbeat
from telemetry.meter import LAG, LATENCY, meter

GROUP = ",".join(m.rsplit(".", 1)[-1] for m in AGENTS)
METER = meter(f"agents-{GROUP}")
EVERY_S = heartbeat.interval_s()


class MeterSensor(Sensor):
    """Faust's sensor hooks into the part's Meter."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read: dict[Any, int] = {}

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        self.read[tp] = offset
        METER.consumed(tp.topic, record_ms=int((message.timestamp or 0) * 1000))

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> dict[str, float]:
        return {"began": time.perf_counter()}

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        if state:
            LATENCY.labels(METER.part, tp.topic).observe(time.perf_counter() - state["began"])

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> None:
        if topic != "health" and not topic.startswith(app.conf.id):  # changelogs and repartitions are internal
            METER.produced(topic)

    def lag(self) -> dict[str, int]:
        out: dict[str, int] = {}
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic.startswith(app.conf.id):
                continue
            high = consumer.highwater(tp)
            read = self.read.get(tp)
            # a partition this process has read nothing from yet: it resumed at the group's committed offset (Faust's
            # own record of it), not at 0; counting from 0 made a restarted worker report its whole log as lag forever
            resumed = getattr(consumer, "_committed_offset", {}).get(tp) or 0
            behind = max(0, (high or 0) - (read + 1 if read is not None else resumed)) if high is not None else 0
            out[f"{tp.topic}/{tp.partition}"] = behind
            LAG.labels(METER.part, tp.topic, str(tp.partition)).set(behind)
        return out


SENSOR = MeterSensor()
app.sensors.add(SENSOR)


@app.timer(interval=EVERY_S)
async def beat() -> None:
    """Say this worker lives, with its lag per partition and its record counts."""
    hb = heartbeat.build(METER, ts=int(time.time() * 1000), every_s=EVERY_S, lag=SENSOR.lag())
    await topic("health").send(key=f"{hb.service}:{hb.instance}", value=hb)
