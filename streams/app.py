"""The Faust application: one app, agents discovered from an explicit module list."""

from __future__ import annotations

import faust

from streams.codecs import AVRO, UTF8, register
from streams.config import Settings

register()
settings = Settings.from_env()

#: Agent modules the worker loads; each adds its agents to `app` on import.
AGENT_MODULES: tuple[str, ...] = (
    "streams.agents.router",
    "streams.agents.shard",
    "streams.agents.alerts",
)

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store=settings.store,
    key_serializer=UTF8,
    value_serializer=AVRO,
    topic_partitions=12,
    topic_disable_leader=True,
    web_port=settings.web_port,
    web_enabled=False,
    autodiscover=AGENT_MODULES,
    origin="streams",
    consumer_auto_offset_reset="earliest",
    broker_commit_every=100,
    stream_wait_empty=False,
)
