"""The local stack: one Kafka broker and one PostgreSQL cluster, up, down, status, logs.

Pure orchestration over `ops.kafka.broker` and `ops.postgres.cluster`; the CLI
(`ops.stack_cli`) and the test fixtures (`tests/conftest.py`) both drive it.
Everything lives in one state folder (`.stack/` at the repository root, or
ARBEES_STACK_DIR), so two checkouts or a test of the failure paths never touch
each other's processes. `up` and `down` hold a file lock: several test sessions
may start at once on one machine.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ops.kafka import broker
from ops.kafka.broker import BrokerConfig, BrokerError, BrokerStart, BrokerStop
from ops.kafka.process import pid_alive, port_answers, tail
from ops.postgres import cluster
from ops.postgres.cluster import PostgresConfig, PostgresError, PostgresStart, PostgresStop
from ops.postgres.timescale import LOADED_SQL, Plan

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK_DIR_ENV = "ARBEES_STACK_DIR"
MIGRATIONS_DIR = REPO_ROOT / "migrations"


class StackError(RuntimeError):
    """A component cannot be brought up or inspected.

    `str()` is one line saying what to do; `detail` holds supporting log lines.
    """

    def __init__(self, message: str, detail: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.detail = detail


#: The environment that chooses a local stack; giving any of these means "this stack".
STACK_ENV = (STACK_DIR_ENV, broker.PORT_ENV, broker.CONTROLLER_PORT_ENV, cluster.PORT_ENV)
#: Where the test suite's own stack lives when nothing above is set: never the user's
#: `.stack/` on 9092/9093/55432, so `make test` after `make run` leaves the user's topics alone.
TEST_STACK_DEFAULTS = {
    STACK_DIR_ENV: str(REPO_ROOT / ".stack-test"),
    broker.PORT_ENV: "29092",
    broker.CONTROLLER_PORT_ENV: "29093",
    cluster.PORT_ENV: "55532",
}

#: Where the benchmarks' own stack lives (`make bench`, `make load`): neither the user's nor the suite's, so a
#: benchmark run during `make run` or `make test` writes none of their topics.
BENCH_STACK_DEFAULTS = {
    STACK_DIR_ENV: str(REPO_ROOT / ".stack-bench"),
    broker.PORT_ENV: "39092",
    broker.CONTROLLER_PORT_ENV: "39093",
    cluster.PORT_ENV: "55632",
}


def isolated_env(environ: Mapping[str, str], defaults: Mapping[str, str] = TEST_STACK_DEFAULTS) -> dict[str, str]:
    """The variables a test session (or a benchmark) adds to `environ` to run on its own stack.

    All or nothing: an engineer who gave ports (or a folder) chose a stack, and a
    default folder next to given ports would start a second stack on the same ports.
    """
    if any(environ.get(name, "").strip() for name in STACK_ENV):
        return {}
    return dict(defaults)


@dataclass(frozen=True)
class StackConfig:
    """State folder and ports of one local stack.

    `plain_postgres` is a second cluster that never loads TimescaleDB, on a private
    socket only (same port number, no TCP): the test suite runs the database tests
    on both paths with it. People never need it; `up` starts it only when asked.
    """

    state_dir: Path
    broker: BrokerConfig
    postgres: PostgresConfig

    @property
    def plain_postgres(self) -> PostgresConfig:
        # relocated like the main cluster: root in a private folder runs it as `postgres`, which cannot enter it
        return PostgresConfig(state_dir=cluster.reachable_state_dir(self.state_dir / "postgres-plain"),
                              port=self.postgres.port, tcp=False, timescaledb=False)

    @classmethod
    def from_env(cls) -> StackConfig:
        """ARBEES_STACK_DIR, ARBEES_KAFKA_PORT, ARBEES_KAFKA_CONTROLLER_PORT, ARBEES_PG_PORT."""
        raw_dir = os.environ.get(STACK_DIR_ENV, "").strip()
        state_dir = Path(raw_dir).resolve() if raw_dir else REPO_ROOT / ".stack"
        try:
            port, controller_port = broker.env_ports()
            pg_port = cluster.env_port()
        except (BrokerError, PostgresError) as exc:
            raise StackError(str(exc)) from exc
        return cls(
            state_dir=state_dir,
            broker=BrokerConfig(state_dir=state_dir / "kafka", port=port, controller_port=controller_port),
            postgres=PostgresConfig(state_dir=cluster.reachable_state_dir(state_dir / "postgres"), port=pg_port),
        )


def kafka_bootstrap() -> str:
    """KAFKA_BOOTSTRAP, else the local stack's broker (ARBEES_KAFKA_PORT, default 9092)."""
    given = os.environ.get("KAFKA_BOOTSTRAP", "").strip()
    return given or BrokerConfig(state_dir=Path("."), port=broker.env_ports()[0]).bootstrap


