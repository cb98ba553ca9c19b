"""Session fixtures: a real Apache Kafka broker and a real PostgreSQL for integration tests.

The ops/ stack of a test session is its own (`.stack-test/`, ports 29092/29093/55532,
see ops.stack.TEST_STACK_DEFAULTS) unless ARBEES_STACK_DIR or a port variable is set;
on a parallel run each further xdist worker has one of its own beside it (below).
Each comes from, in order: the environment (KAFKA_BOOTSTRAP / DATABASE_URL);
testcontainers when a Docker engine answers a ping; the `ops/` stack (started once
per session, stopped at the end only if a test session started it). With none of
these the requesting test fails and says why: integration tests never skip.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import psycopg
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from ops import stack
from ops.kafka import broker
from ops.postgres import cluster
from ops.stack import StackConfig, StackError, UpResult

# The suite's own stack folder and ports unless the environment names a stack: set
# before any fixture or child process reads them (workers inherit this environment).
os.environ.update(stack.isolated_env(os.environ))
# Tests SIGKILL Faust workers and start a successor in the same group (the recovery, crash, run and board tests):
# the successor is assigned only once the dead member's session expires, 60 s by Faust's default, and a lockstep
# replay waits that long after each kill. Ten seconds (what `make chaos` uses) with a beat a second; workers
# inherit it, `arbees run` passes it to its parts; a variable already set wins.
os.environ.setdefault("BROKER_SESSION_TIMEOUT", "10")
os.environ.setdefault("BROKER_HEARTBEAT_INTERVAL", "1")

KAFKA_IMAGE = "apache/kafka:4.0.1"  # same broker version as ops/kafka/pom.xml
TIMESCALE_IMAGE = "timescale/timescaledb:2.17.2-pg16"


# ---- running the suite in parallel (pytest-xdist, `make test`) ----
# The tests are written for a broker that earlier tests wrote to, not for one that other tests write to at the same
# time (some delete records others read, count a topic's new records, or publish the same recorded ids): each
# xdist worker gets a stack of its own. Worker gw0 keeps the session's stack (folder and ports as above); the others
# run theirs in a folder under it on free ports. A broker or database given as KAFKA_BOOTSTRAP / DATABASE_URL is
# shared by every worker: run such a session with one worker (TEST_WORKERS=1). Tests are handed out in the
# collected order, one at a time (`make test`: --maxschedchunk 1), so what a test finds on its worker's stack is
# what some of the tests before it in a sequential run left there, never what a later test leaves.


def _worker_stack_env(environ: Mapping[str, str], worker: str) -> dict[str, str]:
    """The stack variables of xdist worker `worker` (gw1, gw2, ...): a folder of its own, free ports."""
    base = environ.get(stack.STACK_DIR_ENV, "").strip() or str(stack.REPO_ROOT / ".stack")
    socks = [socket.socket() for _ in range(3)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        kafka, controller, pg = (str(sock.getsockname()[1]) for sock in socks)
    finally:
        for sock in socks:
            sock.close()
    return {stack.STACK_DIR_ENV: str(Path(base) / "xdist" / worker), broker.PORT_ENV: kafka,
            broker.CONTROLLER_PORT_ENV: controller, cluster.PORT_ENV: pg}


def pytest_configure(config: pytest.Config) -> None:
    # in the xdist worker itself only (not in a process a test starts, which inherits the worker's stack)
    worker = getattr(config, "workerinput", {}).get("workerid", "")
    if worker not in ("", "gw0"):
        os.environ.update(_worker_stack_env(os.environ, worker))


def _broker_jars_once() -> None:
    """Parallel workers start their stacks at once: one resolves the broker jars (Maven, under the lock
    `broker.ensure_jars` takes), the others wait for it."""
    try:
        broker.ensure_jars()
    except broker.BrokerError:
        pass  # the stack's start says it again, with the whole reason


def _docker_unavailable() -> str | None:
    """None when a Docker engine answers; otherwise why not (the binary alone is not enough)."""
    host = os.environ.get("DOCKER_HOST", "").strip()
    if not host and not os.path.exists("/var/run/docker.sock"):
        # Checked first: the docker SDK leaks its socket when the file is missing.
        return "no Docker engine (DOCKER_HOST is unset and /var/run/docker.sock does not exist)"
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable engine
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:160]})"
    return None


@pytest.fixture(scope="session")
def docker_unavailable() -> str | None:
    return _docker_unavailable()


@pytest.fixture(scope="session")
def _stack_lease() -> Iterator[StackConfig]:
    """The ops/ stack config; at session end the last session out stops what sessions started."""
    try:
        config = StackConfig.from_env()
    except StackError as exc:
        pytest.fail(f"the ops/ stack is misconfigured: {exc}", pytrace=False)
    yield config
    stack.session_release(config)


def _ops_stack_up(config: StackConfig, *, with_broker: bool, with_database: bool, missing: str,
                  with_plain_database: bool = False) -> UpResult:
    """Start (or join) the ops/ stack; fail the test with the whole reason if it cannot."""
    if with_broker:
        _broker_jars_once()
    try:
        return stack.session_up(config, with_broker=with_broker, with_database=with_database,
                                with_plain_database=with_plain_database)
    except StackError as exc:
        reason = str(exc)  # fail outside the except block: one message, no exception chain
    pytest.fail(f"{missing}, and the ops/ stack could not start it: {reason}", pytrace=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kafka_container() -> tuple[str, Callable[[], None]]:
    """A KRaft broker in the official apache/kafka image, advertised on a fixed host port."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    host_port = _free_port()
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, host_port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://127.0.0.1:{host_port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            KAFKA_INTER_BROKER_LISTENER_NAME="PLAINTEXT",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
        )
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(180))
    )
    container.start()
    return f"127.0.0.1:{host_port}", container.stop


