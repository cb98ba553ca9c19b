"""The broker or database a benchmark runs against: the one named in the environment, or a stack of its own.

That stack is `.stack-bench/` on ports 39092/39093/55632 (ops.stack.BENCH_STACK_DEFAULTS) unless
ARBEES_STACK_DIR or a port variable names one: `make bench` and `make load` never write the
topics of the user's `make run` stack or of the test suite's. Set here, on import, so every
stack the benchmark or a process it starts reads is that one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ContextManager

from ops.stack import BENCH_STACK_DEFAULTS, isolated_env

os.environ.update(isolated_env(os.environ, BENCH_STACK_DEFAULTS))
LOGS = Path(__file__).resolve().parents[1] / ".stack-bench" / "bench-logs"


@contextmanager
def _given_or_stack(env: str, broker: bool) -> Iterator[str]:
    """The address in `env` when set; otherwise the local stack's, held for the benchmark and released after."""
    from ops import stack

    given = os.environ.get(env, "").strip()
    if given:
        yield given
        return
    config = stack.StackConfig.from_env()
    try:
        up = stack.session_up(config, with_broker=broker, with_database=not broker)
        yield up.bootstrap if broker else up.database_url
    finally:
        stack.session_release(config)


def kafka_bootstrap() -> ContextManager[str]:
    return _given_or_stack("KAFKA_BOOTSTRAP", broker=True)


def database_url() -> ContextManager[str]:
    return _given_or_stack("DATABASE_URL", broker=False)


def log_dir() -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    return LOGS
