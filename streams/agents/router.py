"""Router agents: market data and event states onto `shard.inputs`, keyed by event id (group `router`).

A market's latest link, listing and quote live in three changelog-backed tables co-partitioned
with the `venue:market_id`-keyed source topics (streams/topology.py); the handlers are
streams/upstream_stages.py.
"""

from __future__ import annotations

from streams.agents import runner
from streams.upstream_stages import RouterStages

agents = runner.build_group("router", RouterStages())
