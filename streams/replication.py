"""How many copies the broker keeps of each topic: one on the local single-node stack, three in production.

ARBEES_REPLICATION_FACTOR (default 1) is read by everything that creates a topic: `arbees topics create`,
a worker creating its changelogs and internal topics, and `arbees scale` creating a generation. With more
than one copy, `min.insync.replicas` is set so an acknowledged write (producers use acks=all) survives the
loss of one broker while the topic stays writable with one broker down: 3 copies, 2 in sync.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Replication:
    factor: int = 1

    @property
    def min_insync(self) -> int:
        return max(1, min(2, self.factor - 1))

    def topic_config(self) -> dict[str, str]:
        """Topic settings that go with the factor (none on a single node: the broker's default applies)."""
        return {"min.insync.replicas": str(self.min_insync)} if self.factor > 1 else {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Replication:
        factor = int(environ.get("ARBEES_REPLICATION_FACTOR", "1"))
        if factor < 1:
            raise ValueError(f"ARBEES_REPLICATION_FACTOR must be at least 1, got {factor}")
        return cls(factor)