def _postgres_container() -> tuple[str, Callable[[], None]]:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(TIMESCALE_IMAGE, username="postgres", password="postgres",
                                  dbname="arbees", driver="psycopg")
    container.start()
    return container.get_connection_url(), container.stop


def _check_bootstrap(bootstrap: str, source: str) -> None:
    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=15)
    except Exception as exc:  # noqa: BLE001 - KafkaException
        pytest.fail(f"{source} names {bootstrap}, but no Kafka broker answers there: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest, docker_unavailable: str | None) -> Iterator[str]:
    """host:port of a real Kafka broker for the whole session."""
    given = os.environ.get("KAFKA_BOOTSTRAP", "").strip()
    if given:
        _check_bootstrap(given, "KAFKA_BOOTSTRAP")
        yield given
        return
    if docker_unavailable is None:
        bootstrap, stop = _kafka_container()
        yield bootstrap
        stop()
        return
    config: StackConfig = request.getfixturevalue("_stack_lease")
    result = _ops_stack_up(
        config, with_broker=True, with_database=False,
        missing=f"no Kafka broker for integration tests: KAFKA_BOOTSTRAP is not set, {docker_unavailable}",
    )
    yield result.bootstrap


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest, docker_unavailable: str | None) -> Iterator[str]:
    """SQLAlchemy URL (postgresql+psycopg://...) of a real PostgreSQL database for the session."""
    given = os.environ.get("DATABASE_URL", "").strip()
    if given:
        yield given
        return
    if docker_unavailable is None:
        url, stop = _postgres_container()
        yield url
        stop()
        return
    config: StackConfig = request.getfixturevalue("_stack_lease")
    result = _ops_stack_up(
        config, with_broker=False, with_database=True,
        missing=f"no PostgreSQL for integration tests: DATABASE_URL is not set, {docker_unavailable}",
    )
    yield result.database_url


