"""The Faust application: one app, agents discovered from an explicit module list."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import faust

from schemas.topics import Family, partitions
from streams.codecs import AVRO, UTF8, register
from streams.config import Settings
from streams.replication import Replication
from streams.topology import MAX_VALUE_BYTES  # the largest record an agent may write, declared with the tables it bounds

register()
settings = Settings.from_env()

#: Agent modules the worker loads; each adds its agents to `app` on import.
AGENT_MODULES: tuple[str, ...] = (
    "streams.agents.discovery",
    "streams.agents.targets",
    "streams.agents.router",
    "streams.agents.shard",
    "streams.agents.alerts",
    "streams.agents.trading",
)


def selected_agents(modules: tuple[str, ...], wanted: str) -> tuple[str, ...]:
    """The agent modules named in ARBEES_AGENTS (comma list of short names), or all.

    Each agent group runs as its own consumer group (ARBEES_APP_ID): a member of
    a Faust group is assigned every topic of the group, so workers of one group
    must carry the same agents.
    """
    if not wanted.strip():
        return modules
    by_name = {m.rsplit(".", 1)[-1]: m for m in modules}
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"ARBEES_AGENTS names unknown agents {unknown}; known: {sorted(by_name)}")
    return tuple(by_name[n] for n in names)


AGENTS = selected_agents(AGENT_MODULES, os.environ.get("ARBEES_AGENTS", ""))
#: Loaded by every worker whatever its agents: heartbeats on `health` and Prometheus metrics.
ALWAYS = ("streams.agents.heartbeat",)

class ArbeesApp(faust.App):
    def _new_transport(self) -> Any:
        """The aiokafka transport with a consumer that never commits over offsets it did not deliver; with
        ARBEES_EVENT_TIME_ORDER set (replays, the Kafka backtest), one that also delivers its source records
        in event-time order, one cascade at a time (streams.event_time_order)."""
        from streams import event_time_order
        from streams.guarded_consumer import GuardedTransport

        if event_time_order.enabled():
            return event_time_order.OrderedTransport(self.conf.broker_consumer, self)
        return GuardedTransport(self.conf.broker_consumer, self)

    async def on_first_start(self) -> None:
        """Create the internal topics before the first group assignment (see streams.internal_topics)."""
        await super().on_first_start()
        from streams.internal_topics import ensure_internal_topics

        problems = await asyncio.to_thread(ensure_internal_topics, settings.kafka_bootstrap, self)
        if problems:
            raise SystemExit("internal topics are not ready: " + "; ".join(problems))
        from streams.gc_tuning import tune_for_service

        tune_for_service()  # everything built so far lives as long as the worker: out of every collection


app = ArbeesApp(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store=settings.store,
    key_serializer=UTF8,
    value_serializer=AVRO,
    topic_partitions=partitions(Family.EVENT),  # internal topics and tables not given a family
    topic_disable_leader=True,
    topic_replication_factor=Replication.from_env().factor,  # 3 on a production cluster (deploy/README.md)
    web_port=settings.web_port,
    web_enabled=False,
    autodiscover=(*AGENTS, *ALWAYS),
    consumer_auto_offset_reset="earliest",
    # static membership (KIP-345) when the host gives a stable name: a worker restarted within the session timeout
    # gets its partitions back without a rebalance. Unset (the default) a stopping worker leaves its group at once.
    consumer_group_instance_id=os.environ.get("ARBEES_GROUP_INSTANCE_ID") or None,
    stream_wait_empty=False,
    Table="streams.faust_table:ArbeesTable",
    Topic="streams.faust_topic:ArbeesTopic",
    # throughput: let sends coalesce for a moment instead of one produce request per record
    producer_linger=float(os.environ.get("ARBEES_PRODUCER_LINGER_S", "0.002")),
    producer_max_batch_size=256 * 1024,
    broker_max_poll_records=int(os.environ.get("ARBEES_MAX_POLL_RECORDS", "2000")),
    stream_buffer_maxsize=16384,
    # a discovery scope (every open event and pending listing of a league) can outgrow 1 MB
    producer_max_request_size=MAX_VALUE_BYTES,
)
