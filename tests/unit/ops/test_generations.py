"""Topic generations (streams/generations.py, ops/scale): names, the environment a worker runs with, placement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ops.backtest.records import partition_for
from ops.scale.migrate import partition_for_bytes
from schemas.topics import Family, partitions
from streams.generations import ENV, Generation, current, format_env, parse_env, resolve

REPO = Path(__file__).resolve().parents[3]
EVENT = "espn:nba:401859965"  # the recorded session's event (data/sessions/nba-2026-finals-g3)


def test_generation_zero_is_the_registry() -> None:
    assert current(Family.SHARD, {}) == Generation(Family.SHARD, 0, partitions(Family.SHARD))
    assert resolve("shard.inputs", {}) == ("shard.inputs", partitions(Family.SHARD))


def test_a_later_generation_renames_the_family_topics_and_tables_only() -> None:
    env = {ENV: "shard=1:24"}
    assert resolve("shard.inputs", env) == ("shard.inputs.g1", 24)
    assert resolve("signals", env) == ("signals", partitions(Family.EVENT))  # not of the family: untouched
    g = current(Family.SHARD, env)
    assert g.table("shard-state") == "shard-state-g1" and Generation.from_json(g.to_json()) == g
    assert parse_env(format_env({Family.SHARD: g})) == {Family.SHARD: g}


@pytest.mark.parametrize("old,new", [(12, 24), (12, 36), (6, 24)])
def test_each_new_partition_takes_the_keys_of_one_old_partition(old: int, new: int) -> None:
    keys = [EVENT, *(f"espn:nba:{401859900 + i}" for i in range(500))]
    for k in keys:
        q = partition_for_bytes(k.encode(), new)
        assert q == partition_for(k, new) and q % old == partition_for(k, old)


def test_the_worker_declares_the_live_generation() -> None:
    """With generation 1 of the shard family, the app's shard agent reads shard.inputs.g1 and its state table
    lives under a new changelog at the new count; the other families keep their names and counts."""
    code = (
        "import json, importlib\n"
        "from streams.app import app, AGENT_MODULES\n"
        "[importlib.import_module(m) for m in AGENT_MODULES]\n"
        "from streams.internal_topics import internal_topic_specs\n"
        "sources = {a.name.rsplit('.', 1)[-1]: sorted(a.channel.topics) for a in app.agents.values() if hasattr(a.channel, 'topics')}\n"
        "print(json.dumps({'specs': {n: p for n, (p, _) in internal_topic_specs(app).items()}, 'sources': sources}))\n"
    )
    env = {**os.environ, "ARBEES_APP_ID": "arbees-test", "ARBEES_AGENTS": "", ENV: "shard=1:24"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["specs"]["arbees-test-shard-state-g1-changelog"] == 24
    assert "arbees-test-shard-state-changelog" not in out["specs"]
    assert out["sources"]["shard"] == ["shard.inputs.g1"] and out["sources"]["trading-route-inputs"] == ["shard.inputs.g1"]
    assert out["specs"]["arbees-test-router-links-changelog"] == partitions(Family.EVENT)


def test_the_sink_reads_no_topic_a_generation_renames() -> None:
    """The sink keeps working across a generation change because it reads no topic of a scalable family; a sink
    that starts reading one must follow the live generation (streams.generations.live_names) first."""
    from ops.sink.runner import SINK_TOPICS
    from streams.generations import SCALABLE, family_topics

    assert not {t for fam in SCALABLE for t in family_topics(fam)} & set(SINK_TOPICS)
