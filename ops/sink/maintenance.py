"""TimescaleDB's policies (retention, aggregate refresh, compression) run by the stack where the extension's scheduler fails.

On PostgreSQL 15.20 every TimescaleDB background job fails (`cannot drop portal ""
while it is being set up`, TimescaleDB 2.21.4 and 2.28.3 alike), while the same job
succeeds in the foreground (`CALL run_job(id)`). The sink, which holds a database
connection anyway, therefore checks which case it is in and, where the scheduler
cannot be trusted, runs each policy job itself on the job's own schedule. Every
pass ends in a heartbeat (service `db-maintenance`, on `health`) and every failed
job in an alert, so maintenance that does not happen is seen.

Modes: "scheduler" (TimescaleDB runs its jobs; the stack only watches), "stack"
(the stack runs them), "auto": stack when the jobs are paused for the scheduler
(database setting `arbees.maintenance = 'stack'` at migration time), on a server
version known to break the scheduler, when no scheduler runs for the database,
or as soon as any policy job's background run has failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg

from schemas.enums import HealthStatus, Severity
from schemas.records import Alert, Heartbeat

SERVICE = "db-maintenance"
MODES = ("auto", "stack", "scheduler")

#: server_version_num ranges where every background job fails (measured: 15.20, TimescaleDB 2.21.4 and 2.28.3;
#: 15.18 is fine). Later 15.x minors are assumed to behave like 15.20 until measured otherwise.
BROKEN_SCHEDULER = ((150020, 160000),)

POLICY_JOBS = """
    SELECT job_id, proc_name, coalesce(hypertable_name, ''), extract(epoch FROM schedule_interval)
    FROM timescaledb_information.jobs
    WHERE proc_schema = '_timescaledb_functions' AND proc_name LIKE 'policy\\_%' AND proc_name <> 'policy_telemetry'
    ORDER BY job_id
"""
PAUSED = """
    SELECT count(*) FROM timescaledb_information.jobs
    WHERE proc_schema = '_timescaledb_functions' AND proc_name <> 'policy_telemetry' AND NOT scheduled
"""
SCHEDULER_RUNNING = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE backend_type = 'TimescaleDB Background Worker Scheduler' AND datname = current_database()"
)
FAILED_IN_BACKGROUND = """
    SELECT count(*) FROM timescaledb_information.job_stats s JOIN timescaledb_information.jobs j USING (job_id)
    WHERE j.proc_schema = '_timescaledb_functions' AND j.proc_name <> 'policy_telemetry'
      AND s.last_run_status = 'Failed'
"""


@dataclass(frozen=True)
class Job:
    job_id: int
    proc: str  # policy_retention, policy_refresh_continuous_aggregate, policy_compression, ...
    target: str  # the hypertable (for an aggregate: its materialization table)
    every_s: float

    @property
    def name(self) -> str:
        return f"{self.proc.removeprefix('policy_')} {self.target}".strip()


@dataclass(frozen=True)
class JobRun:
    job: Job
    ok: bool
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class Pass:
    """One maintenance pass: the mode it ran in, why, and the jobs it ran."""

    mode: str
    reason: str
    runs: tuple[JobRun, ...]
    ts_ms: int

    @property
    def failed(self) -> tuple[JobRun, ...]:
        return tuple(r for r in self.runs if not r.ok)

    def heartbeat(self, instance: str) -> Heartbeat:
        status = HealthStatus.DEGRADED if self.failed else HealthStatus.OK
        detail = {"mode": self.mode, "reason": self.reason, "ran": ", ".join(r.job.name for r in self.runs if r.ok),
                  "failed": ", ".join(r.job.name for r in self.failed)}
        return Heartbeat(heartbeat_id=f"{SERVICE}:{instance}@{self.ts_ms}", service=SERVICE, instance=instance,
                         status=status, ts=self.ts_ms, detail=detail)

    def alerts(self, instance: str) -> list[Alert]:
        return [
            Alert(alert_id=f"{SERVICE}:{instance}:{r.job.job_id}@{self.ts_ms}",
                  dedupe_key=f"{SERVICE}:{instance}:{r.job.job_id}", severity=Severity.ERROR, ts=self.ts_ms,
                  service=SERVICE, message=f"TimescaleDB job {r.job.job_id} ({r.job.name}) failed: {r.error}")
            for r in self.failed
        ]


def server_breaks_scheduler(version_num: int) -> bool:
    return any(low <= version_num < high for low, high in BROKEN_SCHEDULER)


def policy_jobs(conn: psycopg.Connection) -> list[Job]:
    return [Job(int(i), str(p), str(t), float(s)) for i, p, t, s in conn.execute(POLICY_JOBS).fetchall()]


def run_job(conn: psycopg.Connection, job: Job) -> JobRun:
    """`CALL run_job` on an autocommit connection (aggregate refreshes refuse a transaction block)."""
    began = time.monotonic()
    try:
        conn.execute("CALL run_job(%s)", (job.job_id,))
    except psycopg.Error as exc:
        return JobRun(job, False, time.monotonic() - began, " | ".join(str(exc).strip().splitlines())[:400])
    return JobRun(job, True, time.monotonic() - began)


@dataclass
class Maintainer:
    """Decides who runs the policies and runs the due ones; `conn` must be in autocommit mode."""

    conn: psycopg.Connection
    mode: str = "auto"
    _next_due: dict[int, float] = field(default_factory=dict)  # job id -> monotonic time

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"maintenance mode {self.mode!r}: choose one of {MODES}")

    def decide(self) -> tuple[str, str]:
        """("stack" | "scheduler", why)."""
        if self.mode != "auto":
            return self.mode, "configured"
        paused = self._count(PAUSED)
        if paused:
            return "stack", f"{paused} policy jobs are paused for TimescaleDB's scheduler (arbees.maintenance)"
        version = self._count("SHOW server_version_num")
        if server_breaks_scheduler(version):
            return "stack", f"TimescaleDB's scheduler fails on PostgreSQL {version // 10000}.{version % 100}"
        if not self._count(SCHEDULER_RUNNING):
            return "stack", "no TimescaleDB scheduler runs for this database"
        failed = self._count(FAILED_IN_BACKGROUND)
        if failed:
            return "stack", f"{failed} policy jobs failed in TimescaleDB's scheduler"
        return "scheduler", "TimescaleDB's scheduler runs the policies"

    def _count(self, sql: str) -> int:
        return int(self.conn.execute(sql).fetchone()[0])  # type: ignore[index]

    def run_pass(self, now: float | None = None) -> Pass:
        """Run every policy job that is due (each once at the first pass, then every schedule interval)."""
        now = time.monotonic() if now is None else now
        mode, reason = self.decide()
        runs: list[JobRun] = []
        if mode == "stack":
            for job in policy_jobs(self.conn):
                if now >= self._next_due.get(job.job_id, now):
                    runs.append(run_job(self.conn, job))
                    self._next_due[job.job_id] = now + job.every_s
        return Pass(mode, reason, tuple(runs), int(time.time() * 1000))
