"""A throwaway PostgreSQL cluster in the stack state folder, on its own loopback port.

Uses the machine's server binaries (Debian keeps them in
/usr/lib/postgresql/<major>/bin, off PATH) and installs Debian's `postgresql`
package when there are none. `initdb` and `postgres` refuse to run as root, and
sessions and CI run as root, so as root every server command runs as the
`postgres` user through `runuser`, with the cluster folders owned by it.
Authentication is `trust`, which is safe only because the server listens on
127.0.0.1 and a socket in the state folder, nothing else (a socket only, for a
cluster with `tcp=False`). TimescaleDB is loaded when `ops.postgres.timescale`
can provide it (see there); a cluster with `timescaledb=False` is plain PostgreSQL.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ops.kafka.process import cmdline, pid_alive, port_is_free, read_pid, tail, terminate
from ops.postgres import timescale
from ops.postgres.timescale import BuildError, Plan

PORT_ENV = "ARBEES_PG_PORT"
DEFAULT_PORT = 55432
DATABASE = "arbees"
SUPERUSER = "postgres"
SERVER_USER = "postgres"  # OS account that owns the cluster when we run as root


class PostgresError(RuntimeError):
    """The database cannot be brought up; `str()` is one line saying what to do."""

    def __init__(self, message: str, detail: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class PostgresConfig:
    """Where the cluster lives and which loopback port it serves."""

    state_dir: Path
    port: int = DEFAULT_PORT
    start_timeout_s: int = 60
    tcp: bool = True  # False: the private socket only (a second cluster may then share the port number)
    timescaledb: bool = True  # False: never load TimescaleDB (the plain-PostgreSQL path)

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "postgres.log"

    @property
    def pid_file(self) -> Path:
        """Written by the postmaster itself; its first line is the pid."""
        return self.data_dir / "postmaster.pid"

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of the `arbees` database."""
        if not self.tcp:
            return f"postgresql+psycopg://{SUPERUSER}@/{DATABASE}?host={self.socket_dir}&port={self.port}"
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def conninfo(self, dbname: str = DATABASE) -> str:
        """libpq connection string for psycopg."""
        host = "127.0.0.1" if self.tcp else str(self.socket_dir)
        return f"host={host} port={self.port} user={SUPERUSER} dbname={dbname} connect_timeout=5"


@dataclass(frozen=True)
class Binaries:
    """The server programs of one PostgreSQL major version."""

    bindir: Path
    major: str

    @property
    def initdb(self) -> str:
        return str(self.bindir / "initdb")

    @property
    def pg_ctl(self) -> str:
        return str(self.bindir / "pg_ctl")

    @property
    def sharedir(self) -> Path:
        """/usr/lib/postgresql/15/bin -> /usr/share/postgresql/15 on Debian."""
        debian = Path("/usr/share/postgresql") / self.major
        return debian if debian.is_dir() else self.bindir.parent / "share" / "postgresql"

    def has_timescaledb(self) -> bool:
        """Whether the TimescaleDB extension is installed system-wide for this server version."""
        return (self.sharedir / "extension" / "timescaledb.control").exists()

    def server_version(self) -> str:
        """"15.18" from `postgres --version`."""
        proc = subprocess.run([str(self.bindir / "postgres"), "--version"], capture_output=True, text=True,
                              timeout=30, cwd="/")
        match = re.search(r"(\d+(?:\.\d+)?)", proc.stdout)
        return match.group(1) if match else self.major


@dataclass(frozen=True)
class PostgresStart:
    """Outcome of `start`: `started` is False when our cluster was already running."""

    pid: int
    started: bool
    seconds: float
    installed_package: bool
    initialised: bool
    major: str
    timescale: Plan  # the path taken; for a cluster already running, what its server preloads


@dataclass(frozen=True)
class PostgresStop:
    pid: int | None
    killed: bool


