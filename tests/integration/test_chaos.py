"""`make chaos`, shorter: the same driver on the first payloads of the recorded session.

The whole process set of `arbees run --replay` on a broker and database of the
test's own (fresh folder, free ports), every part behind the delaying proxy;
every agent group and the sink SIGKILLed at least once, the broker SIGTERMed and
started again, the database stopped for a while; then every invariant on the
topics and the database (ops/chaos/invariants.py). `make chaos` runs 50+ kills,
two broker restarts and a 30 s database outage over the whole session. The
session plays in lockstep with the agents (it waits for them after each payload),
so faults stretch it: ~4 min on a quiet 2-core machine, 10 min at load 25 (measured).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.chaos.driver import ChaosRun, Ports
from ops.chaos.faults import KILLABLE, ChaosPlan

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]


def test_kills_a_broker_restart_and_a_database_outage_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    plan = ChaosPlan(kills=len(KILLABLE) + 1, replay_kills=0, broker_restarts=1, db_outage_s=8.0, latency_ms=5.0, jitter_ms=5.0,
                     kill_gap_s=(1.5, 3.0), replay_timeout_s=600.0, recovery_timeout_s=240.0)
    result = ChaosRun(plan, tmp_path / "chaos", ports=Ports.pick({}), payloads=1500).run()
    print(result.report())
    assert result.tally.kills == plan.kills and result.tally.broker_restarts == 1 and result.tally.db_outages == 1
    assert {r.target for r in result.tally.recoveries if r.kind.value == "kill"} == set(KILLABLE)
    assert all(r.seconds is not None for r in result.tally.recoveries), result.report()
    checked = {f.name: f.checked for f in result.findings}
    assert checked["each order exactly one terminal status"] > 0, "no order: the invariants would prove nothing"
    assert checked["every topic record is a database row"] > 1000
    assert result.lost == 0 and result.duplicated == 0, result.report()
    assert result.ok, result.report()
