"""One fetched batch of a stage: outputs sent as they come, state written only once all of them are acknowledged.

The crash rule (no state write before its outputs are acknowledged) holds per batch: every
table write a handler makes goes to the batch's pending writes, which later records of the
same batch read through; `checkpoint` awaits every output's delivery and only then writes
the pending state (each value to the changelog partition of the record that wrote it). A
worker killed before the checkpoint has written no state of the batch and re-does all of
it from the committed offsets, re-sending the same deterministic ids, which consumers
deduplicate. A batch that loses its partitions to a rebalance before its checkpoint
(`owned()` false) writes nothing: the partitions' next owner restores the state as it was
and reads the batch again. No Faust here: the runner (streams.agents.runner) supplies
`send` and `write`; tests supply dicts and futures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import Any

#: A pending delete (Faust: a tombstone on the changelog).
DELETED: Any = object()

#: (topic, key, value) -> the output's delivery (awaited at the checkpoint).
Send = Callable[[str, str, Any], Awaitable[Awaitable[Any]]]
#: (table, key, value or DELETED, changelog partition): the record handed to the producer (the commit's flush covers it).
Write = Callable[[str, str, Any, int], Awaitable[None]]


class Revoked(BaseException):
    """The batch's partitions were revoked before its checkpoint: nothing of it may be written. A BaseException,
    like a cancellation, so no handler's `except Exception` takes it for a failure of its own."""


class Batch:
    def __init__(self, tables: Mapping[str, MutableMapping[str, Any]], send: Send, write: Write,
                 owned: Callable[[], bool] = lambda: True) -> None:
        self.tables, self._send, self._write, self.owned = tables, send, write, owned
        self._pending: dict[tuple[str, str], tuple[Any, int]] = {}
        self._deliveries: list[Awaitable[Any]] = []
        self.sent = 0

    def table(self, name: str, partition: int) -> MutableMapping[str, Any]:
        """Table `name` as a record from changelog partition `partition` sees and writes it in this batch."""
        return _View(self, name, partition)

    async def send(self, topic: str, key: str, value: Any) -> None:
        self._deliveries.append(await self._send(topic, key, value))
        self.sent += 1

    def saved(self) -> dict[tuple[str, str], tuple[Any, int]]:
        """The pending writes as they are now, for `restore` after a handler that failed halfway."""
        return dict(self._pending)

    def restore(self, saved: dict[tuple[str, str], tuple[Any, int]]) -> None:
        self._pending = dict(saved)

    async def checkpoint(self) -> None:
        """Await every output sent so far, then write the pending state; raises Revoked (writing nothing) when
        the batch no longer owns its partitions."""
        deliveries, self._deliveries = self._deliveries, []
        for delivery in deliveries:
            await delivery
        if not self.owned():
            self._pending.clear()
            raise Revoked
        pending, self._pending = self._pending, {}
        for (name, key), (value, partition) in pending.items():
            await self._write(name, key, value, partition)


class _View(MutableMapping[str, Any]):
    def __init__(self, batch: Batch, name: str, partition: int) -> None:
        self._batch, self._name, self._partition = batch, name, partition
        self._table = batch.tables[name]

    def __getitem__(self, key: str) -> Any:
        pending = self._batch._pending.get((self._name, key))
        if pending is None:
            return self._table[key]
        if pending[0] is DELETED:
            raise KeyError(key)
        return pending[0]

    def __setitem__(self, key: str, value: Any) -> None:
        self._batch._pending[(self._name, key)] = (value, self._partition)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._batch._pending[(self._name, key)] = (DELETED, self._partition)

    def _keys(self) -> set[str]:
        keys = set(self._table)
        for (name, key), (value, _) in self._batch._pending.items():
            if name == self._name:
                (keys.discard if value is DELETED else keys.add)(key)
        return keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())
