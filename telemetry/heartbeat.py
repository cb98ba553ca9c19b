"""Heartbeats: every part says on `health`, every few seconds, that it lives and how it is doing.

A heartbeat carries the interval it promises (so a watcher knows when one is
missed), lag per partition, the newest record time it handled, its record counts,
its metrics port, and a one-line state: "running", or for a feed that cannot reach
its service "unreachable, retrying" with the last error.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from schemas.enums import HealthStatus
from schemas.records import Heartbeat
from telemetry.meter import UP, Meter

DEFAULT_INTERVAL_S = 5.0
UNREACHABLE = "unreachable, retrying"


def feed_stale_ms() -> int:
    """ARBEES_FEED_STALE_S (default 900): a feed this long without a record is stale (alerts agent)."""
    return int(float(os.environ.get("ARBEES_FEED_STALE_S", "") or 900) * 1000)


def interval_s() -> float:
    """ARBEES_HEARTBEAT_S (default 5)."""
    return float(os.environ.get("ARBEES_HEARTBEAT_S", "") or DEFAULT_INTERVAL_S)


def instance() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Reachability:
    """Whether a feed reaches its outside service: the last outcome wins."""

    reachable: bool = True
    error: str = ""
    failures: int = 0
    since_ms: int = 0

    def ok(self) -> None:
        self.reachable, self.error, self.failures = True, "", 0

    def failed(self, error: str, now_ms: int | None = None) -> None:
        if self.reachable:
            self.since_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        self.reachable, self.error = False, error[:300]
        self.failures += 1


#: The feed of this process (one feed per process under `arbees run`).
reach = Reachability()


def build(meter: Meter, *, ts: int, every_s: float, lag: Mapping[str, int] | None = None,
          reachability: Reachability | None = None, state: str = "running",
          extra: Mapping[str, str] | None = None) -> Heartbeat:
    """The heartbeat of `meter`'s part now: OK, or DEGRADED with why."""
    records_in, records_out = meter.totals()
    status = HealthStatus.OK
    error = ""
    if reachability is not None and not reachability.reachable:
        status, state, error = HealthStatus.DEGRADED, UNREACHABLE, reachability.error
    UP.labels(meter.part).set(1 if status is HealthStatus.OK else 0)
    lags = dict(lag or {})
    detail = {
        "interval_s": f"{every_s:g}",
        "state": state,
        "records_in": str(records_in),
        "records_out": str(records_out),
        "last_record_ms": str(meter.last_record_ms),
        "lag_by_partition": json.dumps(lags, sort_keys=True),
        "metrics_port": os.environ.get("ARBEES_METRICS_PORT", ""),
        "pid": str(os.getpid()),
    }
    detail.update(extra or {})
    if error:
        detail["error"] = error
    who = instance()
    return Heartbeat(heartbeat_id=f"hb:{meter.part}:{who}:{ts}", service=meter.part, instance=who, status=status,
                     ts=ts, lag=sum(lags.values()), detail=detail)


class Beater(threading.Thread):
    """Publishes `make()` every `every_s` on a daemon thread until `stop()`; for parts without an event loop of ours."""

    def __init__(self, make: Callable[[], Heartbeat], send: Callable[[Heartbeat], None], every_s: float) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self._make, self._send, self._every = make, send, every_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._send(self._make())
            except Exception:  # noqa: BLE001 - a broker hiccup must not kill the part; the next beat retries
                pass
            self._stopped.wait(self._every)

    def stop(self) -> None:
        self._stopped.set()
