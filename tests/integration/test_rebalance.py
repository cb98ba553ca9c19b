"""A shard worker joining and leaving the group loses nothing and crashes nothing (issue 18 step 3).

A paced quote stream (every quote answered by a signal) flows through one shard worker while a second
worker of the same group joins and leaves twice (`bench.rebalance`, the `scale.rebalance_pause_ms`
bench). Every quote must be answered and no agent may crash: before the fix in streams/agents/shard.py
a revocation in the middle of a batch dropped the cache the batch was reading and the shard agent
crashed with a KeyError, stalling its partitions until Faust restarted it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.rebalance import bench_rebalance
from ops.topics import ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_joins_and_leaves_lose_no_quote_and_crash_no_agent(kafka_bootstrap: str, tmp_path: Path) -> None:
    assert not ensure_topics(kafka_bootstrap).problems
    result = bench_rebalance(kafka_bootstrap, cycles=2, rate=50, tmp=tmp_path)  # raises on a lost quote or a crash
    assert result["scale.rebalance_changes"] == 4 and result["scale.rebalance_quotes"] > 0
    assert result["scale.rebalance_pause_ms"] > 0
