"""The shard agent survives a rebalance that revokes its partitions in the middle of a batch (issue 18 step 3).

The worker does not wait for its streams to empty on a rebalance (`stream_wait_empty=False`), so the
revocation handler can drop the agent's state cache while a batch is sending its outputs. The agent used to
crash on the dropped cache (KeyError) and be restarted, stalling its partitions; now the batch is abandoned
without saving states over what the partition's next owner restores (that owner reads the batch again from
the offsets committed at the revocation). Driven with a live state of the recorded session
(data/sessions/nba-2026-finals-g3) and the agent's own function, no broker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.sessions.replay import load_session
from schemas.codec import default_codec
from schemas.enums import EventStatus
from schemas.records import EventState, ShardInput

SESSION = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3"


@dataclass
class Message:
    value: bytes
    partition: int = 0
    refcount: int = 0  # what keeps Faust from acking (committing) the record

    def incref(self) -> None:
        self.refcount += 1


@dataclass
class Event:
    value: Any
    message: Message


class Batches:
    """What the agent reads from `stream.take_events`: the given batches, then the end of the stream."""

    def __init__(self, batches: list[list[Event]]) -> None:
        self.batches = batches

    async def take_events(self, n: int, within: float) -> Any:
        for b in self.batches:
            yield b


def live_inputs(n: int) -> list[ShardInput]:
    states = [r.value for r in load_session(SESSION) if isinstance(r.value, EventState) and r.value.status is EventStatus.LIVE]
    return [ShardInput(input_id=f"state:{s.state_id}", event_id=s.event_id, ts=s.ts, state=s) for s in states[:n]]


def test_a_revocation_during_a_batch_abandons_it_instead_of_crashing(monkeypatch: Any) -> None:
    from streams.agents import shard as agent
    from streams.topics import topic

    codec = default_codec()
    inputs = live_inputs(2)
    batch = [Event(rec, Message(codec.encode(rec))) for rec in inputs]
    sent: list[Any] = []

    async def send_and_rebalance(*, key: str, value: Any, **_: Any) -> None:
        sent.append(value)
        await agent._drop_cache(None, set())  # the rebalance lands while the batch awaits the broker

    monkeypatch.setattr(topic("model.probabilities"), "send", send_and_rebalance)
    monkeypatch.setattr(topic("signals"), "send", send_and_rebalance)
    saved: list[tuple[str, int]] = []
    monkeypatch.setattr(agent, "_save", lambda eid, partition: saved.append((eid, partition)))

    asyncio.run(agent.shard.fun(Batches([batch])))

    assert len(sent) == 1  # the first output went out, then the batch stopped
    assert saved == [] and agent._cache == {}  # nothing written over what the next owner restores
    assert [e.message.refcount for e in batch] == [1, 1]  # held back: never acked, so read again by the owner


def test_a_worker_stopping_in_the_middle_of_a_batch_holds_it_back(monkeypatch: Any) -> None:
    """Stopping cancels the agent; `take_events` would then ack the whole batch and the stop would commit offsets
    past records whose state was never saved."""
    import pytest

    from streams.agents import shard as agent
    from streams.topics import topic

    codec = default_codec()
    batch = [Event(rec, Message(codec.encode(rec))) for rec in live_inputs(2)]

    async def cancelled(**_: Any) -> None:
        raise asyncio.CancelledError

    monkeypatch.setattr(topic("model.probabilities"), "send", cancelled)
    monkeypatch.setattr(topic("signals"), "send", cancelled)
    monkeypatch.setattr(agent, "_save", lambda eid, partition: pytest.fail("a cancelled batch saved its state"))

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(agent.shard.fun(Batches([batch])))
    assert [e.message.refcount for e in batch] == [1, 1]
