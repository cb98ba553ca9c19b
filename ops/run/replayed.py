"""Whether this run's shard group has already read a recorded session, so a second replay is refused, saying why.

Every record a replay publishes has the deterministic id and the event time it had the first time.
The agent groups' state (changelog-backed tables and committed offsets) already holds the game up
to its end, so the shard takes the replayed game states and books for the stale copies they are
(older than what it knows): no probabilities, no signals, no orders. That is effectively-once
doing its job, not a fault, but a user replaying a session twice expects to see it trade; so
`arbees run --replay` looks first and, when this run's shard group has read the session's inputs
before, refuses with the two ways to watch it again: a fresh stack, or a run of its own
(`--run-id`: its own consumer groups, tables and paper account, reading the topics from the start).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from ops.log_range import LogRange

from schemas.codec import default_codec
from schemas.records import EventState, ShardInput


class AlreadyReplayed(RuntimeError):
    """This run's shard group has read the session before: the replay would change nothing."""


@dataclass(frozen=True)
class SessionSpan:
    """The events a session plays and the event time its game states cover."""

    event_ids: frozenset[str]
    first_ts: int
    last_ts: int


@dataclass(frozen=True)
class Seen:
    """Where the shard group's committed offset stands against the session's first input on one partition."""

    topic: str
    partition: int
    first_offset: int  # the session's first shard input there
    committed: int

    @property
    def read(self) -> bool:
        return self.committed > self.first_offset


def session_span(folder: Path) -> SessionSpan:
    from ops.sessions.replay import normalize

    states = [r.record for r in normalize(folder) if isinstance(r.record, EventState)]
    if not states:
        raise ValueError(f"{folder} holds no game state")
    return SessionSpan(frozenset(s.event_id for s in states), min(s.ts for s in states), max(s.ts for s in states))


def shard_seen(bootstrap: str, group: str, span: SessionSpan, timeout_s: float = 60.0) -> list[Seen]:
    """Per partition of `shard.inputs` (this process's generation) holding the session's inputs: where the
    first of them is and how far `group` has committed. Empty: the session is not on the log."""
    from ops.backtest.records import partition_for
    from streams.generations import resolve

    topic, partitions = resolve("shard.inputs")
    wanted = sorted({partition_for(e, partitions) for e in span.event_ids})
    committed_by = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                             "log_level": 0})
    codec = default_codec()
    try:
        first: dict[int, int] = {}
        log = LogRange(bootstrap, topic, wanted, timeout_s=timeout_s, purpose="replayed")
        for msg in log:
            try:
                rec = codec.decode(msg.value)
            except Exception:  # noqa: BLE001 - not a shard input: not the session's
                rec = None
            if isinstance(rec, ShardInput) and rec.event_id in span.event_ids and span.first_ts <= rec.ts <= span.last_ts:
                first[msg.partition] = msg.offset
                log.drop(msg.partition)
        if not first:
            return []
        marks = committed_by.committed([TopicPartition(topic, p) for p in sorted(first)], timeout=10)
        return [Seen(topic, m.partition, first[m.partition], max(m.offset, 0)) for m in marks]
    finally:
        committed_by.close()


def refuse_if_replayed(bootstrap: str, session: str, folder: Path, app_prefix: str, state_dir: Path) -> None:
    """Raise `AlreadyReplayed` (its message says why and what to do) when `<app_prefix>-shard` has read the session."""
    span = session_span(folder)
    group = f"{app_prefix}-shard"
    seen = [s for s in shard_seen(bootstrap, group, span) if s.read]
    if not seen:
        return
    where = ", ".join(f"{s.topic}[{s.partition}] at offset {s.committed} (the session starts at {s.first_offset})"
                      for s in seen)
    raise AlreadyReplayed(
        f"session {session} was already replayed on this stack: the shard group {group} has read its inputs "
        f"({where}). Its state holds the game up to its end, and a replay publishes the same records with the same "
        "ids and event times, which the agents take as the stale copies they are: no probabilities, no signals, "
        "no orders. To watch it trade again, either replay it as a run of its own, with its own consumer groups, "
        f"state and paper account: `arbees run --replay {session} --run-id <name>`; or on a fresh stack: "
        f"`arbees stack down`, then remove {state_dir} (or set ARBEES_STACK_DIR to a new folder, with ports of its "
        f"own) and `arbees run --replay {session}` again.")
