"""`make chaos`: the recorded session through `arbees run` on a stack of its own, while faults hit it.

The driver works on the process level only: it starts `arbees run --replay` (the
supervisor and its parts, ops/run) against a broker and database it owns
(ops.stack, a state folder and ports of its own), every part reaching the broker
through a delaying proxy (ops/chaos/proxy.py), and then, on a seeded schedule
(ops/chaos/faults.py), SIGKILLs parts by the pids the supervisor publishes in
`status.json`, stops and kills the broker, and stops the database for a while.
Once the faults are over and the session played out, it waits for every
consumer group and the sink to catch up, stops the run, lets the sink finish
the tail, and checks the invariants (ops/chaos/invariants.py) on what the
topics and the database hold.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ops.chaos import invariants as inv
from ops.chaos.faults import KILLABLE, REPLAY, ChaosPlan, Fault, FaultKind, Recovery, Tally, schedule
from ops.chaos.proxy import DelayingProxy

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "chaos"
OWED_TRIES = 10  # a named kill deferred this often goes to whichever part runs (the part never came back: a finding)
HEALTH_SLACK = 50  # heartbeats keep arriving every second: a group reading `health` is never exactly at its end


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class Ports:
    kafka: int
    controller: int
    postgres: int
    proxied: int  # the broker's second listener, behind the proxy
    proxy: int  # what every part bootstraps from
    board: int

    @classmethod
    def pick(cls, environ: dict[str, str] | None = None) -> Ports:
        """ARBEES_KAFKA_PORT / _CONTROLLER_PORT / ARBEES_PG_PORT when given, free loopback ports otherwise."""
        env = os.environ if environ is None else environ
        spare = free_ports(6)
        given = [int(env[k]) if env.get(k, "").strip() else spare[i]
                 for i, k in enumerate(("ARBEES_KAFKA_PORT", "ARBEES_KAFKA_CONTROLLER_PORT", "ARBEES_PG_PORT"))]
        return cls(*given, spare[3], spare[4], spare[5])


@dataclass
class ChaosResult:
    plan: ChaosPlan
    tally: Tally
    findings: list[inv.Finding]
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    recovery_wait_s: float = 0.0
    log_tails: dict[str, tuple[str, ...]] = field(default_factory=dict)  # parts that did not recover or were never hit

    @property
    def lost(self) -> int:
        return sum(f.count for f in self.findings if f.kind == "lost")

    @property
    def duplicated(self) -> int:
        return sum(f.count for f in self.findings if f.kind == "duplicated")

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def recovery_p99(self) -> float | None:
        import numpy as np

        times = [r.seconds for r in self.tally.recoveries if r.seconds is not None]
        return round(float(np.percentile(times, 99)), 2) if times else None

    def figures(self) -> dict[str, Any]:
        return {
            "chaos.kills": self.tally.kills,
            "chaos.broker_restarts": self.tally.broker_restarts,
            "chaos.lost": self.lost,
            "chaos.duplicated": self.duplicated,
            "chaos.recovery_s_p99": self.recovery_p99(),
            "chaos.db_outage_s": round(self.tally.db_outage_s, 1),
            "chaos.latency_ms": self.plan.latency_ms,
            "chaos.invariants_broken": sum(1 for f in self.findings if not f.ok),
            "chaos.orders": self.counts.get("orders", 0),
            "chaos.seconds": round(self.seconds),
        }

    def report(self) -> str:
        lines = [f"chaos: {self.tally.kills} kills, {self.tally.broker_restarts} broker restarts, "
                 f"database down {self.tally.db_outage_s:.0f}s, {self.plan.latency_ms:g}±{self.plan.jitter_ms:g} ms "
                 f"on every broker connection, {self.seconds:.0f}s; recovery p99 {self.recovery_p99()}s; "
                 f"caught up {self.recovery_wait_s:.0f}s after the last fault"]
        by_kind: dict[str, list[float]] = {}
        for r in self.tally.recoveries:
            by_kind.setdefault(f"{r.kind.value}", []).append(r.seconds if r.seconds is not None else float("nan"))
        lines += [f"  {k}: n={len(v)}, max {max(v):.1f}s" for k, v in sorted(by_kind.items())]
        if self.tally.skipped:
            lines.append(f"  skipped: {', '.join(self.tally.skipped)}")
        lines.append(f"  records: {', '.join(f'{k} {v}' for k, v in sorted(self.counts.items()))}")
        lines += [f"  {f.line()}" for f in self.findings]
        lines.append(f"chaos: lost {self.lost}, duplicated {self.duplicated}: {'PASS' if self.ok else 'FAIL'}")
        for name, tail in sorted(self.log_tails.items()):
            lines += [f"--- {name}'s log, last distinct lines:", *(f"    {x}" for x in tail)]
        return "\n".join(lines)


def _describe(name: str, part: dict[str, Any]) -> str:
    age = part.get("heartbeat_age_s")
    return (f"{name} ({part.get('state', 'absent')}, restarts {part.get('restarts', 0)}, "
            f"heartbeat {'never' if age is None else f'{age:.0f}s ago'}, health {part.get('health', '')!r}, "
            f"last error {part.get('last_error', '')!r})")


def log_tail(path: Path, lines: int = 40) -> tuple[str, ...]:
    """A part's last distinct log lines (a reconnect storm repeats one line thousands of times), timestamps cut."""
    from ops.kafka.process import tail

    if not path.exists():
        return ("(no log)",)
    seen: dict[str, None] = {}
    for line in tail(path, 3000):
        seen.pop(key := re.sub(r"^\[[^]]*\] \[\d+\] ", "", line.rstrip())[:300], None)
        seen[key] = None
    return tuple(seen)[-lines:]


