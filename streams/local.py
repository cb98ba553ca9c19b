"""The in-process host of streams/topology.py: the same stages and handlers as the Faust agents, without a broker.

Each topic is a place on one FIFO queue: a record put on a topic is delivered to every
stage that reads that topic and takes its type, in declaration order, and each output is
routed by the emitting stage's declaration. Tables are dicts of decoded state (with
`check_codec` every write also round-trips through the table's codec, as a changelog
would). A handler's exception is dead-lettered with its reason and the run goes on, as
the Faust runner does. This is the backtest engine's trading half and the unit-test seam
of the agents (Faust's `test_context`, for our stages): `put` a record, read `log`.

Handlers never wait on I/O here (no venue, nothing to acknowledge), so each one runs to
completion synchronously; a handler that does wait is an error, not a hang.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Coroutine, MutableMapping
from dataclasses import dataclass
from typing import Any

from schemas.codec import default_codec
from schemas.deadletters import dead_letter
from schemas.records import DeadLetter
from streams.topology import STAGES, TABLES, Facts, Stage, consumers, source
from streams.trading.stages import Stages


class WaitedOnIO(RuntimeError):
    """An in-process handler awaited something that never completes synchronously (a live venue call)."""


def run_now(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never really suspends, to completion, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise WaitedOnIO("an in-process stage waited on I/O")


class _CheckedTable(dict[str, Any]):
    """A table whose every write round-trips through its codec, as a changelog-backed table's does."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.codec = TABLES[name].codec

    def __setitem__(self, key: str, value: Any) -> None:
        decoded = self.codec.decode(self.codec.encode(value))
        if decoded != value:
            raise ValueError(f"{self.codec.cls.__name__} changed through its codec")
        super().__setitem__(key, decoded)


@dataclass
class _Context:
    host: LocalHost
    stage: Stage
    key: str
    facts: Facts

    def table(self, name: str) -> MutableMapping[str, Any]:
        return self.host.tables[name]

    async def emit(self, outputs: list[Any]) -> None:
        for out in outputs:
            topic, key, value = self.stage.route(self.key, out)
            self.host.put(topic, key, value)

    async def flush(self) -> None:
        return None


class LocalHost:
    """Runs the topology's stages in this process, deterministically."""

    def __init__(self, stages: Stages, facts: Callable[[], Facts] = Facts, check_codec: bool = False) -> None:
        self.stages = stages
        self.facts = facts
        self.tables: dict[str, MutableMapping[str, Any]] = {
            name: (_CheckedTable(name) if check_codec else {}) for name in TABLES}
        #: every record each topic received, fed or emitted, in order
        self.log: dict[str, list[Any]] = defaultdict(list)
        self.deadletters: list[DeadLetter] = []
        self._queue: deque[tuple[Stage, str, str, Any]] = deque()

    def put(self, topic: str, key: str, value: Any) -> None:
        """A record on `topic`: logged, and queued for every stage that reads it."""
        self.log[topic].append(value)
        for stage in consumers(topic):
            if stage.takes(topic, value):
                self._queue.append((stage, topic, key, value))

    def feed(self, topic: str, key: str, value: Any) -> None:
        """Put one input record and run everything it causes, to the end."""
        self.put(topic, key, value)
        while self._queue:
            stage, t, k, v = self._queue.popleft()
            self._deliver(stage, t, k, v)

    def publish(self, record: Any) -> None:
        """Feed an input record on its source topic (streams.topology.SOURCES)."""
        self.feed(*source(record), record)

    def state(self, table: str, key: str) -> Any:
        return self.tables[table].get(key)

    def _deliver(self, stage: Stage, topic: str, key: str, value: Any) -> None:
        if not key:
            return  # an account stage's record without an account key is not for it (as in the agents)
        handler = getattr(self.stages, stage.handler)
        try:
            run_now(handler(_Context(self, stage, key, self.facts()), value))
        except Exception as exc:  # noqa: BLE001 - the Faust runner dead-letters any failure and goes on
            self.deadletters.append(dead_letter(topic=topic, value=default_codec().encode(value), error=exc,
                                                service=stage.name, ts=getattr(value, "ts", 0) or 0,
                                                key=key.encode()))


__all__ = ["LocalHost", "STAGES", "WaitedOnIO", "run_now"]
