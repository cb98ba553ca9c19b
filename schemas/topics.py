"""The topic registry: one place that says what each topic carries and how it is kept.

`arbees topics create` and the Faust app's topic declarations both read it, so a
topic's partition count can never differ between the broker and the agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas import records as r

DAY_MS = 24 * 3600 * 1000
EVENT_PARTITIONS = 12
#: Record header naming the Faust app id (consumer group) whose worker produced the record. Every worker of
#: the same code on a broker emits the same deterministic outputs for the same inputs; this tells whose they are.
ORIGIN_HEADER = "arbees-app"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str  # what the string key means
    value_types: tuple[type, ...]
    partitions: int = EVENT_PARTITIONS
    cleanup: str = "delete"  # "delete" or "compact"
    retention_ms: int = -1  # -1 keeps forever: the log is the source of truth
    config: dict[str, str] = field(default_factory=dict)

    def broker_config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": self.cleanup, "retention.ms": str(self.retention_ms)}
        cfg.update(self.config)
        return cfg


RAW_SOURCES = ("espn", "kalshi", "polymarket", "coingecko", "fred", "polls")

TOPICS: tuple[TopicSpec, ...] = (
    *(
        TopicSpec(
            f"raw.{src}",
            "source:endpoint",
            (r.RawFeed,),
            partitions=6,
            retention_ms=30 * DAY_MS,
            config={"max.message.bytes": str(8 * 1024 * 1024)},
        )
        for src in RAW_SOURCES
    ),
    TopicSpec("events.state", "event_id", (r.EventState,)),
    # the last scheduled state carrying each event's pregame line, read back by a restarted ESPN connector
    TopicSpec("events.pregame", "event_id", (r.EventState,), cleanup="compact"),
    TopicSpec("events.plays", "event_id", (r.Play,)),
    TopicSpec("markets.catalog", "venue:market_id", (r.MarketListing,), cleanup="compact"),
    TopicSpec("markets.links", "venue:market_id", (r.MarketLink,), cleanup="compact"),
    TopicSpec("markets.quotes", "venue:market_id", (r.Quote,), retention_ms=30 * DAY_MS),
    TopicSpec("shard.inputs", "event_id", (r.ShardInput,), retention_ms=30 * DAY_MS),
    TopicSpec("model.probabilities", "event_id", (r.Probability,)),
    TopicSpec("signals", "event_id", (r.Signal,)),
    TopicSpec("orders", "account", (r.Order,), partitions=6),
    TopicSpec("fills", "account", (r.Fill, r.OrderStatus), partitions=6),
    TopicSpec("positions", "account", (r.PositionEvent,), partitions=6),
    TopicSpec("ledger", "account", (r.LedgerEntry,), partitions=6),
    TopicSpec("risk.state", "account", (r.RiskEvent,), partitions=6),
    TopicSpec("alerts", "dedupe key", (r.Alert,), partitions=3),
    TopicSpec("health", "service:instance", (r.Heartbeat,), partitions=3, retention_ms=7 * DAY_MS),
    TopicSpec("deadletter", "source topic", (r.DeadLetter,), partitions=3),
)

BY_NAME: dict[str, TopicSpec] = {t.name: t for t in TOPICS}


def spec(name: str) -> TopicSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"topic {name!r} is not in the registry (schemas/topics.py)") from None
