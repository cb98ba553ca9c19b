"""TimescaleDB for the local cluster: built once from a user-provided source tarball, loaded from the stack folder.

Debian does not package TimescaleDB, and its licence (the Timescale License for
the `tsl/` part) allows redistributing the source only unmodified and standalone,
so the project never carries it: `arbees stack up` builds it from a tarball the
user provides (ARBEES_TIMESCALEDB_SOURCE, else `../shared/vendor/timescaledb-*.tar.gz`
next to the repository) against the machine's PostgreSQL, and caches the result.

Nothing is installed system-wide: `make install DESTDIR=<cache>` stages the files,
and Debian's PostgreSQL reads extensions from there through its `extension_destdir`
setting (a Debian patch; upstream PostgreSQL 15 has no such setting). The library is
preloaded by absolute path. Without a source, a build toolchain or that setting the
plain-PostgreSQL path is taken, and `Plan.reason` says how to get the extension.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

SOURCE_ENV = "ARBEES_TIMESCALEDB_SOURCE"
CACHE_ENV = "ARBEES_TIMESCALEDB_CACHE"
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DEPS = "postgresql-server-dev-{major} cmake gcc make libssl-dev libkrb5-dev"
HOW_TO_GET = (
    "download the source tarball of a TimescaleDB release that supports PostgreSQL {major} "
    "(2.28.x is the last for 15: https://github.com/timescale/timescaledb/releases) and set "
    f"{SOURCE_ENV} to it, or put it in ../shared/vendor/ next to the repository; `arbees stack down` "
    "and `arbees stack up` then build it once (about a minute)"
)
#: One scheduler per database with the extension, plus the jobs it starts (PostgreSQL's default, 8, runs out
#: as soon as a few databases exist: jobs then fail with "failed to start a background worker").
WORKER_PROCESSES = 32
#: True when the server has the TimescaleDB library loaded (its loader registers this setting).
LOADED_SQL = "SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.max_background_workers')"
#: cmake switches: no regression/TAP harness and no linter, which the build does not need.
BOOTSTRAP_FLAGS = ("-DREGRESS_CHECKS=OFF", "-DTAP_CHECKS=OFF", "-DWARNINGS_AS_ERRORS=OFF", "-DLINTER=OFF")


class BuildError(RuntimeError):
    def __init__(self, message: str, detail: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Plan:
    """Which path the cluster takes. `destdir` and `library` are set on the TimescaleDB path."""

    timescaledb: bool
    reason: str
    version: str | None = None
    destdir: Path | None = None
    library: Path | None = None
    build_seconds: float | None = None  # set when this call built it (None: cached or no build)

    def server_options(self) -> str:
        """`postgres -c` options that load the extension (from the stack's folder when staged there)."""
        if not self.timescaledb or self.library is None:
            return ""
        if self.destdir is None:
            return (f" -c shared_preload_libraries={self.library} -c timescaledb.telemetry_level=off"
                    f" -c max_worker_processes={WORKER_PROCESSES}")
        # Background workers load their library by bare name ("timescaledb"), which only the library path
        # finds: without the staged folder on it, the job scheduler's launcher exits at every start.
        return (f" -c extension_destdir={self.destdir} -c shared_preload_libraries={self.library}"
                f" -c dynamic_library_path='$libdir:{self.library.parent}' -c timescaledb.telemetry_level=off"
                f" -c max_worker_processes={WORKER_PROCESSES}")


def cache_dir() -> Path:
    """ARBEES_TIMESCALEDB_CACHE, else `.stack/timescaledb` of the main checkout: git worktrees of one
    clone (and private stacks, ARBEES_STACK_DIR) share one build rather than each compiling it again."""
    from ops.postgres.cluster import reachable_state_dir  # cluster imports this module

    raw = os.environ.get(CACHE_ENV, "").strip()
    wanted = Path(raw).resolve() if raw else _main_checkout(REPO_ROOT) / ".stack" / "timescaledb"
    # The server loads the staged library as `postgres`: a clone in root's private folder keeps it elsewhere.
    return reachable_state_dir(wanted)


def _main_checkout(repo: Path) -> Path:
    """The main checkout of `repo` (itself, or the repository a git worktree belongs to)."""
    dotgit = repo / ".git"
    if dotgit.is_file():
        match = re.match(r"gitdir:\s*(.+)", dotgit.read_text().strip())
        if match:  # <main>/.git/worktrees/<name>
            gitdir = Path(match.group(1))
            if gitdir.parent.name == "worktrees":
                return gitdir.parent.parent.parent
    return repo


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", tarball_version(path) or "0"))


def find_source(repo: Path = REPO_ROOT) -> Path | None:
    """ARBEES_TIMESCALEDB_SOURCE, else the newest ../shared/vendor/timescaledb-*.tar.gz beside the repository
    (beside the main checkout, for a git worktree)."""
    given = os.environ.get(SOURCE_ENV, "").strip()
    if given:
        return Path(given).expanduser().resolve()
    vendor = _main_checkout(repo).parent / "shared" / "vendor"
    found = sorted(vendor.glob("timescaledb-*.tar.gz"), key=_version_key)
    return found[-1] if found else None


def tarball_version(path: Path) -> str | None:
    match = re.match(r"timescaledb-(\d+\.\d+\.\d+)\.tar\.gz$", path.name)
    return match.group(1) if match else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def has_extension_destdir(bindir: Path) -> bool:
    """Whether this server has Debian's `extension_destdir` setting."""
    proc = subprocess.run([str(bindir / "postgres"), "--describe-config"], capture_output=True, text=True,
                          timeout=60, cwd="/")
    return any(line.split("\t", 1)[0] == "extension_destdir" for line in proc.stdout.splitlines())


def missing_tools(bindir: Path) -> list[str]:
    """Build tools this machine lacks (PostgreSQL's server headers are found through pg_config)."""
    missing = [tool for tool in ("cmake", "make") if shutil.which(tool) is None]
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        missing.append("gcc")
    pg_config = bindir / "pg_config"
    if not pg_config.exists():
        missing.append("pg_config")
    else:
        server = subprocess.run([str(pg_config), "--includedir-server"], capture_output=True, text=True, timeout=30)
        if not (Path(server.stdout.strip()) / "postgres.h").exists():
            missing.append("PostgreSQL server headers")
    return missing


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Several test sessions may start stacks at once: one builds, the others wait for its result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def plan(bindir: Path, major: str, server_version: str) -> Plan:
    """Build (once) and locate TimescaleDB for this server, or say why the plain path is taken."""
    source = find_source()
    if source is None:
        return Plan(False, "no TimescaleDB source: " + HOW_TO_GET.format(major=major))
    version = tarball_version(source)
    if not source.is_file() or version is None:
        return Plan(False, f"{SOURCE_ENV}={source} is not a timescaledb-<version>.tar.gz file: "
                    + HOW_TO_GET.format(major=major))
    if not has_extension_destdir(bindir):
        return Plan(False, f"this PostgreSQL ({bindir}) cannot load extensions from a private folder "
                    "(no extension_destdir: not Debian's build); install TimescaleDB system-wide instead")
    target = cache_dir() / f"{version}-pg{server_version}"
    with _locked(cache_dir() / "build.lock"):
        stamp = target / "stamp.json"
        digest = _sha256(source)
        built: float | None = None
        if not stamp.exists() or json.loads(stamp.read_text()).get("sha256") != digest:
            missing = missing_tools(bindir)
            if missing:
                return Plan(False, f"cannot build TimescaleDB {version}: missing {', '.join(missing)} "
                            f"(Debian: apt-get install -y {BUILD_DEPS.format(major=major)})")
            built = build(source, version, bindir, target)
            stamp.write_text(json.dumps({"sha256": digest, "source": str(source), "seconds": round(built, 1),
                                         "server_version": server_version}) + "\n")
    library = _staged_library(target, bindir)
    return Plan(True, f"TimescaleDB {version} built from {source.name}, loaded from {target}", version,
                target / "root", library, built)


def _staged_library(target: Path, bindir: Path) -> Path:
    pkglibdir = subprocess.run([str(bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True,
                               timeout=30).stdout.strip()
    return target / "root" / pkglibdir.lstrip("/") / "timescaledb"


def build(source: Path, version: str, bindir: Path, target: Path) -> float:
    """Unpack, configure, compile and stage TimescaleDB into `target/root`; seconds taken."""
    began = time.monotonic()
    work = target.parent / f"build-{version}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    work.mkdir(parents=True)
    with tarfile.open(source) as archive:
        archive.extractall(work, filter="data")
    tops = [p for p in work.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "bootstrap").exists():
        raise BuildError(f"{source} does not hold one TimescaleDB source folder with a `bootstrap` script")
    src = tops[0]
    jobs = str(os.cpu_count() or 1)
    steps = (
        ["./bootstrap", f"-DPG_CONFIG={bindir / 'pg_config'}", *BOOTSTRAP_FLAGS],
        ["make", "-j", jobs, "-C", "build"],
        ["make", "-C", "build", "install", f"DESTDIR={target / 'root'}"],
    )
    say = Console(stderr=True, highlight=False).print  # minutes of silence would look like a hang
    say(f"TimescaleDB {version}: building it once from {source.name} (1-2 min on 2 cores; cached in {target})")
    for name, argv in zip(("configured", "compiled", "staged"), steps):
        proc = subprocess.run(argv, cwd=src, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise BuildError(f"building TimescaleDB {version} failed at `{' '.join(argv[:3])}` "
                             f"(exit {proc.returncode}): read the lines above",
                             tuple((proc.stdout + proc.stderr).strip().splitlines()[-25:]))
        say(f"TimescaleDB {version}: {name} ({time.monotonic() - began:.0f} s)")
    shutil.rmtree(work, ignore_errors=True)
    for path in (target, *target.rglob("*")):  # the server account (postgres) must read the stage
        if path.is_dir():
            path.chmod(0o755)
    return time.monotonic() - began
