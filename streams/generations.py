"""Topic generations: how a keyed topic family grows without moving a key's records or its state.

Growing a keyed topic in place sends a key's new records to another partition while its
older records and its table state stay on the old one. `arbees scale` (ops/scale) instead
starts a new generation of the family: new topics (`shard.inputs` → `shard.inputs.g1`)
and new table changelogs (`<app>-shard-state` → `<app>-shard-state-g1`) at the new
count, rebuilt from the old generation's log. The old generation is kept for replay.

Which generation is live is a fact on the broker (the compacted `scale.generations`
topic). A worker reads it once at launch (`export`, from `streams.agents.worker`) into
ARBEES_GENERATIONS, so declaring topics and tables never touches the network; a worker
switches generation by restarting, which `arbees scale` requires anyway.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from schemas.topics import TOPICS, Family, partitions

CONTROL_TOPIC = "scale.generations"
ENV = "ARBEES_GENERATIONS"  # "shard=1:24,..." — family=generation:partitions, set by the worker launcher
#: Families whose partition count `arbees scale` grows, with the tables co-partitioned with them.
SCALABLE: dict[Family, tuple[str, ...]] = {Family.SHARD: ("shard-state",)}


@dataclass(frozen=True)
class Generation:
    """One generation of a topic family: its number and partition count."""

    family: Family
    number: int
    partitions: int

    def topic(self, base: str) -> str:
        """The generation's name of a registry topic (generation 0 keeps the registry name)."""
        return base if self.number == 0 else f"{base}.g{self.number}"

    def table(self, base: str) -> str:
        """The generation's name of a table (its changelog is `<app id>-<name>-changelog`)."""
        return base if self.number == 0 else f"{base}-g{self.number}"

    def to_json(self) -> bytes:
        return json.dumps({"family": self.family.value, "number": self.number, "partitions": self.partitions}).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Generation:
        d = json.loads(raw)
        return cls(Family(d["family"]), int(d["number"]), int(d["partitions"]))


def initial(family: Family) -> Generation:
    """Generation 0: the registry's topic names and count."""
    return Generation(family, 0, partitions(family))


def family_topics(family: Family) -> tuple[str, ...]:
    return tuple(t.name for t in TOPICS if t.family is family)


def parse_env(value: str) -> dict[Family, Generation]:
    out: dict[Family, Generation] = {}
    for item in filter(None, (v.strip() for v in value.split(","))):
        fam, _, rest = item.partition("=")
        number, _, count = rest.partition(":")
        out[Family(fam)] = Generation(Family(fam), int(number), int(count))
    return out


def format_env(gens: Mapping[Family, Generation]) -> str:
    return ",".join(f"{g.family.value}={g.number}:{g.partitions}" for g in gens.values())


def current(family: Family, environ: Mapping[str, str] = os.environ) -> Generation:
    """The generation this process runs (ARBEES_GENERATIONS), generation 0 when it names none."""
    return parse_env(environ.get(ENV, "")).get(family, initial(family))


def resolve(name: str, environ: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """(topic name, partition count) of a registry topic in this process's generation of its family."""
    from schemas.topics import spec

    s = spec(name)
    if s.family not in SCALABLE:
        return s.name, s.partitions
    gen = current(s.family, environ)
    return gen.topic(s.name), gen.partitions


def read_from_broker(bootstrap: str, timeout: float = 10.0) -> dict[Family, Generation]:
    """The live generation of every family that has been scaled (none: an empty dict)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "arbees-generations", "enable.auto.commit": False,
                  "log_level": 0})
    try:
        meta = c.list_topics(CONTROL_TOPIC, timeout=timeout).topics.get(CONTROL_TOPIC)
        if meta is None or meta.error is not None or not meta.partitions:
            return {}
        out: dict[Family, Generation] = {}
        for p in meta.partitions:
            low, high = c.get_watermark_offsets(TopicPartition(CONTROL_TOPIC, p), timeout=timeout)
            if high <= low:
                continue
            c.assign([TopicPartition(CONTROL_TOPIC, p, low)])
            pos = low
            while pos < high:
                msg = c.poll(timeout)
                if msg is None:
                    raise TimeoutError(f"{CONTROL_TOPIC}[{p}]: no record within {timeout}s at offset {pos} of {high}")
                if msg.error() is not None:
                    continue
                pos = int(msg.offset() or 0) + 1
                if msg.value() is not None:
                    g = Generation.from_json(msg.value())
                    out[g.family] = g
        return out
    finally:
        c.close()


def live_names(bootstrap: str, names: tuple[str, ...]) -> dict[str, str]:
    """Registry name -> the name of that topic in the broker's live generation (itself outside scaled families)."""
    env = {ENV: format_env(read_from_broker(bootstrap))}
    return {n: resolve(n, env)[0] for n in names}


def export(bootstrap: str, environ: MutableMapping[str, str] = os.environ) -> dict[Family, Generation]:
    """Put the broker's live generations into ARBEES_GENERATIONS (the broker wins over an inherited value)."""
    gens = read_from_broker(bootstrap)
    environ[ENV] = format_env(gens)
    return gens
