"""Values derived from a processor state's parts, found again by the parts' identity.

Processor states are immutable values that `step` replaces part by part, and a part
that did not change is the very same object in the next state. A processor can
therefore keep what it derives from a part (sums over an account's holdings, an
index of its recent ids) beside the state instead of inside it: looked up by the
part's identity, the derived value is found again in the next state, and a state
whose part is another object (a restored changelog value, a test's hand-made
state) simply misses and derives afresh. The state's shape, its codec and its
equality stay as they are; outputs never depend on whether a lookup hit.
"""

from __future__ import annotations

from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """At most `size` derived values, keyed by the identity of the objects they came from.

    Each entry holds its objects, so their ids cannot be reused by other objects while
    the entry lives; the oldest entries go first.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: dict[tuple[int, ...], tuple[tuple[object, ...], V]] = {}

    def get(self, *parts: object) -> V | None:
        hit = self._items.get(tuple(map(id, parts)))
        if hit is None or any(a is not b for a, b in zip(hit[0], parts)):
            return None
        return hit[1]

    def pop(self, *parts: object) -> V | None:
        """The value kept for `parts`, no longer kept (for a value about to be changed in place)."""
        value = self.get(*parts)
        if value is not None:
            del self._items[tuple(map(id, parts))]
        return value

    def put(self, parts: tuple[object, ...], value: V) -> V:
        self._items[tuple(map(id, parts))] = (parts, value)
        while len(self._items) > self.size:
            del self._items[next(iter(self._items))]
        return value

    def __len__(self) -> int:
        return len(self._items)