def database_url() -> str:
    """DATABASE_URL, else the local stack's database (ARBEES_PG_PORT, default 55432)."""
    given = os.environ.get("DATABASE_URL", "").strip()
    return given or PostgresConfig(state_dir=Path("."), port=cluster.env_port()).url


@dataclass(frozen=True)
class UpResult:
    """What `up` did; a component is None when it was not asked for."""

    broker: BrokerStart | None
    database: PostgresStart | None
    bootstrap: str
    database_url: str
    plain_database: PostgresStart | None = None
    plain_database_url: str | None = None

    @property
    def timescaledb(self) -> Plan | None:
        """The database's path (TimescaleDB or plain) and why; None when the database was not asked for."""
        return self.database.timescale if self.database is not None else None


@dataclass(frozen=True)
class DownResult:
    broker: BrokerStop | None
    database: PostgresStop | None


@dataclass(frozen=True)
class TopicStatus:
    name: str
    partitions: int
    end_offsets: tuple[int, ...]

    @property
    def messages(self) -> int:
        """Sum of end offsets: records ever written (before retention and compaction)."""
        return sum(self.end_offsets)


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    listener: str
    version: str | None
    cluster_id: str | None
    controller_id: int | None
    topics: tuple[TopicStatus, ...]
    error: str | None


@dataclass(frozen=True)
class Migration:
    revision: str
    description: str


@dataclass(frozen=True)
class DatabaseStatus:
    running: bool
    pid: int | None
    url: str
    server_version: str | None
    timescaledb_available: bool | None  # listed with the server's extensions (a system-wide install)
    timescaledb_installed: bool | None  # created in the `arbees` database
    migrations: tuple[Migration, ...]
    error: str | None
    timescaledb_loaded: bool | None = None  # preloaded by the server (also when loaded from the stack's build)


@dataclass(frozen=True)
class StackStatus:
    broker: BrokerStatus
    database: DatabaseStatus

    @property
    def healthy(self) -> bool:
        return self.broker.running and self.database.running and not (self.broker.error or self.database.error)


@dataclass(frozen=True)
class StackLogs:
    broker_log: Path
    broker: tuple[str, ...]
    database_log: Path
    database: tuple[str, ...]


def _record(config: StackConfig, event: str) -> None:
    """Append who did what to `events.log`: several sessions share one stack, and
    when a broker vanishes under a test this says which process stopped it."""
    argv = " ".join(sys.argv[:3])[:160]
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    with (config.state_dir / "events.log").open("a") as handle:
        handle.write(f"{stamp} pid={os.getpid()} {event} ({argv})\n")


@contextmanager
def _locked(config: StackConfig) -> Iterator[None]:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    with (config.state_dir / "stack.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(config: StackConfig, *, with_broker: bool = True, with_database: bool = True,
       with_plain_database: bool = False) -> UpResult:
    """Start what is not running, check what is, and say how to reach both. Idempotent."""
    with _locked(config):
        _record(config, f"up broker={with_broker} database={with_database} plain={with_plain_database}")
        return _up_unlocked(config, with_broker, with_database, with_plain_database)


