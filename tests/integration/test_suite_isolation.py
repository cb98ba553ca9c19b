"""`make test` after `make run` leaves the user's topics and database exactly as they were.

A copy of this checkout plays a new user's clone, in a network namespace of its own so that the
default ports (the user's 9092/9093/55432, the suite's 29092/29093/55532) are free whatever else runs
on this machine. With nothing set in the environment, as a new user has it:
1. `arbees run --replay <session> --only replay,sink` fills the user's stack (`.stack/`, default ports)
   with the session's records and the sink's rows, and is stopped with Ctrl-C (the stack stays up);
2. the suite's own tests run there with pytest, the way `make test` runs them: a test that writes the
   very topics a user has (ledger, positions, orders, fills, links, risk, health), deletes records from
   them and creates databases;
3. the user's topics (every partition's first and end offsets), consumer groups, databases and the rows
   of every table are compared with what they were before: equal. The suite's records went to its own
   stack (`.stack-test/`, 29092), which is checked to hold them.
The clone sits in a private folder (mode 700) and the test runs as root: PostgreSQL's own account cannot
enter it, so both clusters must go where it can (ops.postgres.cluster.reachable_state_dir) by themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops import stack
from ops.postgres import cluster

REPO = Path(__file__).resolve().parents[2]
SESSION = "nba-2026-finals-g3"
USER = {"bootstrap": "127.0.0.1:9092", "db": "postgresql://postgres@127.0.0.1:55432/arbees"}
SUITE = {"bootstrap": "127.0.0.1:29092", "db": "postgresql://postgres@127.0.0.1:55532/arbees"}
#: The test the inner suite runs: it writes the account topics a user has, deletes records from them and
#: creates and drops databases on the stack's server.
INNER_TESTS = ("tests/integration/test_board_history.py",)
pytestmark = pytest.mark.timeout(1800)  # two stacks started from nothing and a suite run, on 2 shared cores

PROBE = r'''
import json, sys
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
import psycopg
bootstrap, db = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
meta = admin.list_topics(timeout=30)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "isolation-probe", "enable.auto.commit": False, "log_level": 0})
topics = {}
for name, t in sorted(meta.topics.items()):
    if name.startswith("__"):
        continue
    topics[name] = [list(c.get_watermark_offsets(TopicPartition(name, p), timeout=30)) for p in sorted(t.partitions)]
c.close()
groups = sorted(g.group_id for g in admin.list_consumer_groups(request_timeout=30).result().valid
                if g.group_id != "isolation-probe")
tables, databases = {}, []
with psycopg.connect(db) as conn:
    databases = sorted(r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE NOT datistemplate"))
    for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall():
        tables[name] = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
print(json.dumps({"topics": topics, "groups": groups, "databases": databases, "tables": tables}, sort_keys=True))
'''


def _clone(into: Path) -> Path:
    """This checkout's tracked files (as they are in the work tree) and the resolved broker jars: a fresh clone."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = REPO / name
        if src.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, into / name)
    lib = REPO / "ops" / "kafka" / "lib"
    if lib.is_dir():
        shutil.copytree(lib, into / "ops" / "kafka" / "lib")
    return into


def _user_env() -> dict[str, str]:
    """A new user's shell: nothing names a stack, a broker, a database or a registry."""
    drop = {*stack.STACK_ENV, "KAFKA_BOOTSTRAP", "DATABASE_URL", "PLAIN_DATABASE_URL", "ARBEES_REQUIRE_TIMESCALEDB",
            "ARBEES_TIMESCALEDB_SOURCE", "ARBEES_APP_ID", "SCHEMA_REGISTRY_URL", "PYTEST_ADDOPTS",
            "PYTEST_CURRENT_TEST"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "ARBEES_HEARTBEAT_S": "1",
            "ARBEES_SCREEN_EVERY_S": "5"}


