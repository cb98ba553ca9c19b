"""The chaos driver's bookkeeping, on a hand-written `status.json` (made-up supervisor states, no stack):
a kill owed to a named part waits for it, an unrecovered fault names the parts it waits on, and the
report carries their logs without the reconnect storm's repeats."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from ops.chaos.driver import ChaosRun, Ports, log_tail
from ops.chaos.faults import KILLABLE, ChaosPlan, Fault, FaultKind, Recovery

PORTS = Ports(1, 2, 3, 4, 5, 6)


def _run(tmp_path: Path, parts: dict[str, dict[str, object]]) -> ChaosRun:
    run = ChaosRun(ChaosPlan(kills=len(KILLABLE)), tmp_path / "chaos", ports=PORTS, say=lambda m: None)
    (run.state_dir / "run").mkdir(parents=True)
    (run.state_dir / "run" / "status.json").write_text(json.dumps({"parts": [{"name": n, **p} for n, p in parts.items()]}))
    return run


def test_a_kill_named_for_a_restarting_part_waits_for_it_and_hits_no_other(tmp_path: Path) -> None:
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        run = _run(tmp_path, {"targets": {"state": "restarting", "pid": None},
                              "router": {"state": "running", "pid": victim.pid}})
        assert run._kill(Fault(4.0, FaultKind.KILL, "targets")) is False
        assert victim.poll() is None and run.tally.kills == 0 and run.tally.skipped
        assert run._kill(Fault(6.0, FaultKind.KILL)) is True  # an unnamed kill takes whichever part runs
        assert victim.wait(5) == -9 and [r.target for r in run.tally.recoveries] == ["router"]
    finally:
        if victim.poll() is None:
            victim.kill()


def test_an_outage_is_recovered_only_when_every_part_beats_and_names_the_ones_it_waits_on(tmp_path: Path) -> None:
    run = _run(tmp_path, {"router": {"state": "running", "heartbeat_age_s": 0.4},
                          "targets": {"state": "restarting", "heartbeat_age_s": 95.0, "restarts": 4},
                          "replay": {"state": "done"}, "board": {"state": "running"}})
    outage = Recovery(FaultKind.BROKER_RESTART, "broker", started=time.monotonic() - 20, ended=time.monotonic() - 10)
    run.tally.recoveries.append(outage)
    run._note_recoveries()
    assert outage.recovered is None and outage.waiting_on == ("targets",)
    status = json.loads((run.state_dir / "run" / "status.json").read_text())
    status["parts"][1] = {"name": "targets", "state": "running", "heartbeat_age_s": 0.5}
    (run.state_dir / "run" / "status.json").write_text(json.dumps(status))
    run._note_recoveries()
    assert outage.recovered is not None and outage.waiting_on == ()


def test_a_log_tail_keeps_each_line_once_at_its_last_place(tmp_path: Path) -> None:
    log = tmp_path / "targets.log"
    storm = [f"[2026-12-07 01:44:26,{i:03d}] [22954] [ERROR] Unable connect to node with id 1" for i in range(500)]
    log.write_text("\n".join(["[t] [1] [INFO] starting", *storm, "[t] [1] [INFO] Discovered coordinator 1"]) + "\n")
    assert log_tail(log) == ("[INFO] starting", "[ERROR] Unable connect to node with id 1", "[INFO] Discovered coordinator 1")
    assert log_tail(tmp_path / "absent.log") == ("(no log)",)