def _up_unlocked(config: StackConfig, with_broker: bool, with_database: bool,
                 with_plain_database: bool = False) -> UpResult:
    try:
        started_db = cluster.start(config.postgres) if with_database else None
        started_plain = cluster.start(config.plain_postgres) if with_plain_database else None
        started_broker = broker.start(config.broker) if with_broker else None
    except (BrokerError, PostgresError) as exc:
        raise StackError(str(exc), exc.detail) from exc
    return UpResult(
        broker=started_broker,
        database=started_db,
        bootstrap=config.broker.bootstrap,
        database_url=config.postgres.url,
        plain_database=started_plain,
        plain_database_url=config.plain_postgres.url if with_plain_database else None,
    )


def down(config: StackConfig, *, with_broker: bool = True, with_database: bool = True) -> DownResult:
    """Stop the broker (SIGTERM, then SIGKILL) and the database (fast shutdown)."""
    with _locked(config):
        _record(config, f"down broker={with_broker} database={with_database}")
        result = _down_unlocked(config, with_broker, with_database)
        _sessions_dir(config).joinpath("started").unlink(missing_ok=True)
        return result


def _down_unlocked(config: StackConfig, with_broker: bool, with_database: bool) -> DownResult:
    stopped_broker = broker.stop(config.broker) if with_broker else None
    stopped_db = cluster.stop(config.postgres) if with_database else None
    if with_database:
        cluster.stop(config.plain_postgres)
    return DownResult(broker=stopped_broker, database=stopped_db)


def status(config: StackConfig) -> StackStatus:
    """Inspect both components; never raises for a component that is down."""
    return StackStatus(broker=_broker_status(config.broker), database=_database_status(config.postgres))


def logs(config: StackConfig, lines: int = 40) -> StackLogs:
    """The last `lines` lines of the broker's and the database's logs."""
    return StackLogs(
        broker_log=config.broker.server_log,
        broker=tail(config.broker.server_log, lines),
        database_log=config.postgres.log_file,
        database=tail(config.postgres.log_file, lines),
    )


def _broker_status(config: BrokerConfig) -> BrokerStatus:
    pid = broker.running_pid(config)
    version = broker.installed_version()
    if pid is None:
        return BrokerStatus(False, None, config.bootstrap, version, None, None, (), None)
    if not port_answers(config.port):
        return BrokerStatus(True, pid, config.bootstrap, version, None, None, (),
                            "broker process runs but does not listen yet (starting or stopping)")
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    # librdkafka logs are silenced: failures arrive through the futures and are reported.
    admin = AdminClient({"bootstrap.servers": config.bootstrap, "log_level": 0})
    try:
        described = admin.describe_cluster(request_timeout=10).result()
        metadata = admin.list_topics(timeout=10)
        names = sorted(name for name in metadata.topics if not name.startswith("__"))
        requests = {
            TopicPartition(name, partition): OffsetSpec.latest()
            for name in names
            for partition in metadata.topics[name].partitions
        }
        ends: dict[tuple[str, int], int] = {}
        if requests:
            for tp, future in admin.list_offsets(requests, request_timeout=10).items():
                ends[(tp.topic, tp.partition)] = future.result().offset
    except Exception as exc:  # noqa: BLE001 - KafkaException: report, do not crash `status`
        return BrokerStatus(True, pid, config.bootstrap, version, None, None, (), f"broker not answering: {exc}")
    topics = tuple(
        TopicStatus(
            name=name,
            partitions=len(metadata.topics[name].partitions),
            end_offsets=tuple(ends[(name, p)] for p in sorted(metadata.topics[name].partitions)),
        )
        for name in names
    )
    controller = described.controller.id if described.controller is not None else None
    return BrokerStatus(True, pid, config.bootstrap, version, described.cluster_id, controller, topics, None)


