"""Process and port helpers shared by the broker and the database of the local stack.

Kept free of Kafka specifics so `ops/postgres` can use them too. Liveness treats
zombies as dead: a broker started by a long-lived process (a pytest session) stays
that process's child, and `kill(pid, 0)` succeeds on an unreaped zombie.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path


# Long-running children this process started (the broker). Holding the Popen keeps
# it from warning when collected, and polling it reaps the child the proper way.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def adopt(proc: subprocess.Popen[bytes]) -> None:
    """Track a detached child so `pid_alive` polls it instead of guessing from /proc."""
    _CHILDREN[proc.pid] = proc


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a running (not zombie) process; reaps it if it is our dead child."""
    if pid <= 0:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # Field 3, after the parenthesised command name (which may itself hold spaces).
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def cmdline(pid: int) -> tuple[str, ...]:
    """The argv of `pid`, empty when it cannot be read (gone, or another namespace)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def read_pid(path: Path) -> int | None:
    """The pid stored in `path`, or None when the file is missing or garbled."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `host:port` now.

    SO_REUSEADDR mirrors what the JVM and PostgreSQL do, so sockets lingering in
    TIME_WAIT from a previous run do not count as taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def terminate(pid: int, grace_s: float, *, group: bool = True) -> bool:
    """SIGTERM `pid` (its process group when `group`), SIGKILL after `grace_s`.

    Returns True when the process had to be killed. A JVM or a wedged worker may
    ignore SIGTERM; nothing may be left running after `down`.
    """
    if not pid_alive(pid):
        return False
    _signal(pid, signal.SIGTERM, group)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return False
        time.sleep(0.1)
    _signal(pid, signal.SIGKILL, group)
    deadline = time.monotonic() + 10.0
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    try:
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def tail(path: Path, lines: int, start: int = 0) -> tuple[str, ...]:
    """The last `lines` lines of a text file after byte `start`, empty when it does not exist.

    A file now shorter than `start` was rotated or truncated: read it whole.
    """
    try:
        with path.open("rb") as handle:
            if start <= path.stat().st_size:
                handle.seek(start)
            return tuple(
                line.decode(errors="replace").rstrip("\n") for line in deque(handle, maxlen=lines)
            )
    except OSError:
        return ()
