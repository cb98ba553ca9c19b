"""The test suite runs on a stack of its own, never the user's `.stack/` on 9092/9093/55432."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops import stack
from ops.postgres import cluster

REPO = Path(__file__).resolve().parents[3]
PROBE = (
    "import json, sys\n"
    "{imports}\n"
    "from ops.stack import StackConfig, kafka_bootstrap, database_url\n"
    "c = StackConfig.from_env()\n"
    "print(json.dumps([str(c.state_dir), c.broker.port, c.broker.controller_port, c.postgres.port,"
    " kafka_bootstrap(), database_url()]))\n"
)


def _resolve(imports: str, env: dict[str, str]) -> list[object]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _clean_env() -> dict[str, str]:
    """This environment without anything that names a stack: what a new user's shell has."""
    drop = {*stack.STACK_ENV, "KAFKA_BOOTSTRAP", "DATABASE_URL"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_suite_defaults_to_its_own_folder_and_ports() -> None:
    env = _clean_env()
    user = _resolve("", env)
    suite = _resolve("import tests.conftest", env)
    assert user[:4] == [str(REPO / ".stack"), 9092, 9093, 55432]
    assert suite[:4] == [str(REPO / ".stack-test"), 29092, 29093, 55532]
    assert suite[4] == "127.0.0.1:29092" and ":55532/" in str(suite[5])
    assert not set(user[1:4]) & set(suite[1:4])


def test_explicit_stack_env_wins() -> None:
    env = {**_clean_env(), "ARBEES_KAFKA_PORT": "19999", "ARBEES_KAFKA_CONTROLLER_PORT": "19998",
           "ARBEES_PG_PORT": "55999"}
    got = _resolve("import tests.conftest", env)
    assert got[:4] == [str(REPO / ".stack"), 19999, 19998, 55999]
    given = {**env, "KAFKA_BOOTSTRAP": "127.0.0.1:1234", "DATABASE_URL": "postgresql+psycopg://x@h:1/d"}
    assert _resolve("import tests.conftest", given)[4:] == ["127.0.0.1:1234", "postgresql+psycopg://x@h:1/d"]


def test_isolated_env_is_all_or_nothing() -> None:
    assert stack.isolated_env({}) == stack.TEST_STACK_DEFAULTS
    assert stack.isolated_env({}, stack.BENCH_STACK_DEFAULTS) == stack.BENCH_STACK_DEFAULTS
    for name in stack.STACK_ENV:
        assert stack.isolated_env({name: "1"}) == {}
        assert stack.isolated_env({name: "1"}, stack.BENCH_STACK_DEFAULTS) == {}
    assert stack.isolated_env({"ARBEES_PG_PORT": "  "}) == stack.TEST_STACK_DEFAULTS


def test_benchmarks_default_to_a_stack_of_their_own() -> None:
    """`make bench` / `make load` beside `make run` and `make test`: three stacks, no port or folder shared."""
    env = _clean_env()
    user = _resolve("", env)
    suite = _resolve("import tests.conftest", env)
    bench = _resolve("import bench.stack", env)
    assert bench[:4] == [str(REPO / ".stack-bench"), 39092, 39093, 55632]
    assert bench[4] == "127.0.0.1:39092" and ":55632/" in str(bench[5])
    assert not set(user[1:4]) & set(bench[1:4]) and not set(suite[1:4]) & set(bench[1:4])
    given = {**env, "ARBEES_KAFKA_PORT": "19999"}  # a stack the engineer chose wins
    assert _resolve("import bench.stack", given)[1] == 19999


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A world-traversable folder (pytest's tmp_path sits under a private one)."""
    folder = Path(tempfile.mkdtemp(prefix="arbees-isolation-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_can_traverse_follows_owner_group_other_bits(open_dir: Path) -> None:
    private = open_dir / "clone"
    private.mkdir()
    os.chmod(private, 0o700)
    me = os.stat(private).st_uid
    stranger = me + 4242
    assert cluster.can_traverse(private / "x" / "postgres", me, set())
    assert not cluster.can_traverse(private / "x" / "postgres", stranger, set())
    os.chmod(private, 0o710)
    assert cluster.can_traverse(private, stranger, {os.stat(private).st_gid})
    assert not cluster.can_traverse(private, stranger, set())
    os.chmod(private, 0o701)
    assert cluster.can_traverse(private, stranger, set())


@pytest.mark.skipif(os.geteuid() != 0, reason="the relocation applies to root only; as a user the cluster stays put")
def test_root_in_a_private_folder_relocates_the_cluster(open_dir: Path) -> None:
    private = open_dir / "clone"
    (private / ".stack").mkdir(parents=True)
    os.chmod(private, stat.S_IRWXU)
    wanted = private / ".stack" / "postgres"
    moved = cluster.reachable_state_dir(wanted)
    assert moved.parent == cluster.RELOCATED_ROOT and moved == cluster.reachable_state_dir(wanted)
    os.chmod(private, 0o755)
    assert cluster.reachable_state_dir(wanted) == wanted


@pytest.mark.skipif(os.geteuid() != 0, reason="the relocation applies to root only; as a user the cluster stays put")
def test_root_in_a_private_folder_relocates_the_plain_cluster_too(open_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's second cluster (the plain-db path) runs as `postgres` as well: `make test` as root in a private clone."""
    private = open_dir / "clone"
    (private / ".stack-test").mkdir(parents=True)
    os.chmod(private, stat.S_IRWXU)
    monkeypatch.setenv(stack.STACK_DIR_ENV, str(private / ".stack-test"))
    config = stack.StackConfig.from_env()
    for state in (config.postgres.state_dir, config.plain_postgres.state_dir):
        assert state.parent == cluster.RELOCATED_ROOT, state
    assert config.postgres.state_dir != config.plain_postgres.state_dir
    os.chmod(private, 0o755)
    assert stack.StackConfig.from_env().plain_postgres.state_dir == private / ".stack-test" / "postgres-plain"


@pytest.mark.skipif(os.geteuid() != 0, reason="the relocation applies to root only; as a user the cache stays put")
def test_root_in_a_private_folder_keeps_the_timescaledb_build_where_postgres_reads_it(
        open_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.postgres import timescale

    private = open_dir / "clone"
    private.mkdir()
    os.chmod(private, stat.S_IRWXU)
    monkeypatch.setenv(timescale.CACHE_ENV, str(private / ".stack" / "timescaledb"))
    assert timescale.cache_dir().parent == cluster.RELOCATED_ROOT  # the server loads the library as `postgres`
    os.chmod(private, 0o755)
    assert timescale.cache_dir() == private / ".stack" / "timescaledb"