class Namespace:
    """A network namespace with its own loopback, held open by a sleeping process; commands run in it via nsenter."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["unshare", "--net", "--fork", "--kill-child", "sh", "-c",
                                      "ip link set lo up && exec sleep 3600"], start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            up = subprocess.run([*self.prefix, "ip", "-o", "link", "show", "lo"], capture_output=True, text=True)
            if "UP" in up.stdout.split("<", 1)[-1].split(">", 1)[0]:
                return
            time.sleep(0.2)
        pytest.fail("the network namespace's loopback did not come up")

    @property
    def prefix(self) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net"]

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture()
def world() -> Iterator[tuple[Namespace, Path]]:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("needs root with unshare/nsenter (CI runs as root) for a network namespace of its own")
    folder = Path(tempfile.mkdtemp(prefix="arbees-clone-"))  # mode 700: a private folder, as root's home is
    ns = Namespace()
    clone = _clone(folder / "arbees")
    try:
        yield ns, clone
    finally:
        env = _user_env()
        ns.run([sys.executable, "-m", "ops.cli", "stack", "down"], clone, env, 120)
        suite = {**env, **stack.TEST_STACK_DEFAULTS, stack.STACK_DIR_ENV: str(clone / ".stack-test")}
        ns.run([sys.executable, "-m", "ops.cli", "stack", "down"], clone, suite, 120)
        ns.close()
        for state in (clone / ".stack", clone / ".stack-test"):
            for db_dir in ("postgres", "postgres-plain"):
                shutil.rmtree(cluster.reachable_state_dir(state / db_dir), ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


def _probe(ns: Namespace, clone: Path, where: dict[str, str]) -> dict:
    out = ns.run([sys.executable, "-c", PROBE, where["bootstrap"], where["db"]], clone, _user_env(), 120)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _status(clone: Path) -> dict:
    try:
        return json.loads((clone / ".stack" / "run" / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def test_make_test_after_make_run_leaves_the_users_topics_and_database_as_they_were(
        world: tuple[Namespace, Path]) -> None:
    ns, clone = world
    env = _user_env()
    # 1. the user's run, on the defaults
    log = (clone / "run.txt").open("w")
    run = subprocess.Popen([*ns.prefix, sys.executable, "-m", "ops.cli", "run", "--replay", SESSION, "--speed", "2000",
                            "--only", "replay,sink"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert run.poll() is None, (clone / "run.txt").read_text()[-3000:]
            parts = {p["name"]: p for p in _status(clone).get("parts", [])}
            if parts.get("replay", {}).get("state") == "done" and parts.get("sink", {}).get("records_in", 0) > 0 \
                    and parts["sink"]["lag"] == 0 and (parts["sink"]["heartbeat_age_s"] or 99) < 2:
                break
            time.sleep(1)
        else:
            pytest.fail(f"the user's run did not play the session into the sink:\n{(clone / 'run.txt').read_text()[-3000:]}")
    finally:
        run.send_signal(signal.SIGINT)
        assert run.wait(120) == 0, (clone / "run.txt").read_text()[-3000:]
        log.close()
    text = (clone / "run.txt").read_text()
    assert "kafka 127.0.0.1:9092, postgres postgresql+psycopg://postgres@127.0.0.1:55432/arbees" in text, text[:2000]
    before = _probe(ns, clone, USER)
    assert before["topics"]["events.state"] and sum(e for _, e in before["topics"]["events.state"]) > 100
    assert before["tables"]["event_states"] > 100 and before["tables"]["quotes"] > 100  # the sink wrote the session

    # 2. the suite, as `make test` runs it, from the same shell
    tests = ns.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *INNER_TESTS], clone, env, 900)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout

    # 3. the user's stack is exactly as it was; the suite's records are on the suite's own stack
    after = _probe(ns, clone, USER)
    assert after == before
    assert (clone / ".stack-test" / "kafka").is_dir()
    suite = subprocess.run([*ns.prefix, sys.executable, "-m", "ops.cli", "stack", "up"], cwd=clone,
                           env={**env, **stack.TEST_STACK_DEFAULTS, stack.STACK_DIR_ENV: str(clone / ".stack-test")},
                           capture_output=True, text=True, timeout=300)
    assert suite.returncode == 0, suite.stdout + suite.stderr
    theirs = _probe(ns, clone, SUITE)
    assert sum(end for _, end in theirs["topics"]["ledger"]) > 0  # the inner test's ledger entries went there
