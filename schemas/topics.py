"""The topic registry: one place that says what each topic carries and how it is kept.

`arbees topics create` and the Faust app's topic declarations both read it, so a
topic's partition count can never differ between the broker and the agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from schemas import records as r

DAY_MS = 24 * 3600 * 1000


class Family(str, Enum):
    """Topics that must share a partition count: co-partitioned keys, and the tables and internal topics behind them.

    - event: event- and market-keyed facts and everything that joins them (router, discovery, targets);
    - shard: `shard.inputs` and the per-event shard state — the family that scales the shard workers;
    - account: account-keyed trading topics, the trading inbox and the trading tables;
    - raw: the outside services' payloads; ops: alerts, health, dead letters.
    """

    EVENT = "event"
    SHARD = "shard"
    ACCOUNT = "account"
    RAW = "raw"
    OPS = "ops"


#: The one place a partition count is written. Everything else reads `partitions(family)` or the broker's metadata;
#: `arbees scale` grows a family by a new topic generation (ops/scale), not by editing this table.
FAMILY_PARTITIONS: dict[Family, int] = {
    Family.EVENT: 12,
    Family.SHARD: 12,
    Family.ACCOUNT: 6,
    Family.RAW: 6,
    Family.OPS: 3,
}


def partitions(family: Family) -> int:
    """The registry's partition count of a topic family."""
    return FAMILY_PARTITIONS[family]


#: Record header naming the Faust app id (consumer group) whose worker produced the record. Every worker of
#: the same code on a broker emits the same deterministic outputs for the same inputs; this tells whose they are.
ORIGIN_HEADER = "arbees-app"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str  # what the string key means
    value_types: tuple[type, ...]
    family: Family = Family.EVENT
    cleanup: str = "delete"  # "delete" or "compact"
    retention_ms: int = -1  # -1 keeps forever: the log is the source of truth
    config: dict[str, str] = field(default_factory=dict)

    @property
    def partitions(self) -> int:
        return partitions(self.family)

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
            family=Family.RAW,
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
    TopicSpec("shard.inputs", "event_id", (r.ShardInput,), family=Family.SHARD, retention_ms=30 * DAY_MS),
    TopicSpec("model.probabilities", "event_id", (r.Probability,)),
    TopicSpec("signals", "event_id", (r.Signal,)),
    TopicSpec("orders", "account", (r.Order,), family=Family.ACCOUNT),
    TopicSpec("fills", "account", (r.Fill, r.OrderStatus), family=Family.ACCOUNT),
    TopicSpec("positions", "account", (r.PositionEvent,), family=Family.ACCOUNT),
    TopicSpec("ledger", "account", (r.LedgerEntry,), family=Family.ACCOUNT),
    TopicSpec("risk.state", "account", (r.RiskEvent,), family=Family.ACCOUNT),
    TopicSpec("alerts", "dedupe key", (r.Alert,), family=Family.OPS),
    TopicSpec("health", "service:instance", (r.Heartbeat,), family=Family.OPS, retention_ms=7 * DAY_MS),
    TopicSpec("deadletter", "source topic", (r.DeadLetter,), family=Family.OPS),
)

BY_NAME: dict[str, TopicSpec] = {t.name: t for t in TOPICS}


def spec(name: str) -> TopicSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"topic {name!r} is not in the registry (schemas/topics.py)") from None
