"""Who runs TimescaleDB's policies, and what a maintenance pass reports (no database: decisions and records only)."""

from __future__ import annotations

import pytest

from ops.sink.maintenance import Job, JobRun, Maintainer, Pass, server_breaks_scheduler
from schemas.enums import HealthStatus, Severity


def test_the_measured_server_versions_decide_the_mode() -> None:
    assert server_breaks_scheduler(150020)  # measured: every background job fails
    assert not server_breaks_scheduler(150018)  # measured: the scheduler works
    assert not server_breaks_scheduler(160004)  # not measured: decided by the jobs' own failures instead


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        Maintainer(conn=None, mode="sometimes")  # type: ignore[arg-type]


RETENTION = Job(1003, "policy_retention", "quotes", 86_400.0)
COMPRESSION = Job(1008, "policy_compression", "quotes", 43_200.0)


def test_a_clean_pass_is_an_ok_heartbeat_and_no_alert() -> None:
    done = Pass("stack", "configured", (JobRun(RETENTION, True, 0.1), JobRun(COMPRESSION, True, 2.0)), 1_700_000_000_000)
    beat = done.heartbeat("arbees")
    assert (beat.service, beat.instance, beat.status, beat.ts) == ("db-maintenance", "arbees", HealthStatus.OK,
                                                                   1_700_000_000_000)
    assert beat.detail == {"mode": "stack", "reason": "configured", "ran": "retention quotes, compression quotes",
                           "failed": ""}
    assert done.alerts("arbees") == []


def test_a_failed_job_degrades_the_heartbeat_and_is_one_alert_naming_it() -> None:
    done = Pass("stack", "configured", (JobRun(RETENTION, True, 0.1), JobRun(COMPRESSION, False, 0.3, "lock timeout")),
                1_700_000_000_000)
    assert done.heartbeat("arbees").status is HealthStatus.DEGRADED
    [alert] = done.alerts("arbees")
    assert alert.severity is Severity.ERROR and alert.dedupe_key == "db-maintenance:arbees:1008"
    assert alert.message == "TimescaleDB job 1008 (compression quotes) failed: lock timeout"
    assert alert.alert_id == "db-maintenance:arbees:1008@1700000000000"  # same pass, same id: a replay dedupes
