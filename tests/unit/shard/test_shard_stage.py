"""The shard stage through the generic runner, without a broker (streams/shard/stage.py, streams/agents/runner.py).

A batch of the recorded session's live states is priced in one pass, its outputs routed by the
topology, and each event's snapshot written once, after the outputs are acknowledged; a new
stage reading those snapshots (a restarted worker, its changelog) prices the next input exactly
as the one that wrote them. A rebalance that revokes the partitions in the middle of a batch
(the worker does not wait for its streams to empty, `stream_wait_empty=False`) abandons it:
nothing is written over what the partition's next owner restores, the decoded states are
forgotten, and the batch is never acked, so that owner reads it again. Driven with the recorded
session (data/sessions/nba-2026-finals-g3).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ops.sessions.replay import load_session
from schemas.enums import EventStatus
from schemas.records import EventState, Probability, ShardInput
from streams.agents import runner
from streams.shard.processor import ShardProcessor
from streams.shard.stage import ShardStage
from streams.topology import Facts, stage
from tests.unit.agents.test_runner_batch import Broker, Table, event, write

SESSION = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3"


def live_inputs(n: int) -> list[ShardInput]:
    states = [r.value for r in load_session(SESSION) if isinstance(r.value, EventState) and r.value.status is EventStatus.LIVE]
    return [ShardInput(input_id=f"state:{s.state_id}", event_id=s.event_id, ts=s.ts, state=s) for s in states[:n]]


def shard(send: Any, table: Table | None = None) -> tuple[runner.StageRunner, ShardStage, Table]:
    table = Table() if table is None else table
    handlers = ShardStage(ShardProcessor())
    agent = runner.StageRunner(stage("shard"), handlers, Facts, {"shard-state": table}, {"shard.inputs": "shard.inputs"},
                               send=send, write=write)
    return agent, handlers, table


def batch_of(records: list[ShardInput], first: int = 0) -> list[Any]:
    return [event("shard.inputs", first + k, r, key=r.event_id) for k, r in enumerate(records)]


def test_a_batch_is_priced_routed_and_its_snapshot_restores_the_same_state() -> None:
    inputs = live_inputs(3)
    broker = Broker()
    agent, handlers, table = shard(broker.send)

    async def go() -> None:
        task = asyncio.create_task(agent.run_batch(batch_of(inputs[:2])))
        for _ in range(100):
            await asyncio.sleep(0)
        assert table.changelog == []  # nothing written before the outputs are acknowledged
        broker.ack_all()
        await task

    asyncio.run(go())
    want_states, want = ShardProcessor().step_batch({}, inputs[:2])
    assert [v for _, _, v in broker.sent] == [o for outs in want for o in outs]
    assert {(t, k) for t, k, _ in broker.sent} == {("model.probabilities", inputs[0].event_id)}
    assert [k for _, k, _ in table.changelog] == [inputs[0].event_id]  # one snapshot per event per batch

    # a restarted worker: a new stage, the table as the changelog left it
    broker2 = Broker()
    agent2, _, _ = shard(broker2.send, table)

    async def next_one() -> None:
        task = asyncio.create_task(agent2.run_batch(batch_of(inputs[2:], first=2)))
        for _ in range(100):
            await asyncio.sleep(0)
        broker2.ack_all()
        await task

    asyncio.run(next_one())
    _, after = ShardProcessor().step_batch(want_states, inputs[2:])
    assert [v for _, _, v in broker2.sent] == after[0]


def test_a_revocation_during_a_batch_abandons_it() -> None:
    sent: list[Any] = []

    async def send_and_rebalance(topic: str, key: str, value: Any) -> Any:
        sent.append(value)
        await runner._on_revoked(None, set())  # the rebalance lands while the batch sends its outputs
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    agent, handlers, table = shard(send_and_rebalance)
    batch = batch_of(live_inputs(2))
    asyncio.run(agent.run_batch(batch))

    assert len(sent) >= 1 and all(isinstance(v, Probability) for v in sent)
    assert table == {} and table.changelog == [] and handlers._cache == {}  # nothing over what the next owner restores
    assert [e.message.refcount for e in batch] == [1, 1]  # held back: never acked, so read again by the owner


def test_a_worker_stopping_in_the_middle_of_a_batch_holds_it_back() -> None:
    """Stopping cancels the agent; `take_events` would then ack the whole batch and the stop would commit offsets
    past records whose state was never saved."""

    async def cancelled(topic: str, key: str, value: Any) -> Any:
        raise asyncio.CancelledError

    agent, handlers, table = shard(cancelled)
    batch = batch_of(live_inputs(2))
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(agent.run_batch(batch))
    assert table.changelog == [] and handlers._cache == {}
    assert [e.message.refcount for e in batch] == [1, 1]


class Poisoned(ShardProcessor):
    """Fails on one input (made up: a processor defect the recorded data does not trigger)."""

    def run_batch(self, states: Any, records: Any) -> Any:
        if any(r.input_id == "poison" for r in records):
            raise RuntimeError("defect")
        return super().run_batch(states, records)


def test_a_batch_the_handler_fails_on_is_handled_record_by_record_and_only_the_bad_one_dead_lettered() -> None:
    inputs = live_inputs(3)
    records = [inputs[0], ShardInput(input_id="poison", event_id=inputs[1].event_id, ts=inputs[1].ts,
                                     state=inputs[1].state), inputs[2]]
    broker = Broker()
    table = Table()
    agent = runner.StageRunner(stage("shard"), ShardStage(Poisoned()), Facts, {"shard-state": table},
                               {"shard.inputs": "shard.inputs"}, send=broker.send, write=write)

    async def go() -> None:
        task = asyncio.create_task(agent.run_batch(batch_of(records)))
        for _ in range(200):
            await asyncio.sleep(0)
        broker.ack_all()
        await task

    asyncio.run(go())
    dead = [v for t, _, v in broker.sent if t == "deadletter"]
    assert len(dead) == 1 and dead[0].offset == 1 and "RuntimeError: defect" in dead[0].error
    _, want = ShardProcessor().step_batch({}, [inputs[0], inputs[2]])
    assert [v for t, _, v in broker.sent if t != "deadletter"] == [o for outs in want for o in outs]
    assert [k for _, k, _ in table.changelog] == [inputs[0].event_id]


def test_the_recorded_session_through_the_stage_keeps_listings_without_their_text_and_recovers_the_same_state() -> None:
    """Every shard input of the recorded session (the in-process engine's, as the router makes them), in batches of
    50: the snapshots hold each market's listing without its rules text (state.kept_listing), a new stage restored
    from them holds the states the writer held, and prices the last input as the writer does."""
    from ops.backtest.inprocess import BacktestConfig, InProcessEngine

    inputs = InProcessEngine(BacktestConfig()).run(load_session(SESSION)).shard_inputs
    listed = [r for r in inputs if r.listing is not None]
    assert listed and all(r.listing.rules for r in listed)  # the venues' listings carry their rules text

    async def play(a: runner.StageRunner, b: Broker, records: list[ShardInput], first: int) -> None:
        for at in range(0, len(records), 50):
            task = asyncio.create_task(a.run_batch(batch_of(records[at:at + 50], first=first + at)))
            while not task.done():
                await asyncio.sleep(0)
                b.ack_all()
            await task

    cut = len(inputs) - 1
    broker = Broker()
    agent, handlers, table = shard(broker.send)
    asyncio.run(play(agent, broker, inputs[:cut], 0))
    live = dict(handlers._cache)
    assert live and all(st.books.listings and not any(x.rules for x in st.books.listings) for st in live.values()
                        if st.books.keys)
    game = max(live, key=lambda eid: len(live[eid].books.keys))
    assert len(live[game].books.keys) == 3
    texts = {r.listing.rules for r in listed}
    assert len(texts) == 3 and not any(t.encode() in table[game] for t in texts)  # ~2 KB of its snapshot before

    restarted = Broker()
    agent2, handlers2, _ = shard(restarted.send, table)
    for eid, st in live.items():
        back = handlers2._state_for(eid, table)
        assert (back.books.keys, back.books.links, back.books.listings, back.books.quotes, back.probs) == \
            (st.books.keys, st.books.links, st.books.listings, st.books.quotes, st.probs)
    n = len(broker.sent)
    asyncio.run(play(agent, broker, inputs[cut:], cut))
    asyncio.run(play(agent2, restarted, inputs[cut:], cut))
    assert [v for _, _, v in restarted.sent] == [v for _, _, v in broker.sent[n:]]
