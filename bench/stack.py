"""The broker or database a benchmark runs against: the one named in the environment, or the ops/ stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / ".stack" / "bench-logs"


@contextmanager
def kafka_bootstrap() -> Iterator[str]:
    """KAFKA_BOOTSTRAP when set; otherwise the local stack's broker, held for the benchmark and released after."""
    from ops import stack

    given = os.environ.get("KAFKA_BOOTSTRAP", "").strip()
    if given:
        yield given
        return
    config = stack.StackConfig.from_env()
    try:
        yield stack.session_up(config, with_broker=True, with_database=False).bootstrap
    finally:
        stack.session_release(config)


@contextmanager
def database_url() -> Iterator[str]:
    """DATABASE_URL when set; otherwise the local stack's PostgreSQL, held for the benchmark and released after."""
    from ops import stack

    given = os.environ.get("DATABASE_URL", "").strip()
    if given:
        yield given
        return
    config = stack.StackConfig.from_env()
    try:
        yield stack.session_up(config, with_broker=False, with_database=True).database_url
    finally:
        stack.session_release(config)


def log_dir() -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    return LOGS
