"""Partition counts are written once, in the topic registry's family table (issue 18).

A literal count anywhere else (a `partitions=12` on a topic or table, an `X_PARTITIONS = 6`) would let a table's
changelog, an internal topic or a producer disagree with the broker after `arbees scale` grows a family.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from schemas.topics import FAMILY_PARTITIONS, Family, partitions, spec

REPO = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("schemas", "streams", "ops", "connectors", "bench", "telemetry")
REGISTRY = REPO / "schemas" / "topics.py"
COUNT_KEYWORDS = {"partitions", "num_partitions", "topic_partitions", "new_total_count"}


def literal_counts(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of every integer literal given as a partition count in a module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in COUNT_KEYWORDS and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, int):
            found.append((node.value.lineno, f"{node.arg}={node.value.value}"))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, int):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and "PARTITIONS" in t.id.upper():
                    found.append((node.lineno, f"{t.id} = {node.value.value}"))
        elif isinstance(node, ast.FunctionDef):
            args = node.args
            defaults = dict(zip([a.arg for a in args.args][-len(args.defaults):], args.defaults)) if args.defaults else {}
            defaults |= {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
            for name, d in defaults.items():
                if name in COUNT_KEYWORDS and isinstance(d, ast.Constant) and isinstance(d.value, int):
                    found.append((d.lineno, f"{node.name}({name}={d.value})"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("NewTopic", "NewPartitions") \
                and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            found.append((node.lineno, f"{node.func.id}(..., {node.args[1].value})"))
    return found


def test_the_scan_finds_the_literals_it_forbids() -> None:
    # made-up module text: each line is one way a count was written before issue 18
    made_up = (
        "app.Table('t', partitions=12)\n"
        "ACCOUNT_PARTITIONS = 6\n"
        "def table(name, *, partitions: int = 12): ...\n"
        "App('x', topic_partitions=12)\n"
        "NewTopic('t', 12)\n"
        "app.topic('t', partitions=spec('x').partitions)\n"
    )
    assert sorted(what for _, what in literal_counts(ast.parse(made_up))) == sorted(
        ["partitions=12", "ACCOUNT_PARTITIONS = 6", "table(partitions=12)", "topic_partitions=12", "NewTopic(..., 12)"]
    )


def test_no_partition_count_is_written_outside_the_registry() -> None:
    offenders = []
    for d in SOURCE_DIRS:
        for path in sorted((REPO / d).rglob("*.py")):
            if path == REGISTRY:
                continue
            for line, what in literal_counts(ast.parse(path.read_text(), str(path))):
                offenders.append(f"{path.relative_to(REPO)}:{line}: {what}")
    assert offenders == [], "partition counts belong in schemas/topics.py FAMILY_PARTITIONS:\n" + "\n".join(offenders)


def test_the_registry_writes_each_count_once() -> None:
    registry = [what for _, what in literal_counts(ast.parse(REGISTRY.read_text()))]
    assert registry == [], registry  # the family table is a dict literal, read through partitions()
    assert set(FAMILY_PARTITIONS) == set(Family)


def test_every_table_and_internal_topic_of_the_worker_takes_its_family_count() -> None:
    """The whole app (every agent module) declares its changelogs and internal topics at the registry's counts."""
    code = (
        "import json\n"
        "from streams.app import app\n"
        "import importlib\n"
        "from streams.app import AGENT_MODULES\n"
        "[importlib.import_module(m) for m in AGENT_MODULES]\n"
        "from streams.internal_topics import internal_topic_specs\n"
        "print(json.dumps({n: p for n, (p, _) in internal_topic_specs(app).items()}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ARBEES_APP_ID": "arbees-test", "ARBEES_AGENTS": ""})
    assert proc.returncode == 0, proc.stderr
    specs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert specs["arbees-test-shard-state-changelog"] == spec("shard.inputs").partitions
    assert specs["arbees-test-router-links-changelog"] == spec("markets.quotes").partitions
    assert specs["arbees-test-trading-inbox"] == partitions(Family.ACCOUNT)
    assert specs["arbees-test-trading-sizing-changelog"] == spec("orders").partitions
    assert specs["arbees-test-discovery-by-scope"] == partitions(Family.EVENT)
    assert set(specs.values()) <= set(FAMILY_PARTITIONS.values())