def find_binaries() -> Binaries | None:
    """The newest server binaries on this machine, or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        bindir = candidates[-1].parent
        return Binaries(bindir=bindir, major=bindir.parent.name)
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        proc = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
        bindir = Path(proc.stdout.strip())
        if proc.returncode == 0 and (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            version = subprocess.run([pg_config, "--version"], capture_output=True, text=True, timeout=30)
            match = re.search(r"(\d+)", version.stdout)
            return Binaries(bindir=bindir, major=match.group(1) if match else "?")
    return None


def ensure_binaries() -> tuple[Binaries, bool]:
    """Server binaries, installing Debian's `postgresql` package if there are none."""
    found = find_binaries()
    if found is not None:
        return found, False
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        raise PostgresError(
            "PostgreSQL server binaries not found: install them "
            "(Debian: apt-get install -y postgresql) and run `arbees stack up` again"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:  # stale package lists: refresh once and retry
        subprocess.run([apt, "update", "-q"], capture_output=True, text=True, env=env, timeout=900)
        proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=1800)
    found = find_binaries()
    if proc.returncode != 0 or found is None:
        raise PostgresError(
            "installing Debian's postgresql package failed: run `apt-get install -y postgresql` "
            "and read its error",
            tuple((proc.stdout + proc.stderr).strip().splitlines()[-20:]),
        )
    return found, True


def reachable_state_dir(wanted: Path) -> Path:
    """Where the cluster of `wanted` lives: there, unless root runs us and the server account cannot reach it.

    A clone in a private folder (e.g. /root/arbees, mode 700) run as root is
    normal; PostgreSQL then runs as `postgres`, which cannot traverse that folder.
    The cluster moves to /var/tmp/arbees-postgres/<digest of `wanted`>: stable per
    checkout, so every later command finds the same cluster, and never shared.
    """
    if os.geteuid() != 0:
        return wanted
    try:
        account = pwd.getpwnam(SERVER_USER)
    except KeyError:
        return wanted  # _prepare_dirs says what to do
    groups = {account.pw_gid, *(g.gr_gid for g in grp.getgrall() if SERVER_USER in g.gr_mem)}
    if can_traverse(wanted, account.pw_uid, groups):
        return wanted
    digest = hashlib.sha1(str(wanted).encode()).hexdigest()[:12]
    return RELOCATED_ROOT / digest


RELOCATED_ROOT = Path("/var/tmp/arbees-postgres")


