"""Discovery agents: venue listings and event states in, `markets.links` out (streams/topology.py, group `discovery`).

Listings (keyed by market) and states (keyed by event) do not share keys, so the first stage
re-keys both by the processor's scope (market type + league) onto an internal topic; the
second holds one DiscoveryState per scope in a changelog-backed table co-partitioned with it.
Every worker of the group therefore sees every event of the leagues it owns, which is all a
link ever needs (links never cross leagues). The handlers are streams/upstream_stages.py.
"""

from __future__ import annotations

from streams.agents import runner
from streams.upstream_stages import DiscoveryStages

agents = runner.build_group("discovery", DiscoveryStages())