def _database_status(config: PostgresConfig) -> DatabaseStatus:
    pid = cluster.running_pid(config)
    if pid is None:
        return DatabaseStatus(False, None, config.url, None, None, None, (), None)
    import psycopg

    try:
        with psycopg.connect(config.conninfo()) as conn:
            version = str(conn.execute("show server_version").fetchone()[0])  # type: ignore[index]
            available = conn.execute(
                "select count(*) from pg_available_extensions where name = 'timescaledb'"
            ).fetchone()
            installed = conn.execute("select count(*) from pg_extension where extname = 'timescaledb'").fetchone()
            loaded = conn.execute(LOADED_SQL).fetchone()
            has_table = conn.execute("select to_regclass('public.alembic_version') is not null").fetchone()
            heads: tuple[str, ...] = ()
            if has_table and has_table[0]:
                heads = tuple(str(row[0]) for row in conn.execute("select version_num from alembic_version"))
    except psycopg.Error as exc:
        return DatabaseStatus(True, pid, config.url, None, None, None, (), f"database not answering: {exc}")
    return DatabaseStatus(
        running=True,
        pid=pid,
        url=config.url,
        server_version=version,
        timescaledb_available=bool(available and available[0]),
        timescaledb_installed=bool(installed and installed[0]),
        timescaledb_loaded=bool(loaded and loaded[0]),
        migrations=applied_migrations(heads),
        error=None,
    )


def applied_migrations(heads: tuple[str, ...]) -> tuple[Migration, ...]:
    """Every revision from base up to the recorded heads, oldest first.

    The database only records its head(s); the chain below comes from the
    migration scripts. A head unknown to the scripts (database ahead of this
    checkout) is still listed, with that said as its description.
    """
    if not heads:
        return ()
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    if not (MIGRATIONS_DIR / "env.py").exists():
        return tuple(Migration(head, "(no migration scripts in this checkout)") for head in heads)
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    seen: dict[str, Migration] = {}
    for head in heads:
        try:
            chain = list(scripts.iterate_revisions(head, "base"))
        except (CommandError, RevisionError):
            seen.setdefault(head, Migration(head, "(unknown to this checkout's migration scripts)"))
            continue
        for script in chain:
            seen.setdefault(script.revision, Migration(script.revision, (script.doc or "").strip()))
    return tuple(reversed(list(seen.values())))


# Test sessions share one stack: each holds a lease while it runs, and the last
# one out stops only the components that a session (not a person) started.


def _sessions_dir(config: StackConfig) -> Path:
    return config.state_dir / "sessions"


def session_up(config: StackConfig, *, with_broker: bool, with_database: bool,
               with_plain_database: bool = False) -> UpResult:
    """`up` for a test session: take a lease and remember what the session started."""
    with _locked(config):
        sessions = _sessions_dir(config)
        sessions.mkdir(parents=True, exist_ok=True)
        (sessions / f"{os.getpid()}.lease").touch()
        _record(config, f"session-up broker={with_broker} database={with_database} plain={with_plain_database}")
        result = _up_unlocked(config, with_broker, with_database, with_plain_database)
        started = set(_read_started(config))
        if result.broker is not None and result.broker.started:
            started.add("broker")
        if result.database is not None and result.database.started:
            started.add("database")
        if result.plain_database is not None and result.plain_database.started:
            started.add("plain-database")
        if started:
            (sessions / "started").write_text("\n".join(sorted(started)) + "\n")
        return result


def session_release(config: StackConfig) -> DownResult | None:
    """Drop this session's lease; the last live session stops what sessions started."""
    with _locked(config):
        sessions = _sessions_dir(config)
        (sessions / f"{os.getpid()}.lease").unlink(missing_ok=True)
        for lease in sessions.glob("*.lease"):
            if lease.stem.isdigit() and pid_alive(int(lease.stem)):
                _record(config, f"session-release (session {lease.stem} still running: left running)")
                return None
            lease.unlink(missing_ok=True)
        started = _read_started(config)
        if not started:
            _record(config, "session-release (stack not started by sessions: left running)")
            return None
        _record(config, f"session-release last out, stopping {' '.join(started)}")
        result = _down_unlocked(config, "broker" in started, "database" in started)
        if "plain-database" in started:
            cluster.stop(config.plain_postgres)
        (sessions / "started").unlink(missing_ok=True)
        return result


def claim(config: StackConfig) -> None:
    """A person ran `arbees stack up`: test sessions must no longer stop the stack."""
    with _locked(config):
        _record(config, "claim (a person ran up: sessions will not stop it)")
        _sessions_dir(config).joinpath("started").unlink(missing_ok=True)


def _read_started(config: StackConfig) -> tuple[str, ...]:
    try:
        return tuple((_sessions_dir(config) / "started").read_text().split())
    except OSError:
        return ()