#: The two database paths every database test runs on: the stack's cluster (TimescaleDB when it can
#: be had, and in CI) and a cluster that never loads it.
DB_PATHS = ("stack-db", "plain-db")
REQUIRE_TIMESCALEDB_ENV = "ARBEES_REQUIRE_TIMESCALEDB"  # CI sets it: the stack-db path must be TimescaleDB


def _timescaledb_loaded(url: str) -> bool:
    from ops.postgres.timescale import LOADED_SQL
    from ops.sink.store import conninfo

    with psycopg.connect(conninfo(url)) as conn:
        return bool(conn.execute(LOADED_SQL).fetchone()[0])  # type: ignore[index]


@pytest.fixture(scope="session")
def plain_database_url(request: pytest.FixtureRequest, docker_unavailable: str | None) -> Iterator[str]:
    """A server that does not load TimescaleDB (PLAIN_DATABASE_URL, else the stack's second, plain cluster)."""
    given = os.environ.get("PLAIN_DATABASE_URL", "").strip()
    if given:
        yield given
        return
    config: StackConfig = request.getfixturevalue("_stack_lease")
    result = _ops_stack_up(config, with_broker=False, with_database=False, with_plain_database=True,
                           missing="no plain PostgreSQL for integration tests: PLAIN_DATABASE_URL is not set")
    assert result.plain_database_url is not None
    yield result.plain_database_url


@pytest.fixture(params=DB_PATHS)
def server_url(request: pytest.FixtureRequest) -> str:
    """The server of one database path; with ARBEES_REQUIRE_TIMESCALEDB=1 the stack path must load TimescaleDB."""
    if request.param == "plain-db":
        url: str = request.getfixturevalue("plain_database_url")
        if _timescaledb_loaded(url):
            pytest.fail(f"the plain database path {url} loads TimescaleDB", pytrace=False)
        return url
    url = request.getfixturevalue("database_url")
    if os.environ.get(REQUIRE_TIMESCALEDB_ENV) == "1" and not _timescaledb_loaded(url):
        pytest.fail(f"{REQUIRE_TIMESCALEDB_ENV}=1 but {url} does not load TimescaleDB: see `arbees stack up`'s "
                    "database path line for why", pytrace=False)
    return url


@pytest.fixture()
def fresh_db(server_url: str) -> Iterator[str]:
    """An empty database of its own on the path's server (migrations are the test's to run)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"arbees_t_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # TimescaleDB's scheduler would run retention at once and drop a test's (old, recorded) rows under it:
        # the migrations leave the jobs to the stack's maintenance pass, which tests run when they mean to
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET arbees.maintenance = 'stack'"))
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _await_leaders(admin: AdminClient, name: str, partitions: int, timeout_s: float = 15.0) -> None:
    """Return once every partition of `name` has a leader in the broker's metadata."""
    deadline = time.monotonic() + timeout_s
    while True:
        topic = admin.list_topics(topic=name, timeout=5).topics.get(name)
        if topic is not None and topic.error is None and len(topic.partitions) == partitions:
            if all(p.leader >= 0 for p in topic.partitions.values()):
                return
        if time.monotonic() > deadline:
            pytest.fail(f"topic {name} has no leader for all {partitions} partitions after {timeout_s}s",
                        pytrace=False)
        time.sleep(0.1)


class TopicFactory(Protocol):
    def __call__(
        self, prefix: str = "test", partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> str: ...


@pytest.fixture
def topic_factory(kafka_bootstrap: str) -> Iterator[TopicFactory]:
    """Create uniquely named topics (the broker never auto-creates); delete them afterwards."""
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap, "log_level": 0})
    created: list[str] = []

    def create(prefix: str = "test", partitions: int = 1, config: Mapping[str, str] | None = None) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))],
            operation_timeout=30,
            request_timeout=30,
        )
        futures[name].result()
        created.append(name)
        _await_leaders(admin, name, partitions)
        return name

    yield create
    if created:
        for future in admin.delete_topics(created, operation_timeout=30, request_timeout=30).values():
            future.result()
