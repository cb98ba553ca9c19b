"""`--replay SESSION`: a recorded session played onto the feed topics by one supervised part.

The session (data/sessions/<name>/, built by ops.sessions) goes through the
connectors' own normalizers (ops.sessions.replay.replay_session), so everything
downstream — agents, sink, screen — is the same process set as live. The part
publishes heartbeats like any feed and exits 0 when the session is played out.

    python -m ops.run.replay SESSION [--speed X]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.run.parts import Kind, Part

REPO = Path(__file__).resolve().parents[2]
SESSIONS = REPO / "data" / "sessions"


class SessionMissing(LookupError):
    """The named session is not in data/sessions/ (the message lists those that are)."""


def sessions() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in SESSIONS.glob("*") if (p / "feed.ndjson").exists()))


def session_dir(name: str) -> Path:
    """A session by name (data/sessions/<name>) or by path."""
    given = Path(name)
    for candidate in (given, SESSIONS / name):
        if (candidate / "feed.ndjson").exists():
            return candidate.resolve()
    known = ", ".join(sessions()) or "none yet"
    raise SessionMissing(f"no recorded session {name!r} (a folder with feed.ndjson); sessions: {known}")


@dataclass(frozen=True)
class SettlingClock:
    """The session's replay clock, plus a pause after each game state.

    The router reads game states and quotes from different topics, and Faust
    reads topics side by side, not in log order: compressed, a score change and
    the quotes that follow it can reach the shard swapped, and the signals the
    state triggers come out behind the account's event-time watermark (refused as
    stale). Letting each state settle before the next payload keeps their order.
    """

    inner: Any
    settle_s: float = 1.0
    floor_s: float = 0.0  # least pause between any two payloads: what the slowest agent keeps up with

    def gap_s(self, prev: Any, nxt: Any) -> float:
        gap = max(self.inner.gap_s(prev, nxt), self.floor_s)
        return max(gap, self.settle_s) if prev.source == "espn" else gap


def replay_part(name: str, speed: float | None = None, app_prefix: str = "arbees") -> Part:
    """The replay part; without `speed` it runs in lockstep with the trading group `<app_prefix>-trading`."""
    folder = session_dir(name)
    argv = (sys.executable, "-m", "ops.run.replay", str(folder), "--inbox", f"{app_prefix}-trading-trading-inbox",
            *(("--speed", f"{speed:g}") if speed else ()))
    return Part(name="replay", kind=Kind.REPLAY, argv=argv, finite=True)


def lockstep(folder: Path, bootstrap: str, inbox: str, timeout_s: float) -> Any:
    """Replay in lockstep with the in-process engine's run of the session (ops/sessions/lockstep.py); None: not possible.

    Compressed, the agent groups read quotes minutes of game time ahead of the signals they
    size (the price band refuses them all); in lockstep each payload waits for what the
    engine had written by then. The engine trades the run's first account (ARBEES_ACCOUNTS
    or arbees.toml), which must be new: it gets the engine's deposit. One event is followed
    (the session's with most shard inputs); a wait longer than `timeout_s` plays the rest unpaced.
    """
    from collections import Counter

    from confluent_kafka import Consumer

    from connectors.publisher import Publisher
    from ops.backtest.inprocess import BacktestConfig, InProcessEngine, first_ts
    from ops.demo import OUTPUTS, LogReader, latest_on_log, log_ends
    from ops.sessions.lockstep import Progress, replay_in_lockstep
    from ops.sessions.replay import load_session
    from schemas.records import LedgerEntry
    from streams.config_file import load as load_config

    account = load_config().trading.accounts[0]
    if latest_on_log(bootstrap, "ledger", lambda r: r.account if isinstance(r, LedgerEntry) and r.account == account else None):
        print(f"account {account} has a ledger already: replaying unpaced (a new ARBEES_ACCOUNTS replays in lockstep)", flush=True)
        return None
    config = BacktestConfig(account=account, config_file=os.environ.get("ARBEES_CONFIG", ""), shard_batch=1)
    inputs = load_session(folder)
    want = InProcessEngine(config).run(inputs)
    events = Counter(i.event_id for i in want.shard_inputs)
    if not events:
        return None
    event_id = events.most_common(1)[0][0]
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "arbees-replay-probe", "log_level": 0})
    try:  # the trading group creates its inbox when it starts; asking for it by name could create it wrong
        deadline = time.monotonic() + timeout_s
        while inbox not in probe.list_topics(timeout=10).topics:
            if time.monotonic() > deadline:
                print(f"no {inbox} after {timeout_s:.0f}s: replaying unpaced", flush=True)
                return None
            time.sleep(1.0)
    finally:
        probe.close()
    progress = Progress(event_id, account)
    reader = LogReader(bootstrap, log_ends(bootstrap, OUTPUTS), keep=progress.keep)
    pub = Publisher(bootstrap, service="replay")
    pub.publish("ledger", account, config.deposit(first_ts(inputs) - 1))
    pub.flush()
    print(f"replaying in lockstep with the in-process engine: {event_id}, account {account}", flush=True)
    try:
        return replay_in_lockstep(folder, bootstrap, want, reader, progress, inbox, service="replay", timeout_s=timeout_s,
                                  latency_ms=config.settings().trading.paper.latency_ms, strict=False)
    finally:
        reader.close()


def main(argv: list[str] | None = None) -> int:
    from connectors.lifecycle import start_heartbeats
    from connectors.publisher import Publisher
    from ops.sessions.replay import ReplayClock, replay_session
    from ops.stack import kafka_bootstrap
    from telemetry import heartbeat
    from telemetry.meter import meter

    ap = argparse.ArgumentParser(prog="python -m ops.run.replay", description=__doc__.splitlines()[0])
    ap.add_argument("session", help="session name in data/sessions/ or its folder")
    ap.add_argument("--speed", type=float, default=None, help="x recorded time between payloads (default: as fast as ordering allows)")
    ap.add_argument("--inbox", default="", help="the trading group's `<app id>-trading-inbox`: replay in lockstep with it")
    ap.add_argument("--lockstep-timeout-s", type=float, default=float(os.environ.get("ARBEES_REPLAY_LOCKSTEP_S", "") or 180.0),
                    help="longest wait for the agents after one payload, then the rest plays unpaced (ARBEES_REPLAY_LOCKSTEP_S)")
    ap.add_argument("--settle-s", type=float, default=float(os.environ.get("ARBEES_REPLAY_SETTLE_S", "") or 1.0),
                    help="pause after each game state (see SettlingClock; ARBEES_REPLAY_SETTLE_S)")
    ap.add_argument("--floor-s", type=float, default=float(os.environ.get("ARBEES_REPLAY_FLOOR_S", "") or 0.0),
                    help="least pause between any two payloads (ARBEES_REPLAY_FLOOR_S)")
    args = ap.parse_args(argv)
    folder = session_dir(args.session)
    bootstrap = kafka_bootstrap()
    part_meter = meter("replay")
    publisher = Publisher(bootstrap, service="replay")
    beater = start_heartbeats(publisher, live=False)
    try:
        stats = None
        if args.inbox and args.speed is None:
            stats = lockstep(folder, bootstrap, args.inbox, args.lockstep_timeout_s)
        if stats is None:
            clock = SettlingClock(ReplayClock(speed=args.speed), args.settle_s, args.floor_s)
            stats = replay_session(folder, bootstrap, clock=clock, service="replay")  # type: ignore[arg-type]
        print(f"replayed {stats.payloads} payloads of {folder.name} in {stats.seconds:.1f}s: "
              + ", ".join(f"{t} {n}" for t, n in sorted(stats.published.items())), flush=True)
    finally:
        beater.stop()
    # the last word: interval 0 means "no more heartbeats", so silence from here on is not a miss
    last = heartbeat.build(part_meter, ts=int(time.time() * 1000), every_s=0, state="finished")
    publisher.publish("health", f"{last.service}:{last.instance}", last)
    publisher.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
