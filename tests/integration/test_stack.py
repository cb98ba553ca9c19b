"""The local stack (`arbees stack`) against a real broker and a real PostgreSQL.

Failure paths and the full up/up/down cycle run on private state folders and free
ports (ARBEES_STACK_DIR, ARBEES_*_PORT), so the session's stack is never disturbed.
The CLI runs as a subprocess, exactly as an operator would run it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from ops import stack
from ops.kafka import broker
from ops.kafka.broker import BrokerConfig, BrokerError
from ops.kafka.process import cmdline, pid_alive
from ops.postgres import cluster
from ops.postgres.cluster import PostgresConfig
from ops.postgres.timescale import LOADED_SQL
from ops.stack import StackConfig
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port(pair: bool = False) -> int:
    """A free loopback port (with port + 1 also free when `pair`: the controller's)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not pair or (port < 65535 and _is_free(port + 1)):
            return port
    raise RuntimeError("no free loopback port pair found")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A state folder the `postgres` account can enter (pytest's tmp dirs are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="arbees-stack-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _private_env(state_dir: Path) -> dict[str, str]:
    port = _free_port(pair=True)
    return {
        **os.environ,
        "ARBEES_STACK_DIR": str(state_dir),
        "ARBEES_KAFKA_PORT": str(port),
        "ARBEES_KAFKA_CONTROLLER_PORT": str(port + 1),
        "ARBEES_PG_PORT": str(_free_port()),
    }


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.stack_cli", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )


def _processes_using(state_dir: Path) -> list[int]:
    """Live processes whose command line mentions the state folder (broker or postmaster)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and any(str(state_dir) in arg for arg in cmdline(int(proc.name))):
            if pid_alive(int(proc.name)):
                found.append(int(proc.name))
    return found


@pytest.fixture(scope="module")
def session_stack(request: pytest.FixtureRequest, docker_unavailable: str | None) -> Iterator[StackConfig]:
    """An ops/ stack with both components up.

    The session's own when the other tests use the ops/ stack too; a private one on
    free ports when they get their broker elsewhere (KAFKA_BOOTSTRAP, DATABASE_URL,
    Docker), since that broker may well sit on the default ports.
    """
    elsewhere = os.environ.get("KAFKA_BOOTSTRAP") or os.environ.get("DATABASE_URL") or docker_unavailable is None
    if not elsewhere:
        config: StackConfig = request.getfixturevalue("_stack_lease")
        try:
            stack.session_up(config, with_broker=True, with_database=True)
        except stack.StackError as exc:
            pytest.fail(f"the ops/ stack could not start: {exc}", pytrace=False)
        yield config
        return
    state_dir = Path(tempfile.mkdtemp(prefix="arbees-stack-test-"))
    state_dir.chmod(0o755)
    env = _private_env(state_dir)
    config = StackConfig(
        state_dir=state_dir,
        broker=BrokerConfig(state_dir / "kafka", int(env["ARBEES_KAFKA_PORT"]),
                            int(env["ARBEES_KAFKA_CONTROLLER_PORT"])),
        postgres=PostgresConfig(state_dir / "postgres", int(env["ARBEES_PG_PORT"])),
    )
    try:
        stack.up(config)
    except stack.StackError as exc:
        pytest.fail(f"a private ops/ stack could not start: {exc}", pytrace=False)
    yield config
    stack.down(config)
    shutil.rmtree(state_dir, ignore_errors=True)


def test_up_again_changes_nothing(session_stack: StackConfig) -> None:
    before = (broker.running_pid(session_stack.broker), cluster.running_pid(session_stack.postgres))

    again = stack.up(session_stack)

    assert again.broker is not None and again.broker.started is False
    assert again.database is not None and again.database.started is False
    assert (again.broker.pid, again.database.pid) == before
    assert again.bootstrap == f"127.0.0.1:{session_stack.broker.port}"
    assert again.database_url == f"postgresql+psycopg://postgres@127.0.0.1:{session_stack.postgres.port}/arbees"


def test_status_shows_broker_topics_and_database(session_stack: StackConfig) -> None:
    bootstrap = session_stack.broker.bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = f"test.status.{os.getpid()}.{_free_port()}"
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result()
    try:
        producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
        for i in range(7):
            producer.produce(topic, key=f"k{i}", value=b"v", partition=i % 3)
        assert producer.flush(30) == 0

        current = stack.status(session_stack)
        cli = _cli("status", env={**os.environ, "ARBEES_STACK_DIR": str(session_stack.state_dir),
                                  "ARBEES_KAFKA_PORT": str(session_stack.broker.port),
                                  "ARBEES_KAFKA_CONTROLLER_PORT": str(session_stack.broker.controller_port),
                                  "ARBEES_PG_PORT": str(session_stack.postgres.port)})
    finally:
        admin.delete_topics([topic])[topic].result()

    pom_version = re.search(r"<kafka.version>(.+)</kafka.version>", broker.POM.read_text())
    assert pom_version is not None
    assert current.broker.running and current.broker.error is None
    assert current.broker.version == pom_version.group(1)
    assert current.broker.listener == bootstrap
    ours = [t for t in current.broker.topics if t.name == topic]
    assert len(ours) == 1
    assert (ours[0].partitions, ours[0].end_offsets, ours[0].messages) == (3, (3, 2, 2), 7)

    db = current.database
    assert db.running and db.error is None
    with psycopg.connect(session_stack.postgres.conninfo()) as conn:
        version = conn.execute("show server_version").fetchone()
        timescale = conn.execute("select count(*) from pg_available_extensions where name='timescaledb'").fetchone()
        loaded = conn.execute(LOADED_SQL).fetchone()
        has_alembic = conn.execute("select to_regclass('public.alembic_version') is not null").fetchone()
        heads: tuple[str, ...] = ()
        if has_alembic is not None and has_alembic[0]:
            heads = tuple(row[0] for row in conn.execute("select version_num from alembic_version"))
    assert version is not None and db.server_version == version[0]
    assert timescale is not None and db.timescaledb_available is (timescale[0] == 1)
    assert loaded is not None and db.timescaledb_loaded is loaded[0]
    assert db.migrations == stack.applied_migrations(heads)

    assert cli.returncode == 0, cli.stderr
    assert f"Apache Kafka {pom_version.group(1)}" in cli.stdout
    assert f"listener PLAINTEXT://{bootstrap}" in cli.stdout
    assert re.search(rf"^{re.escape(topic)}\s+3\s+3 2 2\s+7\s*$", cli.stdout, re.MULTILINE)
    assert f"PostgreSQL {db.server_version}" in cli.stdout
    assert "timescaledb " in cli.stdout
    assert ("migrations applied: none" in cli.stdout) == (heads == ())


def test_full_cycle_up_up_status_down_leaves_nothing(private_dir: Path) -> None:
    env = _private_env(private_dir)

    first = _cli("up", env=env)
    assert first.returncode == 0, first.stderr
    assert re.search(r"^kafka\s+ready in [\d.]+s, pid \d+", first.stdout, re.MULTILINE)
    assert re.search(r"^postgres\s+started in [\d.]+s, pid \d+", first.stdout, re.MULTILINE)
    assert f"KAFKA_BOOTSTRAP=127.0.0.1:{env['ARBEES_KAFKA_PORT']}" in first.stdout
    assert _processes_using(private_dir)

    second = _cli("up", env=env)
    assert second.returncode == 0, second.stderr
    assert re.search(r"^kafka\s+already running", second.stdout, re.MULTILINE)
    assert re.search(r"^postgres\s+already running", second.stdout, re.MULTILINE)
    assert _pids(first.stdout) == _pids(second.stdout)

    assert _cli("status", env=env).returncode == 0

    down = _cli("down", env=env)
    assert down.returncode == 0, down.stderr
    assert re.search(r"^kafka\s+stopped \(pid \d+\)", down.stdout, re.MULTILINE)
    assert re.search(r"^postgres\s+stopped \(pid \d+\)", down.stdout, re.MULTILINE)
    assert _processes_using(private_dir) == []
    for pid in _pids(first.stdout):
        assert not pid_alive(pid)

    after = _cli("status", env=env)
    assert after.returncode == 1
    assert "not running" in after.stdout


def test_clone_in_a_private_folder_runs_its_database(private_dir: Path) -> None:
    """A clone in a folder only its owner may enter (root's home): the database still comes up.

    As root PostgreSQL runs as `postgres`, which cannot enter that folder; the
    cluster then lives where it can (ops.postgres.cluster.reachable_state_dir).
    """
    clone = private_dir / "clone"
    (clone / ".stack").mkdir(parents=True)
    clone.chmod(0o700)
    env = {**_private_env(clone / ".stack")}
    up = _cli("up", "--no-broker", env=env)
    try:
        assert up.returncode == 0, up.stderr
        assert re.search(r"^postgres\s+started in [\d.]+s, pid \d+", up.stdout, re.MULTILINE)
        where = cluster.reachable_state_dir(clone / ".stack" / "postgres")
        assert (where / "data" / "PG_VERSION").exists()
        assert (os.geteuid() == 0) == (where != clone / ".stack" / "postgres")
    finally:
        down = _cli("down", env=env)
    assert down.returncode == 0, down.stderr
    assert re.search(r"^postgres\s+stopped \(pid \d+\)", down.stdout, re.MULTILINE)
    shutil.rmtree(where, ignore_errors=True)


def _pids(stdout: str) -> list[int]:
    return [int(p) for p in re.findall(r"pid (\d+)", stdout)]


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result
    assert lines and lines[-1].startswith("error: "), result.stderr
    return lines[-1]


@pytest.mark.parametrize("env_var", ["ARBEES_KAFKA_PORT", "ARBEES_KAFKA_CONTROLLER_PORT", "ARBEES_PG_PORT"])
def test_port_in_use_is_one_clear_line(private_dir: Path, env_var: str) -> None:
    env = _private_env(private_dir)
    taken = int(env[env_var])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        args = ("up", "--no-database") if "KAFKA" in env_var else ("up", "--no-broker")
        result = _cli(*args, env=env)

    assert result.stderr.strip() == (
        f"error: port {taken} on 127.0.0.1 is already in use by another process: "
        f"set {env_var} to a free port (or stop whatever listens there)"
    )
    assert result.returncode == 1
    assert _processes_using(private_dir) == []


def test_missing_java_is_one_clear_line(private_dir: Path) -> None:
    env = {**_private_env(private_dir), "PATH": str(private_dir / "empty-bin")}

    line = _one_error_line(_cli("up", "--no-database", env=env))

    assert line.startswith("error: Java not found: install a Java 17+ runtime")


def test_missing_maven_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker, "STAMP", tmp_path / "no-stamp")  # jars look stale
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(BrokerError, match=r"^Maven not found: install it \(Debian: apt-get install -y maven\)"):
        broker.ensure_jars()
    assert broker.jars_current() is False
    assert any(broker.LIB_DIR.glob("kafka_2.13-*.jar"))  # nothing was deleted


def test_broker_dying_while_starting_is_reported(private_dir: Path) -> None:
    env = _private_env(private_dir)
    # Storage formatted for another node: the real broker refuses it and exits.
    data = private_dir / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text(
        f"version=1\nnode.id=7\ncluster.id={broker.new_cluster_id()}\ndirectory.id={broker.new_cluster_id()}\n"
    )

    result = _cli("up", "--no-database", env=env)

    line = _one_error_line(result)
    assert line.startswith("error: the Kafka broker exited while starting (")
    assert "Stored node id 7 doesn't match previous node id 1" in line
    assert line.endswith(f"see {private_dir / 'kafka' / 'logs' / 'server.log'}")
    assert "Exiting Kafka due to fatal exception" in result.stderr  # the log lines before it
    assert _processes_using(private_dir) == []
    assert not (private_dir / "kafka" / "kafka.pid").exists()


def test_topic_factory_creates_configured_topics(topic_factory: TopicFactory, kafka_bootstrap: str) -> None:
    name = topic_factory("test.factory", partitions=4, config={"cleanup.policy": "compact"})

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    meta = admin.list_topics(topic=name, timeout=10).topics[name]
    configs = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name)])
    described = next(iter(configs.values())).result()

    assert name.startswith("test.factory.")
    assert sorted(meta.partitions) == [0, 1, 2, 3]
    assert described["cleanup.policy"].value == "compact"


def test_database_url_reaches_the_arbees_database(database_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            name = conn.execute(text("select current_database()")).scalar_one()
            version = conn.execute(text("show server_version")).scalar_one()
    finally:
        engine.dispose()

    assert name == "arbees"
    assert re.match(r"\d+\.\d+", version)



def test_applied_migrations_walk_the_scripts_from_base_to_head() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(stack.MIGRATIONS_DIR))
    heads = tuple(scripts.get_heads())

    chain = stack.applied_migrations(heads)
    unknown = stack.applied_migrations(("0000deadbeef",))

    assert chain, "the migration scripts have at least one revision"
    assert scripts.get_revision(chain[0].revision).down_revision is None
    assert {m.revision for m in chain} >= set(heads)
    assert chain[-1].revision in heads
    assert stack.applied_migrations(()) == ()
    assert unknown == (stack.Migration("0000deadbeef", "(unknown to this checkout's migration scripts)"),)
