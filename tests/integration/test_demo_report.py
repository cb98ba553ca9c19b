"""Why `arbees demo` showed 0 model probabilities, and that its report now shows them (real broker, one worker).

The demo counts what a run produces, and the shard emits a Probability only when one moves: replaying
recordings a worker has priced before (a second demo, or `make run` already holding those states)
produces none. The recorded week-14 NFL scoreboard replayed twice through one worker shows it; the
report reads each replayed event's latest probability from the whole log instead.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from ops import demo
from ops.topics import ensure_topics
from schemas.records import EventState, Probability

#: The eight games the recorded week 14 scoreboard shows live (tests/e2e/test_pipeline.py).
WEEK14_LIVE = {"espn:nfl:401772900", "espn:nfl:401772902", "espn:nfl:401772898", "espn:nfl:401772899",
               "espn:nfl:401772790", "espn:nfl:401772792", "espn:nfl:401772793", "espn:nfl:401772791"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_replay_the_worker_priced_before_emits_nothing_and_the_report_reads_the_log(kafka_bootstrap: str,
                                                                                       tmp_path: Path) -> None:
    assert not ensure_topics(kafka_bootstrap).problems
    tag = uuid.uuid4().hex[:10]
    app_id = f"it-demo-{tag}"
    start = demo.log_ends(kafka_bootstrap, demo.OUTPUTS + demo.WORKER_SOURCES)
    demo.start_group_at(kafka_bootstrap, app_id, {t: start[t] for t in demo.WORKER_SOURCES})
    worker = demo.worker(kafka_bootstrap, app_id, tmp_path, accounts=f"it-demo-acct-{tag}", web_port=_free_port(),
                         agents="discovery,router,shard")
    first = demo.LogReader(kafka_bootstrap, start)
    second: demo.LogReader | None = None
    try:
        worker.start()
        demo.wait_ready(worker, 90)
        demo.replay_espn(kafka_bootstrap, demo.WEEK14, service=f"it-demo-{tag}")

        def priced(r: demo.LogReader) -> bool:
            return WEEK14_LIVE <= {p.event_id for p in r.of("model.probabilities", Probability)}

        assert demo.wait_for(first, priced, 90, alive=worker.alive), f"{first.counts()}\n{worker.tail()}"
        run1 = {p.event_id: p for p in first.of("model.probabilities", Probability) if p.event_id in WEEK14_LIVE}

        # the same recordings again, as a second `arbees demo` does: the worker prices nothing new
        second = demo.LogReader(kafka_bootstrap, demo.log_ends(kafka_bootstrap, demo.OUTPUTS))
        replay2 = demo.replay_espn(kafka_bootstrap, demo.WEEK14, service=f"it-demo-{tag}")
        assert replay2.states == 14
        demo.wait_for(second, lambda r: len(r.of("events.state", EventState)) >= 14, 30)
        second.poll(8.0)  # what the shard would emit for them has had time to arrive
        assert not [p for p in second.of("model.probabilities", Probability) if p.event_id in WEEK14_LIVE]

        # the report's source: every replayed live game has its latest probability on the log
        replayed = {st.event_id for st in second.of("events.state", EventState)}
        latest = demo.latest_probabilities(kafka_bootstrap, replayed)
        assert WEEK14_LIVE <= set(latest)
        assert {e: latest[e].outcomes for e in WEEK14_LIVE} == {e: run1[e].outcomes for e in WEEK14_LIVE}
    finally:
        worker.stop()
        first.close()
        if second is not None:
            second.close()
