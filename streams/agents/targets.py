"""Target agents (group `targets`): venue listings plus feed states in, target EventStates out (crypto prices,
economic releases, politics races from polls).

Listings (keyed by market) and feed states (keyed by their own event) do not share keys, so
for each processor a first stage re-keys what it uses (by asset, by indicator, by race) onto
an internal topic; a second holds one state per key in a changelog-backed table and sends
each target state to `events.state`, where discovery links the listings to it and the router
takes it to its shard (streams/topology.py, handlers in streams/upstream_stages.py). The
processors' own outputs come back on `events.state` and are skipped by their `state_key`.
"""

from __future__ import annotations

from streams.agents import runner
from streams.crypto.targets import TargetsProcessor as CryptoTargets
from streams.economics.targets import TargetsProcessor as EconTargets
from streams.politics.races import RacesProcessor
from streams.upstream_stages import TargetStages

agents = runner.build_group("targets", TargetStages({"crypto": CryptoTargets(), "econ": EconTargets(),
                                                     "politics": RacesProcessor()}))