def can_traverse(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether user `uid` (groups `gids`) may search every existing ancestor of `path`."""
    for folder in (path, *path.parents):
        try:
            st = folder.stat()
        except FileNotFoundError:
            continue  # created later by us and chowned to the server account
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in gids:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", SERVER_USER, "--", *argv]


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=timeout, cwd="/")


def _prepare_dirs(config: PostgresConfig) -> None:
    """Create the cluster folders, owned by the server account when we are root."""
    for path in (config.state_dir, config.socket_dir, config.log_dir):
        path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresError(
            f"running as root but there is no `{SERVER_USER}` user to run PostgreSQL: "
            f"create it (useradd --system {SERVER_USER}) or install Debian's postgresql package"
        ) from None
    for path in (config.state_dir, config.socket_dir, config.log_dir):
        os.chown(path, account.pw_uid, account.pw_gid)
    probe = _run(["test", "-w", str(config.state_dir)], timeout=30)
    if probe.returncode != 0:
        raise PostgresError(
            f"the `{SERVER_USER}` user cannot reach {config.state_dir}: make its parent folders "
            f"world-traversable (chmod o+x) or set ARBEES_STACK_DIR to a folder outside them"
        )


def init_cluster(config: PostgresConfig, binaries: Binaries) -> bool:
    """initdb once (trust auth, loopback only); returns False when already initialised."""
    _prepare_dirs(config)
    if (config.data_dir / "PG_VERSION").exists():
        return False
    proc = _run(
        [binaries.initdb, "-D", str(config.data_dir), "-U", SUPERUSER, "-A", "trust",
         "-E", "UTF8", "--locale=C", "--no-instructions"],
        timeout=300,
    )
    if proc.returncode != 0:
        raise PostgresError(
            f"initdb into {config.data_dir} failed (exit {proc.returncode}): remove that folder "
            f"and run `arbees stack up` again",
            tuple((proc.stdout + proc.stderr).strip().splitlines()[-20:]),
        )
    hba = (
        "# Throwaway cluster of `arbees stack`: trust, loopback and the private socket only.\n"
        "local all all trust\n"
        "host  all all 127.0.0.1/32 trust\n"
        "host  all all ::1/128 trust\n"
    )
    hba_path = config.data_dir / "pg_hba.conf"
    hba_stat = hba_path.stat()
    hba_path.write_text(hba)
    os.chown(hba_path, hba_stat.st_uid, hba_stat.st_gid)
    return True


def running_pid(config: PostgresConfig) -> int | None:
    """The postmaster pid of this cluster if it runs (checked by command line), else None."""
    pid = read_pid(config.pid_file)
    if pid is None or not pid_alive(pid):
        return None
    argv = cmdline(pid)
    if not argv or str(config.data_dir) not in argv:
        return None
    return pid


def start(config: PostgresConfig) -> PostgresStart:
    """Bring the cluster up and make sure the `arbees` database exists. Idempotent."""
    began = time.monotonic()
    binaries, installed = ensure_binaries()
    pid = running_pid(config)
    if pid is not None:
        ensure_database(config)
        return PostgresStart(pid, False, time.monotonic() - began, installed, False, binaries.major,
                             running_plan(config))
    if config.tcp and not port_is_free(config.port):
        raise PostgresError(
            f"port {config.port} on 127.0.0.1 is already in use by another process: "
            f"set {PORT_ENV} to a free port (or stop whatever listens there)"
        )
    initialised = init_cluster(config, binaries)
    plan = timescale_plan(config, binaries)
    listen = "127.0.0.1" if config.tcp else "''"
    options = f"-p {config.port} -k {config.socket_dir} -c listen_addresses={listen}" + plan.server_options()
    proc = _run(
        [binaries.pg_ctl, "-D", str(config.data_dir), "-o", options, "-l", str(config.log_file),
         "-w", "-t", str(config.start_timeout_s), "start"],
        timeout=config.start_timeout_s + 30,
    )
    pid = running_pid(config)
    if proc.returncode != 0 or pid is None:
        lines = tail(config.log_file, 30)
        output = (proc.stdout + proc.stderr).strip().splitlines()
        fatal = [line for line in lines if re.search(r"FATAL|ERROR|PANIC", line)]
        cause = (fatal[-1] if fatal else output[-1] if output else "no output").strip()
        raise PostgresError(f"PostgreSQL did not start ({cause[:200]}): see {config.log_file}", lines)
    ensure_database(config)
    return PostgresStart(pid, True, time.monotonic() - began, installed, initialised, binaries.major, plan)


def timescale_plan(config: PostgresConfig, binaries: Binaries) -> Plan:
    """The TimescaleDB path when it can be had (system-wide, or built into the stack), else why not."""
    if not config.timescaledb:
        return Plan(False, "plain PostgreSQL by configuration")
    if binaries.has_timescaledb():
        return Plan(True, f"TimescaleDB installed system-wide in {binaries.sharedir}", library=Path("timescaledb"))
    try:
        return timescale.plan(binaries.bindir, binaries.major, binaries.server_version())
    except BuildError as exc:
        log = timescale.cache_dir() / "build.log"
        log.write_text("\n".join(exc.detail) + "\n")
        return Plan(False, f"{exc} (plain PostgreSQL taken; build output in {log})")


def running_plan(config: PostgresConfig) -> Plan:
    """What a running server preloads (it was started earlier, maybe before TimescaleDB was built)."""
    import psycopg

    with psycopg.connect(config.conninfo("postgres")) as conn:
        loaded = bool(conn.execute(timescale.LOADED_SQL).fetchone()[0])  # type: ignore[index]
        preload = str(conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0])  # type: ignore[index]
    if loaded:
        return Plan(True, f"TimescaleDB preloaded ({preload})")
    return Plan(False, "running without TimescaleDB (started without it): `arbees stack down` and "
                "`arbees stack up` load it when it can be had")


def ensure_database(config: PostgresConfig) -> None:
    """Create the `arbees` database when it is missing."""
    import psycopg

    with psycopg.connect(config.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
        if exists is None:
            conn.execute(f'create database "{DATABASE}"')


def stop(config: PostgresConfig) -> PostgresStop:
    """Fast shutdown (disconnect clients, checkpoint); SIGKILL only if that fails."""
    pid = running_pid(config)
    if pid is None:
        return PostgresStop(pid=None, killed=False)
    binaries = find_binaries()
    if binaries is not None:
        _run([binaries.pg_ctl, "-D", str(config.data_dir), "-m", "fast", "-w", "-t", "30", "stop"],
             timeout=60)
    killed = terminate(pid, grace_s=5.0, group=False) if pid_alive(pid) else False
    return PostgresStop(pid=pid, killed=killed)


def env_port() -> int:
    """Database port from ARBEES_PG_PORT (default 55432)."""
    raw = os.environ.get(PORT_ENV, "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise PostgresError(f"{PORT_ENV}={raw!r} is not a port number: set it to an integer 1024-65535")
    return int(raw)
