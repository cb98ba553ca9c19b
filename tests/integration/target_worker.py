"""One Faust worker running discovery, the target agents, the router and the shard, for the crypto and
economics pipeline tests; and the pure shard's outputs on the inputs the worker's shard received."""

from __future__ import annotations

import socket
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ops import demo
from ops.topics import ensure_topics
from schemas.records import Probability, ShardInput, Signal
from streams.config_file import load as load_config
from streams.shard.processor import ShardProcessor
from streams.shard.state import ShardState

OUTPUTS = ("events.state", "markets.links", "shard.inputs", "model.probabilities", "signals", "deadletter")
AGENTS = "discovery,targets,router,shard"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def target_worker(bootstrap: str, folder: Path, prefix: str, config: str | None = None) -> Iterator[tuple[demo.Child, demo.LogReader]]:
    """A worker under a fresh app id positioned at the logs' ends, and a reader of OUTPUTS from there."""
    report = ensure_topics(bootstrap)
    assert not report.problems, report.problems
    app_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
    start = demo.log_ends(bootstrap, set(OUTPUTS) | set(demo.WORKER_SOURCES))
    demo.start_group_at(bootstrap, app_id, {t: start[t] for t in demo.WORKER_SOURCES})
    child = demo.worker(bootstrap, app_id, folder, accounts=f"acct-{app_id}", web_port=free_port(), agents=AGENTS)
    if config is not None:
        path = folder / "arbees.toml"
        path.write_text(config)
        child = demo.Child(child.argv, child.log, env={**child.env, "ARBEES_CONFIG": str(path)}, cwd=child.cwd)
    reader = demo.LogReader(bootstrap, {t: start[t] for t in OUTPUTS}, topics=OUTPUTS)
    try:
        yield child, reader
    finally:
        child.stop()
        reader.close()


def pure_shard_outputs(child: demo.Child, reader: demo.LogReader, event_id: str) -> tuple[list[Probability], list[Signal]]:
    """What the shard processor, with the worker's settings, makes of the event's inputs in log order."""
    inputs = sorted((s for s in reader.records["shard.inputs"] if isinstance(s.record, ShardInput) and s.record.event_id == event_id),
                    key=lambda s: s.offset)
    path = child.env.get("ARBEES_CONFIG")
    proc = ShardProcessor(load_config(Path(path) if path else None).shard)
    st, outs = ShardState(event_id), []
    for s in inputs:
        st, out = proc.step(st, s.record)
        outs += out
    return [o for o in outs if isinstance(o, Probability)], [o for o in outs if isinstance(o, Signal)]


def settled_outputs(child: demo.Child, reader: demo.LogReader, event_id: str, timeout_s: float = 90.0
                    ) -> tuple[list[Probability], list[Signal], list[Probability], list[Signal]]:
    """(got probabilities, got signals, pure probabilities, pure signals) once they agree or time runs out.

    Feed states keep flowing after the condition a test waited for (a quote can overtake the
    last target state), so the shard's outputs are compared once it has caught up with its inputs.
    """
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        reader.poll(1.0)
        want_p, want_s = pure_shard_outputs(child, reader, event_id)
        got_p = [p for p in reader.of("model.probabilities", Probability) if p.event_id == event_id]
        got_s = [s for s in reader.of("signals", Signal) if s.event_id == event_id]
        if (got_p == want_p and got_s == want_s) or time.monotonic() > deadline or not child.alive():
            return got_p, got_s, want_p, want_s
