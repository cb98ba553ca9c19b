"""The chaos schedule: repeatable from its seed, every part killed at least once, outages where planned."""

from __future__ import annotations

import random

import pytest

from ops.chaos.faults import KILLABLE, ChaosPlan, FaultKind, schedule


def test_the_schedule_is_the_seeds_and_covers_every_part() -> None:
    plan = ChaosPlan(kills=50, broker_restarts=2, db_outage_s=30, replay_kills=1)
    faults = schedule(plan, random.Random(plan.seed))
    assert faults == schedule(plan, random.Random(plan.seed))
    kills = [f for f in faults if f.kind is FaultKind.KILL]
    assert len(kills) == 50 and {f.target for f in kills[: len(KILLABLE)]} == set(KILLABLE)
    kinds = [f.kind for f in faults if f.kind is not FaultKind.KILL]
    assert sorted(k.value for k in kinds) == ["broker-kill", "broker-restart", "db-outage", "kill-replay"]
    assert [f.at_s for f in faults] == sorted(f.at_s for f in faults)
    gaps = [b.at_s - a.at_s for a, b in zip(kills, kills[1:])]
    assert min(gaps) >= plan.kill_gap_s[0] - 1e-6 and max(gaps) <= plan.kill_gap_s[1] + 1e-6
    last_kill = kills[-1].at_s
    broker = [f.at_s for f in faults if f.kind in (FaultKind.BROKER_RESTART, FaultKind.BROKER_KILL)]
    assert broker[0] == pytest.approx(last_kill / 3, abs=0.01) and broker[1] == pytest.approx(2 * last_kill / 3, abs=0.01)


def test_fewer_kills_than_parts_is_refused() -> None:
    with pytest.raises(ValueError):
        ChaosPlan(kills=len(KILLABLE) - 1)
