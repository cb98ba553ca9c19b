"""The in-process host's delivery order (streams/local.py), derived from the declaration alone.

The host runs a chunk of source records group by group, sorting each group's deliveries by where
they stand in the event-time order; these tests hold that to what the event-time worker does: one
source record's cascade before the next's, breadth first, its signals after the rest of it, and
the same outputs as feeding the records one at a time. The handlers in the first test are stand-ins
that record what they are handed (the records are the recorded NFL game's); the others run the
backtest's real stages on the recorded NBA session.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from ops.backtest.inprocess import GROUPS, BacktestConfig, InProcessEngine, collect
from ops.backtest.kafka import DEFAULT_AGENTS
from ops.backtest.records import BacktestError, InputRecord
from ops.sessions.replay import load_session
from schemas.records import Signal
from streams.local import LocalHost
from streams.topology import INBOX, PIPELINE, Route, Stage, ToAccount, group_order
from tests.unit.trading import recorded_game as game

SESSION = Path(__file__).resolve().parents[2] / "data" / "sessions" / "nba-2026-finals-g3"
T = game.KICKOFF_MS + 3_600_000


@dataclass
class Recorder:
    """Stand-in handlers: the shard prices each input into one signal; trading fans out to `paper` and records."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)

    @staticmethod
    def name(record: Any) -> str:
        return f"signal {record.ts}" if isinstance(record, Signal) else f"input {record.ts}"

    async def price(self, ctx: Any, items: list[Any]) -> None:
        self.batches.append(len(items))
        for it in items:
            await ctx.emit(it.key, [replace(game.gb_signal(it.record.ts), ts=it.record.ts)])

    async def route(self, ctx: Any, record: Any) -> None:
        self.calls.append(("route", self.name(record)))
        await ctx.emit([ToAccount("paper", record)])

    def __getattr__(self, stage: str) -> Any:
        async def handle(ctx: Any, record: Any) -> None:
            self.calls.append((stage, self.name(record)))
        return handle


def test_a_source_records_cascade_runs_breadth_first_its_signals_after_it_and_before_the_next_record() -> None:
    rec = Recorder()
    host = LocalHost({"shard": rec, "trading": rec})
    inputs = [game.quote_input(game.GB, T), game.quote_input(game.DET, T + 1)]
    host.feed_many([("shard.inputs", game.EVENT_ID, r) for r in inputs])

    assert rec.batches == [2]  # both records' prices in one batch, as a fetched batch in the agent
    first = [("route", f"input {T}"), ("sizing", f"input {T}"), ("execution", f"input {T}"),
             ("positions", f"input {T}"), ("route", f"signal {T}"), ("sizing", f"signal {T}")]
    second = [(stage, what.replace(str(T), str(T + 1))) for stage, what in first]
    assert rec.calls == first + second
    assert [type(r).__name__ for r in host.log[INBOX]] == ["ShardInput", "Signal", "ShardInput", "Signal"]


def test_groups_run_before_the_groups_that_read_them_and_a_cycle_between_groups_is_refused() -> None:
    hosted = [s for s in PIPELINE if s.group in GROUPS]
    assert group_order(hosted) == ("discovery", "router", "shard", "trading")
    assert GROUPS == tuple(DEFAULT_AGENTS.split(","))  # the Kafka engine's worker runs the same groups
    back = Stage("feedback", inputs={"orders": (object,)}, key="account", tables=(),
                 routes={object: Route("markets.links", lambda k, _: k)}, handler="x", group="feedback", family=None)
    with pytest.raises(ValueError, match="feed each other"):
        group_order([*hosted, back])


def test_a_chunk_run_group_by_group_equals_the_records_fed_one_at_a_time() -> None:
    records = load_session(SESSION)
    engine = InProcessEngine(BacktestConfig(account="host-order"))
    chunked = engine.run(records)
    assert len(chunked.signals) == 31 and len(chunked.orders) == 8  # the session trades (README: `arbees run`)

    host = engine.host()
    host.publish(engine.config.deposit(records[0].ts - 1))
    for r in records:
        host.feed(r.topic, r.key, r.value)
    one_by_one = collect(host)
    assert one_by_one.digest() == chunked.digest()
    assert [s.signal_id for s in one_by_one.signals] == [s.signal_id for s in chunked.signals]


def test_a_record_no_hosted_stage_reads_is_refused_before_the_run_starts() -> None:
    shard_input = game.quote_input(game.GB, T)
    host = InProcessEngine(BacktestConfig()).host()
    assert host.takes("shard.inputs", shard_input) and not host.takes("markets.quotes", shard_input)
    stray = InputRecord("markets.quotes", game.EVENT_ID, shard_input, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(BacktestError, match="markets.quotes record ShardInput is not a backtest input"):
        InProcessEngine(BacktestConfig()).run([stray])
