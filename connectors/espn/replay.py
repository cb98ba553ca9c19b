"""Replay: feed recorded ESPN responses through the pipeline instead of the network.

Two sources give the same `RawFeed` records the live client would have made:

- `FileReplay`: response bodies on disk, described by a manifest (JSON list of
  {"file", "endpoint", "url", "params", "fetched_at", "status"}), since a bare
  body does not say what was asked or when it arrived;
- `TopicReplay`: the `raw.espn` topic itself, from given offsets to the end
  offsets seen at start, so replay of the log terminates.

Replaying files publishes the raw responses (they stand in for the network);
replaying the topic does not (they are already there).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from connectors.espn.client import Fetched
from connectors.espn.errors import FatalEspnError
from connectors.espn.fields import iso_ms
from connectors.espn.pipeline import RAW_TOPIC, EspnPipeline, Outcome, league_of
from schemas.codec import Codec, default_codec
from schemas.records import RawFeed


@dataclass(frozen=True)
class Recording:
    """One recorded response and what was asked for it."""

    file: str
    endpoint: str
    url: str
    fetched_at: int
    params: dict[str, str] = field(default_factory=dict)
    status: int = 200


def load_manifest(path: Path) -> list[Recording]:
    """Recordings listed in a manifest; `fetched_at` is ISO time or epoch ms."""
    try:
        items = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise FatalEspnError(f"replay manifest {path}: {exc}") from exc
    out: list[Recording] = []
    for i, item in enumerate(items):
        fa: Any = item["fetched_at"]
        fetched_at = fa if isinstance(fa, int) else iso_ms(fa, f"manifest[{i}].fetched_at")
        out.append(
            Recording(
                file=item["file"],
                endpoint=item["endpoint"],
                url=item["url"],
                fetched_at=fetched_at,
                params={str(k): str(v) for k, v in (item.get("params") or {}).items()},
                status=int(item.get("status", 200)),
            )
        )
    return out


class FileReplay:
    """RawFeed records from recorded bodies, in manifest order."""

    def __init__(self, manifest: Path) -> None:
        self.base = manifest.parent
        self.recordings = load_manifest(manifest)

    def __iter__(self) -> Iterator[RawFeed]:
        for rec in self.recordings:
            body = (self.base / rec.file).read_text()
            probe = RawFeed(raw_id="", ts=rec.fetched_at, source="espn", endpoint=rec.endpoint, url=rec.url)
            lg = league_of(probe)
            yield Fetched(rec.endpoint, lg.key, rec.url, rec.params, rec.status, rec.fetched_at, body).raw_feed()


class TopicReplay:
    """The records of a topic (`raw.espn` by default), from `start` offsets (default: the beginning) to today's end.

    The ESPN connector also reads its compacted `events.pregame` (EventState records) this way on restart.
    """

    def __init__(
        self,
        bootstrap: str,
        start: dict[int, int] | None = None,
        *,
        topic: str = RAW_TOPIC,
        codec: Codec | None = None,
        group_id: str = "espn-replay",
        timeout_s: float = 30.0,
    ) -> None:
        self.topic = topic
        self.codec = codec or default_codec()
        self.timeout_s = timeout_s
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
        )
        meta = self.consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        parts = sorted(meta.partitions)
        self.start = {p: (start or {}).get(p, OFFSET_BEGINNING) for p in parts}
        self.end = {p: self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1] for p in parts}

    def __iter__(self) -> Iterator[Any]:
        """Records in (partition, offset) order within each partition; partitions interleave by arrival."""
        pending = {p for p in self.start if self.end[p] > 0 and (self.start[p] < 0 or self.start[p] < self.end[p])}
        if not pending:
            self.consumer.close()
            return
        self.consumer.assign([TopicPartition(self.topic, p, self.start[p]) for p in pending])
        try:
            while pending:
                msg = self.consumer.poll(self.timeout_s)
                if msg is None:
                    raise FatalEspnError(f"{self.topic}: no record within {self.timeout_s}s, still waiting on partitions {sorted(pending)}")
                if msg.error():
                    raise FatalEspnError(f"{self.topic}: {msg.error()}")
                p, off = msg.partition(), msg.offset()
                if p in pending:
                    yield self.codec.decode(msg.value())
                    if off + 1 >= self.end[p]:
                        pending.discard(p)
        finally:
            self.consumer.close()


def replay(records: Iterable[RawFeed], pipeline: EspnPipeline) -> list[Outcome]:
    """Run every recorded response through the pipeline, in order."""
    return [pipeline.on_raw(raw) for raw in records]