def truncated_session(name: str, payloads: int, into: Path) -> Path:
    """The first `payloads` payloads of a recorded session as a session folder of their own (a shorter run)."""
    from ops.run.replay import session_dir

    src = session_dir(name)
    out = into / f"{src.name}-first-{payloads}"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out)
    with (src / "feed.ndjson").open() as feed:
        lines = [line for _, line in zip(range(payloads), feed)]
    (out / "feed.ndjson").write_text("".join(lines))
    return out


class ChaosRun:
    """One chaos run: `run()` returns the result; the stack and the state folder are removed unless `keep`."""

    def __init__(self, plan: ChaosPlan, state_dir: Path, *, ports: Ports | None = None, payloads: int = 0,
                 keep: bool = False, say: Callable[[str], None] = lambda m: print(m, flush=True)) -> None:
        from ops.kafka.broker import BrokerConfig
        from ops.postgres import cluster
        from ops.postgres.cluster import PostgresConfig
        from ops.stack import StackConfig

        self.plan = plan
        self.state_dir = state_dir.resolve()
        self.ports = ports or Ports.pick()
        self.payloads = payloads
        self.keep = keep
        self.say = say
        self.prefix = f"chaos-{plan.seed}"
        self.config = StackConfig(
            state_dir=self.state_dir,
            broker=BrokerConfig(state_dir=self.state_dir / "kafka", port=self.ports.kafka,
                                controller_port=self.ports.controller, proxied=(self.ports.proxied, self.ports.proxy)),
            postgres=PostgresConfig(state_dir=cluster.reachable_state_dir(self.state_dir / "postgres"), port=self.ports.postgres),
        )
        self.direct = self.config.broker.bootstrap
        self.database_url = self.config.postgres.url
        self.tally = Tally()
        self.rng = random.Random(plan.seed)
        self.proc: subprocess.Popen[bytes] | None = None
        self._db_thread: threading.Thread | None = None
        self._killed: set[int] = set()
        self._owed: dict[str, int] = {}  # kills of a named part deferred (it was restarting), by part
        self.log_tails: dict[str, tuple[str, ...]] = {}

    # ------------------------------------------------------------------ the process set

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP", "DATABASE_URL", "FRED_API_KEY")}
        env.update({
            "KAFKA_BOOTSTRAP": f"127.0.0.1:{self.ports.proxy}", "DATABASE_URL": self.database_url,
            "ARBEES_STACK_DIR": str(self.state_dir), "ARBEES_KAFKA_PORT": str(self.ports.kafka),
            "ARBEES_KAFKA_CONTROLLER_PORT": str(self.ports.controller), "ARBEES_PG_PORT": str(self.ports.postgres),
            "ARBEES_APP_ID": self.prefix, "ARBEES_ACCOUNTS": ACCOUNT, "ARBEES_HEARTBEAT_S": "1",
            "ARBEES_SCREEN_EVERY_S": "30", "ARBEES_REPLAY_SETTLE_S": "0", "ARBEES_BOARD_PORT": str(self.ports.board),
            # the replayed session is months old by event time: a restarted sink's first retention pass (plain
            # PostgreSQL) deleted its rows, and the check that every topic record is a row found them lost
            "ARBEES_SINK_RETENTION_EVERY_S": "0",
            # a killed worker's partitions go to its restart at once (static membership), not after its session
            "CONSUMER_GROUP_INSTANCE_ID": f"{self.prefix}-0", "ARBEES_GROUP_INSTANCE_ID": f"{self.prefix}-0",
            "BROKER_SESSION_TIMEOUT": "10",
            "BROKER_HEARTBEAT_INTERVAL": "1",
        })
        return env

    def status(self) -> dict[str, Any]:
        try:
            return json.loads((self.state_dir / "run" / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def parts(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.status().get("parts", [])}

    def _alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = (self.state_dir / "screen.txt").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"arbees run exited with {self.proc.returncode}:\n{tail}")

    def _wait(self, what: str, done: Callable[[], bool], timeout_s: float) -> float:
        began = time.monotonic()
        while time.monotonic() - began < timeout_s:
            self._alive()
            self._note_recoveries()
            if done():
                return time.monotonic() - began
            time.sleep(0.5)
        raise TimeoutError(f"{what}: not within {timeout_s:.0f}s; parts {json.dumps(self.parts())[:2000]}")

    # ------------------------------------------------------------------ run

    def run(self) -> ChaosResult:
        from ops import stack

        began = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        session = str(truncated_session(self.plan.session, self.payloads, self.state_dir)) if self.payloads else self.plan.session
        self.say(f"chaos: stack in {self.state_dir} (kafka {self.ports.kafka}, proxy {self.ports.proxy}, "
                 f"postgres {self.ports.postgres}); session {Path(session).name}")
        stack.up(self.config)
        proxy = DelayingProxy(self.ports.proxy, self.ports.proxied, self.plan.latency_ms / 1000,
                              self.plan.jitter_ms / 1000, seed=self.plan.seed).start()
        try:
            screen = (self.state_dir / "screen.txt").open("wb")
            self.proc = subprocess.Popen([sys.executable, "-m", "ops.cli", "run", "--replay", session], cwd=REPO,
                                         env=self.env(), stdout=screen, stderr=subprocess.STDOUT, start_new_session=True)
            self._wait("every part running and records flowing", self._flowing, 300)
            self.say("chaos: flowing; faults start")
            self._faults()
            recovery_wait = self._recover()
            self._stop_run()
            self._final_sink_pass()
            findings, counts = self._check()
            findings += self._stuck_findings
        finally:
            self._stop_run()
            if self._db_thread is not None:
                self._db_thread.join(120)
            proxy.stop()
            if not self.keep:
                stack.down(self.config)
                shutil.rmtree(self.config.postgres.state_dir, ignore_errors=True)
                shutil.rmtree(self.state_dir, ignore_errors=True)
        return ChaosResult(self.plan, self.tally, findings, time.monotonic() - began, counts, recovery_wait,
                           self.log_tails)

    def _flowing(self) -> bool:
        p = self.parts()
        return (bool(p) and all(x["state"] == "running" for n, x in p.items() if n != "board")
                and all(p.get(n, {}).get("records_in", 0) > 0 for n in ("router", "shard", "trading", "sink")))

    # ------------------------------------------------------------------ faults

    def _faults(self) -> None:
        plan = schedule(self.plan, self.rng)
        t0 = time.monotonic()
        while plan:
            fault = plan.pop(0)
            while time.monotonic() < t0 + fault.at_s:
                self._alive()
                self._note_recoveries()
                time.sleep(0.1)
            if not self._fire(fault) and fault.kind is FaultKind.KILL:
                # its part (or every part) was waiting out a restart backoff: the kill is owed, to the same part when
                # it named one (the first round hits every part), a gap later
                at = max(time.monotonic() - t0, fault.at_s) + self.rng.uniform(*self.plan.kill_gap_s)
                tries = self._owed.get(fault.target, 0) + 1
                self._owed[fault.target] = tries
                target = fault.target if tries <= OWED_TRIES else ""
                plan = sorted([*plan, Fault(round(at, 3), FaultKind.KILL, target)], key=lambda f: f.at_s)
        if self._db_thread is not None:
            self._db_thread.join(self.plan.db_outage_s + 180)

    def _fire(self, fault: Fault) -> bool:
        """Inject one fault; False when a kill found no running part to hit."""
        if fault.kind in (FaultKind.KILL, FaultKind.KILL_REPLAY):
            return self._kill(fault)
        if fault.kind in (FaultKind.BROKER_RESTART, FaultKind.BROKER_KILL):
            self._restart_broker(hard=fault.kind is FaultKind.BROKER_KILL)
        elif fault.kind is FaultKind.DB_OUTAGE:
            self._db_thread = threading.Thread(target=self._db_outage, name="db-outage", daemon=True)
            self._db_thread.start()
        return True

    def _kill(self, fault: Fault) -> bool:
        from ops.kafka.process import pid_alive

        parts = self.parts()
        pool = (REPLAY,) if fault.kind is FaultKind.KILL_REPLAY else KILLABLE
        # status.json can lag the supervisor (its loop waits on the broker while that is down): a pid already
        # killed, or no longer alive, is not a target
        running = [n for n in pool if parts.get(n, {}).get("state") == "running" and parts[n].get("pid")
                   and int(parts[n]["pid"]) not in self._killed and pid_alive(int(parts[n]["pid"]))]
        target = fault.target if fault.target in running else (self.rng.choice(running) if running and not fault.target else "")
        if not target or fault.kind is FaultKind.KILL_REPLAY and target != REPLAY:
            self.tally.skipped.append(f"{fault.kind.value}@{fault.at_s:.0f}s (no running {fault.target or 'part'})")
            self.say(f"chaos: t+{fault.at_s:5.1f}s {fault.kind.value}: no running {fault.target or 'part'} to kill")
            return False
        pid = int(parts[target]["pid"])
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            self.tally.skipped.append(f"{target}@{fault.at_s:.0f}s (pid {pid} gone)")
            return False
        now = time.monotonic()
        self._killed.add(pid)
        self.tally.kills += 1
        self.tally.recoveries.append(Recovery(fault.kind, target, now, now, detail=str(pid)))
        self.say(f"chaos: t+{fault.at_s:5.1f}s SIGKILL {target} (pid {pid}); kill {self.tally.kills}")
        return True

    def _restart_broker(self, hard: bool) -> None:
        from ops.kafka import broker
        from ops.kafka.process import pid_alive

        rec = Recovery(FaultKind.BROKER_KILL if hard else FaultKind.BROKER_RESTART, "broker", time.monotonic())
        pid = broker.running_pid(self.config.broker)
        if hard and pid is not None:
            os.kill(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.1)
        else:
            broker.stop(self.config.broker)
        down = time.monotonic()
        broker.start(self.config.broker)
        rec.ended = time.monotonic()
        self.tally.broker_restarts += 1
        self.tally.recoveries.append(rec)
        self.say(f"chaos: broker {'SIGKILLed' if hard else 'stopped'} (pid {pid}) and started again: "
                 f"down {rec.ended - down:.1f}s")

    def _db_outage(self) -> None:
        from ops.postgres import cluster

        rec = Recovery(FaultKind.DB_OUTAGE, "postgres", time.monotonic())
        cluster.stop(self.config.postgres)
        stopped = time.monotonic()
        self.say(f"chaos: database stopped for {self.plan.db_outage_s:.0f}s")
        time.sleep(self.plan.db_outage_s)
        cluster.start(self.config.postgres)
        rec.ended = time.monotonic()
        self.tally.db_outages += 1
        self.tally.db_outage_s += rec.ended - stopped
        self.tally.recoveries.append(rec)
        self.say(f"chaos: database back after {rec.ended - stopped:.1f}s")

    def _note_recoveries(self) -> None:
        """A killed part is recovered when it runs again (new pid) and beats; after a broker or database
        outage, when every running part beats again."""
        pending = [r for r in self.tally.recoveries if r.recovered is None and r.ended]
        if not pending:
            return
        parts = self.parts()
        now = time.monotonic()

        def fresh(p: dict[str, Any], since: float) -> bool:
            age = p.get("heartbeat_age_s")
            return p.get("state") == "running" and age is not None and age < min(3.0, now - since)

        for r in pending:
            if r.kind in (FaultKind.KILL, FaultKind.KILL_REPLAY):
                p = parts.get(r.target, {})
                whole = p.get("state") == "done" or (str(p.get("pid")) != r.detail and fresh(p, r.ended))
                r.waiting_on = () if whole else (r.target,)
            else:
                r.waiting_on = tuple(n for n, p in parts.items()
                                     if p.get("state") != "done" and n != "board" and not fresh(p, r.ended))
                whole = not r.waiting_on
            if whole:
                r.recovered = now

    # ------------------------------------------------------------------ after the faults

    def groups(self) -> list[str]:
        from ops.run.parts import AGENT_GROUPS

        return [f"{self.prefix}-{g}" for g in AGENT_GROUPS]

    def lagging(self) -> list[inv.Lag]:
        lags = inv.group_lags(self.direct, self.groups()) + inv.sink_lags(self.direct, self.database_url, f"{self.prefix}-sink")
        return [x for x in lags if x.lag > (HEALTH_SLACK if x.topic == "health" else 0)]

    def _recover(self) -> float:
        """Wait for the session to play out, every fault to be recovered from, and every group and the sink
        to reach the end of what they read; what is still behind after the timeout is a finding."""
        began = time.monotonic()
        self._stuck_findings: list[inv.Finding] = []
        deadline = began + self.plan.replay_timeout_s
        while time.monotonic() < deadline:
            self._alive()
            self._note_recoveries()
            if self.parts().get(REPLAY, {}).get("state") == "done":
                break
            time.sleep(1.0)
        self.say(f"chaos: session played out {time.monotonic() - began:.0f}s after the last fault")
        began = time.monotonic()
        deadline = began + self.plan.recovery_timeout_s
        behind: list[inv.Lag] = []
        leaderless: list[str] = []
        while time.monotonic() < deadline:
            self._alive()
            self._note_recoveries()
            try:
                behind, leaderless = self.lagging(), inv.leaderless(self.direct)
            except Exception as exc:  # noqa: BLE001 - a broker still electing: ask again
                behind, leaderless = [inv.Lag("?", str(exc)[:80], -1, 0, 1)], []
            unrecovered = [r for r in self.tally.recoveries if r.recovered is None]
            if not behind and not leaderless and not unrecovered:
                break
            time.sleep(2.0)
        waited = time.monotonic() - began
        lag = inv.Finding("no consumer group lagging after recovery", "broken", checked=len(self.groups()) + 1)
        for x in behind:
            lag.add(f"{x.group} {x.topic}[{x.partition}] {x.lag} behind")
        stuck = inv.Finding("no partition stuck (every partition led, every fault recovered from)", "broken",
                            checked=len(self.tally.recoveries))
        for name in leaderless:
            stuck.add(f"{name} has no leader")
        parts = self.parts()
        for r in self.tally.recoveries:
            if r.recovered is None:
                stuck.add(f"{r.kind.value} {r.target}: not recovered, waiting on "
                          + "; ".join(_describe(n, parts.get(n, {})) for n in r.waiting_on))
        replay = self.parts().get(REPLAY, {}).get("state")
        if replay != "done":
            stuck.add(f"the replay did not finish (state {replay})")
        self._stuck_findings = [lag, stuck]
        never_hit = set(KILLABLE) - {r.target for r in self.tally.recoveries if r.kind is FaultKind.KILL}
        for name in sorted({n for r in self.tally.recoveries if r.recovered is None for n in r.waiting_on} | never_hit):
            self.log_tails[name] = log_tail(self.state_dir / "run" / "logs" / f"{name}.log")
        self.say(f"chaos: recovered and caught up after {waited:.0f}s" if lag.ok and stuck.ok
                 else f"chaos: NOT recovered after {waited:.0f}s: {lag.examples + stuck.examples}")
        return waited

    def _stop_run(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def _final_sink_pass(self) -> None:
        """The sink part stopped with the run; what was written after it (the last heartbeats) goes in now,
        by the same sink from its stored offsets, so the database can equal the topics exactly."""
        subprocess.run([sys.executable, "-m", "ops.sink", "--bootstrap", self.direct, "--database-url",
                        self.database_url, "--consumer", f"{self.prefix}-sink", "--until-caught-up", "--retention-every", "0"],
                       cwd=REPO, env=self.env(), check=True, timeout=300, capture_output=True)

    def _check(self) -> tuple[list[inv.Finding], dict[str, int]]:
        from ops.sink.runner import SINK_TOPICS

        inbox = f"{self.prefix}-trading-trading-inbox"
        seen = inv.read_topics(self.direct, sorted(set(SINK_TOPICS) | {inbox}))
        findings = inv.check_trading(seen, inbox, ACCOUNT)
        findings += inv.check_sink({t: s for t, s in seen.items() if t != inbox}, inv.read_table_keys(self.database_url))
        counts = {t: len(s) for t, s in seen.items() if s and t in ("signals", "orders", "fills", "positions", "ledger")}
        return findings, counts


def write_results(path: Path, figures: dict[str, Any]) -> None:
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update(figures)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def plan_from(args: Any) -> ChaosPlan:
    return replace(ChaosPlan(), kills=args.kills, broker_restarts=args.broker_restarts, db_outage_s=args.db_outage_s,
                   latency_ms=args.latency_ms, seed=args.seed, replay_kills=args.replay_kills)
