"""`arbees run` on the real broker and database: offline feeds, one copy only, status, stop leaves nothing.

The run gets a state folder of its own (its lock, logs and status.json) and the
session's broker and database through KAFKA_BOOTSTRAP / DATABASE_URL, and its
own consumer groups (ARBEES_APP_ID), so it disturbs no other test.
"""

from __future__ import annotations

import json
import shutil
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.kafka.process import pid_alive
from ops.run.parts import free_port
from ops.postgres import cluster
from tests.integration.listener import Listener

REPO = Path(__file__).resolve().parents[2]
FEEDS = ("espn", "kalshi", "polymarket", "coingecko", "polls")  # FRED needs FRED_API_KEY: left out, and the screen says so
OTHERS = ("sink", "discovery", "targets", "router", "shard", "trading", "alerts", "board")


def arbees(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_env(kafka_bootstrap: str, database_url: str, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FRED_API_KEY"}
    return {**env, "KAFKA_BOOTSTRAP": kafka_bootstrap, "DATABASE_URL": database_url,
            "ARBEES_STACK_DIR": str(state_dir), "ARBEES_APP_ID": f"run-{uuid.uuid4().hex[:8]}",
            "ARBEES_HEARTBEAT_S": "1", "ARBEES_SCREEN_EVERY_S": "2", "ARBEES_BOARD_PORT": str(free_port())}


class Running:
    """One `arbees run` in the background, its screen in a file."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str], state_dir: Path) -> None:
        self.state_dir = state_dir
        self.screen = state_dir / "screen.txt"
        with self.screen.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ops.cli", "run", *args], cwd=REPO, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def status(self) -> dict:
        try:
            return json.loads((self.state_dir / "run" / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_for(self, what: str, done: Callable[[dict], bool], timeout: float = 150.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"arbees run exited:\n{self.screen.read_text()[-3000:]}"
            snap = self.status()
            if snap and done(snap):
                return snap
            time.sleep(0.5)
        pytest.fail(f"{what} not reached in {timeout:.0f}s; last status {json.dumps(self.status())[:3000]}\n"
                    f"screen tail:\n{self.screen.read_text()[-3000:]}")

    def pids(self) -> list[int]:
        return [p["pid"] for p in self.status().get("parts", []) if p.get("pid")]

    def interrupt(self, timeout: float = 90.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)


def parts(snap: dict) -> dict[str, dict]:
    return {p["name"]: p for p in snap.get("parts", [])}


def _procs() -> dict[int, tuple[int, int]]:
    """Every live (not zombie) process: pid -> (parent pid, session id), from /proc."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in ("Z", "X"):
            out[int(d.name)] = (int(fields[1]), int(fields[3]))
    return out


def _family(root: int) -> set[int]:
    """`root`, every process below it, and every process in a session a part of it leads (each part runs in a
    session of its own, so a grandchild that was re-parented to init is still found by its session)."""
    procs = _procs()
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo += [p for p, (ppid, _) in procs.items() if ppid == pid]
    sessions = {sid for p, (_, sid) in procs.items() if p in found} - {procs.get(root, (0, 0))[1]}
    return found | {p for p, (_, sid) in procs.items() if sid in sessions}


def _orphans(family: set[int], sessions: set[int]) -> list[str]:
    """What is still alive of `family`, or of the part sessions `sessions`, with its command line."""
    from ops.kafka.process import cmdline

    alive = {p for p, (_, sid) in _procs().items() if p in family or sid in sessions}
    return [f"{p}: {' '.join(cmdline(p))[:160]}" for p in sorted(alive)]


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


class DeadNet:
    """The outside world, unreachable for certain: every feed's HTTP and websocket traffic goes through this
    "proxy" (HTTPS_PROXY and friends; the broker, the database and the board are on 127.0.0.1, which NO_PROXY
    keeps direct), which takes each connection and closes it at once, counting it. So the offline test does not
    depend on whether the machine running it has a network, and a feed that spins shows as a flood."""

    def __init__(self) -> None:
        self.server = Listener(hold=False)
        self.port = self.server.port

    @property
    def attempts(self) -> int:
        return self.server.accepted

    def env(self) -> dict[str, str]:
        url = f"http://127.0.0.1:{self.port}"
        proxies = {k: url for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")}
        return {**proxies, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def close(self) -> None:
        self.server.close()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of `pid` so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.timeout(900)
def test_offline_feeds_retry_everything_else_runs_one_copy_and_stack_down_stops_all(
    kafka_bootstrap: str, database_url: str, run_dir: Path
) -> None:
    net = DeadNet()
    env = {**run_env(kafka_bootstrap, database_url, run_dir), **net.env()}
    run = Running((), env, run_dir)
    try:
        def steady(snap: dict) -> bool:
            p = parts(snap)
            return (all(p.get(f, {}).get("health") == "unreachable, retrying" for f in FEEDS)
                    and all(p.get(o, {}).get("health") == "running" for o in OTHERS))

        snap = run.wait_for("every feed unreachable and every other part healthy", steady)
        for name, p in parts(snap).items():
            assert p["state"] == "running" and p["restarts"] == 0, p
        assert any("arbees run --replay" in n for n in snap["notes"])
        assert "fred not started: set FRED_API_KEY to run it" in snap["notes"]
        pids = run.pids()
        assert len(pids) == len(FEEDS) + len(OTHERS)
        # steady means steady: nobody crashes or restarts, and no feed spins (CPU, or attempts past its backoff)
        feeds = {f: parts(snap)[f]["pid"] for f in FEEDS}
        cpu, attempts, t0 = {f: cpu_seconds(pid) for f, pid in feeds.items()}, net.attempts, time.monotonic()
        time.sleep(20)
        busy = {f: (cpu_seconds(pid) - cpu[f]) / (time.monotonic() - t0) for f, pid in feeds.items()}
        tried = net.attempts - attempts
        print(f"\noffline for {time.monotonic() - t0:.0f} s: {tried} connection attempts in all, CPU {busy}")
        assert attempts > 0 and tried > 0, "the feeds never tried the outside world"  # they keep retrying
        assert tried < 20 * len(FEEDS), tried  # under one a second per feed (a loop without backoff: thousands)
        assert all(share < 0.1 for share in busy.values()), busy  # under 10% of a core each
        later = parts(run.status())
        assert all(p["restarts"] == 0 and p["state"] == "running" for p in later.values()), later

        screen = run.screen.read_text()
        assert "unreachable, retrying" in screen and "arbees run --replay" in screen

        status = arbees("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        for name in (*FEEDS, *OTHERS):
            assert name in status.stdout
        assert "unreachable, retrying" in status.stdout

        second = arbees("run", env=env)
        assert second.returncode == 1
        assert f"already running here (pid {run.proc.pid})" in second.stdout

        # a connector killed hard is restarted, and its death is delivered as an alert
        kalshi = parts(run.status())["kalshi"]["pid"]
        os.kill(kalshi, signal.SIGKILL)
        snap = run.wait_for("the killed connector restarted and beating again", lambda s: (
            parts(s)["kalshi"]["restarts"] == 1 and parts(s)["kalshi"]["state"] == "running"
            and parts(s)["kalshi"]["pid"] not in (None, kalshi)
            and parts(s)["kalshi"]["health"] == "unreachable, retrying"
            and (parts(s)["kalshi"]["heartbeat_age_s"] or 99) < 3), timeout=120)
        assert parts(snap)["kalshi"]["last_error"] == "killed by signal 9"
        _alerted(run_dir, "kalshi")

        family = _family(run.proc.pid)
        sessions = set(run.pids())
        assert sessions <= family and len(family) > len(sessions), (sessions, family)
        down = arbees("stack", "down", env=env, timeout=150)
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"arbees run stopped (pid {run.proc.pid})" in down.stdout
        assert run.proc.wait(30) == 0
        for pid in pids:
            assert not pid_alive(pid), f"part pid {pid} outlived `arbees stack down`"
        left = _orphans(family, sessions)
        assert not left, f"`arbees stack down` left processes of the run: {left}"
        assert arbees("status", env=env).returncode == 1
    finally:
        if run.proc.poll() is None:
            run.interrupt()
        net.close()


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _read(bootstrap: str, topic: str, with_offsets: bool = False) -> list:
    """Every record of `topic` (with (partition, offset) when asked)."""
    from confluent_kafka import Consumer, TopicPartition

    from schemas.codec import default_codec

    codec = default_codec()
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"it-{uuid.uuid4().hex}", "enable.auto.commit": False,
                  "log_level": 0})
    try:
        md = c.list_topics(topic, timeout=15).topics[topic]
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions}
        c.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        out, done = [], {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + 60
        while len(done) < len(ends) and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            record = codec.decode(msg.value())
            out.append((record, msg.partition(), msg.offset()) if with_offsets else record)
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        return out
    finally:
        c.close()


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of `topic` (0 where none)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        parts_ = c.list_topics(topic, timeout=15).topics[topic].partitions
        got = c.committed([TopicPartition(topic, p) for p in parts_], timeout=15)
        return {tp.partition: max(tp.offset, 0) for tp in got}
    finally:
        c.close()


SESSION = "nba-2026-finals-g3"
#: The parts the replay test kills, one after the other.
KILLED = ("shard", "router", "discovery", "targets", "trading", "alerts", "sink", "board")


def _alerted(state_dir: Path, part: str, timeout: float = 90.0) -> None:
    """The alerts agent printed the critical alert for `part`'s death (its DOWN heartbeat on `health`)."""
    log = state_dir / "run" / "logs" / "alerts.log"
    wanted = f"ALERT [CRITICAL] {part}: {part} is DOWN: crashed; {part} killed by signal 9"
    deadline = time.monotonic() + timeout
    while not (log.exists() and wanted in log.read_text(errors="replace")):
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    else:
        return
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no alerts log)"
    pytest.fail(f"no alert for the death of {part}: wanted {wanted!r}; alerts log tail:\n{tail}")


@pytest.mark.timeout(1800)  # a whole session in lockstep, eight parts killed and restarted, on 2 shared cores
def test_replay_on_a_fresh_stack_every_part_flows_a_killed_part_restarts_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    kafka, controller, pg = _free_ports(3)
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP", "DATABASE_URL")}
    env.update({"ARBEES_STACK_DIR": str(tmp_path), "ARBEES_KAFKA_PORT": str(kafka),
                "ARBEES_KAFKA_CONTROLLER_PORT": str(controller), "ARBEES_PG_PORT": str(pg),
                "ARBEES_HEARTBEAT_S": "1", "ARBEES_SCREEN_EVERY_S": "3", "ARBEES_REPLAY_SETTLE_S": "0",
                "ARBEES_BOARD_PORT": str(free_port())})
    try:
        _replay_kill_and_stop(env, tmp_path, kafka)
    finally:
        down = arbees("stack", "down", env=env, timeout=120)
        shutil.rmtree(cluster.reachable_state_dir(tmp_path / "postgres"), ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr


def _replay_kill_and_stop(env: dict[str, str], tmp_path: Path, kafka: int) -> None:
    run = Running(("--replay", SESSION), env, tmp_path)
    seen_pids: set[int] = set()
    try:
        def flowing(snap: dict) -> bool:
            p = parts(snap)
            seen_pids.update(run.pids())
            return (len(p) == 9 and all(x["state"] in ("running", "done") for x in p.values())
                    and all(p[n]["records_in"] > 0 for n in ("sink", "discovery", "targets", "router", "shard", "trading", "alerts"))
                    and p["shard"]["records_out"] > 0 and snap["counts"].get("signals", 0) > 0)

        snap = run.wait_for("records through every part and signals", flowing, timeout=420)
        assert set(parts(snap)) == {"sink", "discovery", "targets", "router", "shard", "trading", "alerts", "replay",
                                    "board"}

        # SIGKILL every kind of part in turn, mid-session: each agent group, the sink and the board; each is
        # restarted (a connector is killed in the offline test: a replay runs no connector process)
        for name in KILLED:
            killed = parts(run.status())[name]["pid"]
            os.kill(killed, signal.SIGKILL)
            snap = run.wait_for(f"the killed {name} restarted", lambda s, n=name, k=killed: (
                parts(s)[n]["restarts"] == 1 and parts(s)[n]["state"] == "running"
                and parts(s)[n]["pid"] not in (None, k)), timeout=120)
            seen_pids.update(run.pids())
            assert parts(snap)[name]["last_error"] == "killed by signal 9", parts(snap)[name]
        run.wait_for("every killed part beating again", lambda s: all(
            (parts(s)[n]["heartbeat_age_s"] or 99) < 3 and parts(s)[n]["health"] == "running" for n in KILLED),
            timeout=180)

        def played(s: dict) -> bool:
            p = parts(s)
            return p["replay"]["state"] == "done" and all(p[n]["lag"] == 0 for n in ("router", "shard", "sink"))

        run.wait_for("the session played out, router, shard and sink caught up", played, timeout=600)
        time.sleep(3)
        final = run.status()
        bootstrap = f"127.0.0.1:{kafka}"
        # the stack's broker (started by this run's `stack up`, a child of it) stays up after Ctrl-C, as the
        # stack does until `arbees stack down`: everything else of the run must go
        from ops.kafka.process import read_pid

        family, sessions = _family(run.proc.pid) - {read_pid(tmp_path / "kafka" / "kafka.pid")}, set(run.pids())
        assert sessions <= family, (sessions, family)
        assert run.interrupt() == 0
    finally:
        if run.proc.poll() is None:
            run.interrupt()
        screen = run.screen.read_text()
    for pid in seen_pids:
        assert not pid_alive(pid), f"pid {pid} outlived Ctrl-C"
    left = _orphans(family, sessions)
    assert not left, f"Ctrl-C left processes of the run: {left}"
    assert "San Antonio Spurs at New York Knicks" in screen and "espn:nba:401859965: KALSHI" in screen  # a signal line
    assert "stopped   no part is running" in screen
    for name in KILLED:
        assert f"{name} killed by signal 9; restarting in" in screen
        # the crash went on `health` as a DOWN heartbeat and the alerts agent delivered it (stdout of its process)
        _alerted(tmp_path, name, timeout=0)
    assert final["counts"]["model.probabilities"] > 0 and final["counts"]["signals"] > 0

    # every signal the trading group has committed past in its account inbox (signals are forwarded there
    # by account before sizing) was decided: an order, or a refusal naming the signal
    from schemas.records import Fill, Order, Signal

    inbox = "arbees-trading-trading-inbox"
    done = _committed(bootstrap, "arbees-trading", inbox)
    read = _read(bootstrap, inbox, with_offsets=True)
    signals = {r.signal_id for r, partition, offset in read if isinstance(r, Signal) and offset < done.get(partition, 0)}
    assert signals, f"the trading group decided none of the {len(read)} records in its inbox"
    orders = [o for o in _read(bootstrap, "orders") if isinstance(o, Order)]
    # the replay runs in lockstep with the agent groups (ops/sessions/lockstep.py): sizing sees the quotes of
    # a signal's time, not minutes later, so the session trades (compressed without it, the band refused all)
    assert any(o.signal_id in signals for o in orders), f"no paper order for any of {len(signals)} signals"
    fills = [f for f in _read(bootstrap, "fills") if isinstance(f, Fill)]
    assert fills and {f.order_id for f in fills} <= {o.order_id for o in orders}, f"{len(fills)} fills of {len(orders)} orders"
    refused = {r.ref for r in _read(bootstrap, "risk.state") if r.ref}  # a refusal of any kind names its signal
    by_id: dict[str, set] = {}
    for o in orders:
        by_id.setdefault(o.order_id, set()).add(o)
    assert all(len(copies) == 1 for copies in by_id.values()), "one order id, two different orders"
    per_signal: dict[str, set[str]] = {}
    for o in orders:
        per_signal.setdefault(o.signal_id, set()).add(o.order_id)
    assert all(len(ids) == 1 for ids in per_signal.values()), "a signal ordered twice"
    undecided = signals - set(per_signal) - refused
    assert not undecided, f"{len(undecided)} of {len(signals)} signals got no order and no refusal"
    # the sink, killed mid-session too, lost no order and stored none twice
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{env['ARBEES_PG_PORT']}/arbees") as conn:
        stored = [r[0] for r in conn.execute("SELECT order_id FROM orders").fetchall()]
    assert sorted(stored) == sorted(by_id), f"{len(stored)} orders in the database, {len(by_id)} on the topic"
