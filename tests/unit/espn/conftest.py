"""Recorded ESPN payloads and a sink that remembers what the pipeline published."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "espn"
NFL_LIVE = "nfl_scoreboard_2025-12-07_live.json"
NFL_SNF = "nfl_scoreboard_2025-11-30_sunday_night.json"
NBA_SB = "nba_scoreboard_2025-12-07.json"
NBA_GAME = "nba_game_cdn_core_401859966_finals_g3.json"

#: capture times from tests/fixtures/espn/PROVENANCE.md
T_2025_12_07_19 = 1765134000000  # 2025-12-07T19:00:00Z


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def body(name: str) -> str:
    return (FIXTURES / name).read_text()


@dataclass
class RecordingSink:
    published: list[tuple[str, str, Any]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def publish(self, topic: str, key: str, record: Any) -> None:
        self.published.append((topic, key, record))
        self.order.append(topic)

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        self.dead.append({"topic": topic, "value": value, "error": error, "ts": ts, "key": key})
        self.order.append("deadletter")

    def on(self, topic: str) -> list[Any]:
        return [r for t, _, r in self.published if t == topic]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()
