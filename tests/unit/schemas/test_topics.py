"""The topic registry matches the DESIGN table and the record types."""

from __future__ import annotations

from schemas.records import RECORD_TYPES, EventState, Fill, MarketLink, MarketListing, OrderStatus, ShardInput
from schemas.topics import TOPICS, Family, partitions, spec

DESIGN_TOPICS = {
    "raw.espn", "raw.kalshi", "raw.polymarket", "raw.coingecko", "raw.fred", "raw.polls",
    "events.state", "events.plays", "markets.catalog", "markets.links", "markets.quotes", "shard.inputs",
    "model.probabilities", "signals", "orders", "fills", "positions", "ledger", "risk.state", "alerts",
    "health", "deadletter",
}
#: Added by issue 10 (the issue wins over DESIGN.md): each event's pregame line kept on the log.
ISSUE_TOPICS = {"events.pregame"}


def test_every_design_topic_is_registered_once() -> None:
    names = [t.name for t in TOPICS]
    assert len(names) == len(set(names))
    assert set(names) == DESIGN_TOPICS | ISSUE_TOPICS


def test_compacted_topics_and_value_types() -> None:
    assert spec("markets.catalog").cleanup == "compact" and spec("markets.catalog").value_types == (MarketListing,)
    assert spec("markets.links").cleanup == "compact" and spec("markets.links").value_types == (MarketLink,)
    assert spec("events.pregame").cleanup == "compact" and spec("events.pregame").value_types == (EventState,)
    assert spec("fills").value_types == (Fill, OrderStatus)
    assert spec("shard.inputs").value_types == (ShardInput,)
    for t in TOPICS:
        assert all(v in RECORD_TYPES for v in t.value_types)
        assert t.broker_config()["cleanup.policy"] in ("delete", "compact")


def test_event_keyed_topics_are_co_partitioned() -> None:
    counts = {spec(n).partitions for n in ("events.state", "events.plays", "markets.quotes", "model.probabilities", "signals")}
    assert counts == {partitions(Family.EVENT)}
    assert spec("shard.inputs").family is Family.SHARD  # scaled on its own (arbees scale)
    assert {spec(n).partitions for n in ("orders", "fills", "positions", "ledger", "risk.state")} == {partitions(Family.ACCOUNT)}
