"""The supervisor's crash report never takes the supervisor down with it.

Found by the chaos run: a part killed while the broker restarted made the report's
flush raise `KafkaException: 1 messages still undelivered after 10s` out of
`Supervisor.poll`, and `arbees run` exited, stopping every part. The report now
waits at most a second and leaves the heartbeat queued for when the broker answers.
"""

from __future__ import annotations

import sys
import time

from ops.run.main import _crash_reporter
from ops.run.parts import Kind, Part, free_port
from ops.run.supervisor import PartRun


def test_a_crash_reported_while_the_broker_is_down_neither_raises_nor_stalls_the_supervisor() -> None:
    # nothing listens there: the broker is down (the client quiet and its queue dropped after the test: it logged every
    # refused connection for the rest of the suite)
    report = _crash_reporter(f"127.0.0.1:{free_port()}", log_level=0, **{"message.timeout.ms": 3_000})
    run = PartRun(Part("shard", Kind.AGENTS, (sys.executable, "-c", "pass")))
    began = time.monotonic()
    report(run, "shard killed by signal 9; restarting in 1.0s (restart 1)")
    report(run, "shard killed by signal 9; restarting in 2.0s (restart 2)")
    assert time.monotonic() - began < 5.0
