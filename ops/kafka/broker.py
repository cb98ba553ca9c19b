"""Resolve, format, start, wait for and stop one Apache Kafka broker (KRaft, combined node).

The broker is the real thing: the `kafka_2.13` jars from Maven Central run by the
machine's Java, so integration tests and `arbees stack up` exercise the same
protocol, coordinators and log cleaner as production. Everything it writes (data,
logs, pid, rendered config) lives under the stack state folder, never in the repo.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ops.kafka.process import (
    adopt,
    cmdline,
    pid_alive,
    port_answers,
    port_is_free,
    read_pid,
    tail,
    terminate,
)

KAFKA_DIR = Path(__file__).resolve().parent
POM = KAFKA_DIR / "pom.xml"
LIB_DIR = KAFKA_DIR / "lib"
STAMP = LIB_DIR / ".pom.sha256"
TEMPLATE = KAFKA_DIR / "server.template.properties"
LOG4J2 = KAFKA_DIR / "log4j2.xml"

PORT_ENV = "ARBEES_KAFKA_PORT"
CONTROLLER_PORT_ENV = "ARBEES_KAFKA_CONTROLLER_PORT"
MIN_JAVA = 17
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
MAVEN_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
# Small heap, serial GC and C1 only: the broker starts in seconds on 2 cores.
JVM_OPTS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)


class BrokerError(RuntimeError):
    """The broker cannot be brought up; `str()` is one line saying what to do.

    `detail` carries supporting lines (the tail of a log) for the operator.
    """

    def __init__(self, message: str, detail: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class BrokerConfig:
    """Where the broker keeps its state and which loopback ports it listens on."""

    state_dir: Path
    port: int = 9092
    controller_port: int = 9093
    start_timeout_s: float = 90.0
    stop_grace_s: float = 20.0
    #: (listen port, advertised port): a second listener whose clients reach it through a proxy on the
    #: advertised port (the chaos run's delaying proxy, ops/chaos/proxy.py); None: no such listener
    proxied: tuple[int, int] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def properties(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "kafka.pid"

    @property
    def server_log(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def console_log(self) -> Path:
        """JVM stdout/stderr: where a crash before log4j starts ends up."""
        return self.logs_dir / "kafka.out"


@dataclass(frozen=True)
class BrokerStart:
    """Outcome of `start`: `started` is False when our broker was already running."""

    pid: int
    started: bool
    seconds: float
    jars_resolved: bool


def installed_version() -> str | None:
    """The Kafka version of the resolved jars (what `start` runs), None before resolving."""
    for jar in LIB_DIR.glob("kafka_2.13-*.jar"):
        match = re.fullmatch(r"kafka_2\.13-(.+)\.jar", jar.name)
        if match:
            return match.group(1)
    return None


def pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def jars_current() -> bool:
    """Whether lib/ holds the jars of the current pom.xml (the stamp records its hash)."""
    try:
        return STAMP.read_text().strip() == pom_digest()
    except OSError:
        return False


def ensure_jars() -> bool:
    """Copy the broker jars from Maven Central into lib/ unless they are current.

    Returns True when Maven ran. Resolves into a sibling folder and renames it, so
    an interrupted download never leaves a half-filled lib/ that looks current. One
    process at a time (a lock beside the pom): parallel test workers starting brokers
    at once on a fresh clone removed each other's half-resolved folder and failed.
    """
    if jars_current():
        return False
    (KAFKA_DIR / "target").mkdir(exist_ok=True)
    with open(KAFKA_DIR / "target" / "jars.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _resolve_jars()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _resolve_jars() -> bool:
    if jars_current():  # another process resolved them while this one waited
        return False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven not found: install it (Debian: apt-get install -y maven) so the Kafka jars "
            "can be resolved from Maven Central"
        )
    partial = KAFKA_DIR / "target" / "lib.partial"  # target/ is git-ignored
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(exist_ok=True)
    proc = subprocess.run(
        [mvn, "-B", "-q", MAVEN_PLUGIN, "-DincludeScope=runtime", f"-DoutputDirectory={partial}"],
        cwd=KAFKA_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        lines = tuple((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise BrokerError(
            f"Maven could not resolve the Kafka jars (exit {proc.returncode}): check access to "
            f"Maven Central, then run `arbees stack up` again",
            lines,
        )
    (partial / STAMP.name).write_text(pom_digest() + "\n")
    shutil.rmtree(LIB_DIR, ignore_errors=True)
    partial.rename(LIB_DIR)
    return True


def find_java() -> str:
    """The `java` executable, checked to be new enough for a Kafka 4 broker."""
    java = shutil.which("java")
    if java is None:
        raise BrokerError(
            f"Java not found: install a Java {MIN_JAVA}+ runtime "
            f"(Debian: apt-get install -y openjdk-17-jre-headless)"
        )
    proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if match is None:
        raise BrokerError(f"cannot tell the Java version of {java}: `java -version` said nothing usable")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_..." style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise BrokerError(
            f"Java {major} is too old for Kafka 4: install Java {MIN_JAVA}+ "
            f"(Debian: apt-get install -y openjdk-17-jre-headless)"
        )
    return java


def render_config(config: BrokerConfig) -> Path:
    """Write server.properties for this state folder and these ports (every start)."""
    text = Template(TEMPLATE.read_text()).substitute(
        port=config.port,
        controller_port=config.controller_port,
        data_dir=config.data_dir,
    )
    if config.proxied is not None:
        listen, advertised = config.proxied
        for key, value in (("listeners", f"PROXIED://127.0.0.1:{listen}"),
                           ("advertised.listeners", f"PROXIED://127.0.0.1:{advertised}"),
                           ("listener.security.protocol.map", "PROXIED:PLAINTEXT")):
            text = re.sub(rf"^{re.escape(key)}=", f"{key}={value},", text, count=1, flags=re.MULTILINE)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    config.properties.write_text(text)
    return config.properties


def new_cluster_id() -> str:
    """Base64url of 16 random bytes, no padding: Kafka's own cluster-id format.

    A leading '-' would be read as an option by the storage tool, so draw again.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(config: BrokerConfig, java: str) -> bool:
    """Format KRaft storage once; returns False when the data folder is already formatted."""
    if (config.data_dir / "meta.properties").exists():
        return False
    config.data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [java, *_jvm_common(config), STORAGE_TOOL, "format",
         "-t", new_cluster_id(), "-c", str(config.properties)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        lines = tuple((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise BrokerError(
            f"formatting Kafka storage in {config.data_dir} failed (exit {proc.returncode}): "
            f"remove that folder and run `arbees stack up` again",
            lines,
        )
    return True


def running_pid(config: BrokerConfig) -> int | None:
    """The pid of the broker of this state folder if it runs, else None.

    Identity is the command line (our main class and our properties file), so a
    recycled pid or a foreign broker on the same port is never taken for ours.
    """
    pid = read_pid(config.pid_file)
    if pid is not None and pid_alive(pid) and _is_ours(pid, config):
        return pid
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            candidate = int(proc.name)
            if _is_ours(candidate, config) and pid_alive(candidate):
                return candidate
    return None


def _is_ours(pid: int, config: BrokerConfig) -> bool:
    argv = cmdline(pid)
    return MAIN_CLASS in argv and str(config.properties) in argv


def _jvm_common(config: BrokerConfig) -> tuple[str, ...]:
    return (
        *JVM_OPTS,
        f"-Dlog4j2.configurationFile={LOG4J2}",
        f"-Dkafka.logs.dir={config.logs_dir}",
        "-cp",
        f"{LIB_DIR}/*",
    )


def check_ports(config: BrokerConfig) -> None:
    """Fail with one line naming the port and the variable to change when one is taken."""
    for port, env in ((config.port, PORT_ENV), (config.controller_port, CONTROLLER_PORT_ENV)):
        if not port_is_free(port):
            raise BrokerError(
                f"port {port} on 127.0.0.1 is already in use by another process: "
                f"set {env} to a free port (or stop whatever listens there)"
            )


def start(config: BrokerConfig) -> BrokerStart:
    """Bring the broker up and return once it answers metadata requests.

    Idempotent: when our broker already runs this only checks that it answers.
    """
    began = time.monotonic()
    pid = running_pid(config)
    if pid is not None:
        wait_ready(config, pid, config.start_timeout_s)
        return BrokerStart(pid=pid, started=False, seconds=time.monotonic() - began, jars_resolved=False)
    java = find_java()
    resolved = ensure_jars()
    check_ports(config)
    render_config(config)
    format_storage(config, java)
    config.logs_dir.mkdir(parents=True, exist_ok=True)
    marks = _log_marks(config)
    began = time.monotonic()
    with config.console_log.open("ab") as console:
        proc = subprocess.Popen(
            [java, *_jvm_common(config), MAIN_CLASS, str(config.properties)],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    adopt(proc)
    config.pid_file.write_text(f"{proc.pid}\n")
    try:
        wait_ready(config, proc.pid, config.start_timeout_s, marks)
    except BrokerError:
        terminate(proc.pid, grace_s=5.0)
        config.pid_file.unlink(missing_ok=True)
        raise
    return BrokerStart(pid=proc.pid, started=True, seconds=time.monotonic() - began, jars_resolved=resolved)


def wait_ready(config: BrokerConfig, pid: int, timeout_s: float, marks: tuple[int, int] = (0, 0)) -> None:
    """Poll until the broker lists its metadata; fail fast if the JVM dies meanwhile.

    `marks` are the log sizes before this start, so a failure shows only its own lines.
    """
    from confluent_kafka.admin import AdminClient  # heavy import, only when needed

    deadline = time.monotonic() + timeout_s
    admin: AdminClient | None = None
    while True:
        if not pid_alive(pid):
            raise _died(config, marks)
        if port_answers(config.port):
            if admin is None:
                admin = AdminClient({"bootstrap.servers": config.bootstrap, "log_level": 0})
            try:
                if admin.list_topics(timeout=2.0).brokers:
                    return
            except Exception:  # noqa: BLE001 - KafkaException while the broker finishes starting
                pass
        if time.monotonic() > deadline:
            raise BrokerError(
                f"the Kafka broker did not answer on {config.bootstrap} within {timeout_s:.0f}s: "
                f"see {config.server_log}",
                _log_tail(config, marks),
            )
        time.sleep(0.2)


def _died(config: BrokerConfig, marks: tuple[int, int]) -> BrokerError:
    lines = _log_tail(config, marks)
    cause = next(
        (line.strip() for line in reversed(lines) if re.search(r"ERROR|Exception|Error:", line)),
        lines[-1].strip() if lines else "no output",
    )
    return BrokerError(
        f"the Kafka broker exited while starting ({cause[:300]}): see {config.server_log}",
        lines,
    )


def _log_marks(config: BrokerConfig) -> tuple[int, int]:
    return tuple(path.stat().st_size if path.exists() else 0  # type: ignore[return-value]
                 for path in (config.server_log, config.console_log))


def _log_tail(config: BrokerConfig, marks: tuple[int, int], lines: int = 30) -> tuple[str, ...]:
    """The last lines each log gained since `marks` (all of it if the log rolled over)."""
    return tail(config.server_log, lines, marks[0]) + tail(config.console_log, lines, marks[1])


@dataclass(frozen=True)
class BrokerStop:
    """Outcome of `stop`: which pid was stopped (None if none ran) and whether it needed SIGKILL."""

    pid: int | None
    killed: bool


def stop(config: BrokerConfig) -> BrokerStop:
    """SIGTERM our broker (clean shutdown), SIGKILL after the grace period."""
    pid = running_pid(config)
    killed = False
    if pid is not None:
        killed = terminate(pid, config.stop_grace_s)
    config.pid_file.unlink(missing_ok=True)
    return BrokerStop(pid=pid, killed=killed)


def env_ports() -> tuple[int, int]:
    """Broker and controller ports from the environment (defaults 9092 and port + 1)."""
    port = _env_int(PORT_ENV, 9092)
    return port, _env_int(CONTROLLER_PORT_ENV, port + 1)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BrokerError(f"{name}={raw!r} is not a port number: set it to an integer 1024-65535") from None
    if not 0 < value < 65536:
        raise BrokerError(f"{name}={value} is out of range: set it to a port 1024-65535")
    return value
