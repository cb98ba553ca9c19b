"""The chaos run's faults as data: a seeded schedule, and the outage windows measured as they happen.

The schedule is pure (`schedule(plan, rng)`), so a run is repeatable from its seed;
which process a kill hits is chosen when it fires, among the parts running then
(a part waiting out its restart backoff cannot be killed again).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

#: Parts a kill may hit: every agent group and the sink; the replay (the connectors of a recorded
#: session) is killed `replay_kills` times late in the run (a killed replay plays the session again
#: from its start, unpaced: everything downstream must take the repeat without a duplicate).
KILLABLE = ("discovery", "targets", "router", "shard", "trading", "alerts", "sink")
REPLAY = "replay"


class FaultKind(str, Enum):
    KILL = "kill"  # SIGKILL one part's process group; the supervisor restarts it
    KILL_REPLAY = "kill-replay"
    BROKER_RESTART = "broker-restart"  # graceful stop + start
    BROKER_KILL = "broker-kill"  # SIGKILL the broker + start
    DB_OUTAGE = "db-outage"  # stop PostgreSQL, start it again `db_outage_s` later


@dataclass(frozen=True)
class ChaosPlan:
    session: str = "nba-2026-finals-g3"
    kills: int = 50
    replay_kills: int = 1
    broker_restarts: int = 2
    db_outage_s: float = 30.0
    latency_ms: float = 5.0  # each way, on every broker connection (an agent awaits each output's ack)
    jitter_ms: float = 5.0
    kill_gap_s: tuple[float, float] = (2.0, 5.0)
    seed: int = 20261206
    replay_timeout_s: float = 1200.0  # the session playing out (in lockstep, faults slow it)
    recovery_timeout_s: float = 600.0  # then every group and the sink caught up, every fault recovered from

    def __post_init__(self) -> None:
        if self.kills < len(KILLABLE):
            raise ValueError(f"at least {len(KILLABLE)} kills: every part is killed at least once")


@dataclass(frozen=True)
class Fault:
    at_s: float  # seconds after the run started flowing
    kind: FaultKind
    target: str = ""  # the part a kill hits ("" = chosen when it fires)


def schedule(plan: ChaosPlan, rng: random.Random) -> list[Fault]:
    """Kills at random gaps; the first round hits every killable part once (shuffled), the rest at random
    when they fire; broker restarts at a third and two thirds of the kills, the database outage at the middle,
    the replay kills in the last third."""
    first = list(KILLABLE)
    rng.shuffle(first)
    at, faults = 0.0, []
    for i in range(plan.kills):
        at += rng.uniform(*plan.kill_gap_s)
        faults.append(Fault(round(at, 3), FaultKind.KILL, first[i] if i < len(first) else ""))
    span = at
    for n in range(plan.broker_restarts):
        kind = FaultKind.BROKER_RESTART if n % 2 == 0 else FaultKind.BROKER_KILL
        faults.append(Fault(round(span * (n + 1) / (plan.broker_restarts + 1), 3) + 0.001, kind))
    if plan.db_outage_s > 0:
        faults.append(Fault(round(span / 2, 3) + 0.002, FaultKind.DB_OUTAGE))
    for n in range(plan.replay_kills):
        faults.append(Fault(round(span * (0.7 + 0.2 * n / max(1, plan.replay_kills)), 3) + 0.003, FaultKind.KILL_REPLAY, REPLAY))
    return sorted(faults, key=lambda f: f.at_s)


@dataclass
class Recovery:
    """One fault and how long the system took to be whole again after it ended."""

    kind: FaultKind
    target: str
    started: float  # monotonic
    ended: float = 0.0  # monotonic: the kill instant, or the broker/database back up
    recovered: float | None = None
    detail: str = ""
    waiting_on: tuple[str, ...] = ()  # the parts not yet whole at the last look (why it is not recovered)

    @property
    def seconds(self) -> float | None:
        return None if self.recovered is None else max(0.0, self.recovered - self.ended)


@dataclass
class Tally:
    kills: int = 0
    broker_restarts: int = 0
    db_outages: int = 0
    db_outage_s: float = 0.0
    skipped: list[str] = field(default_factory=list)  # a kill with no running part to hit
    recoveries: list[Recovery] = field(default_factory=list)
