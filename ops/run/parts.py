"""What `arbees run` runs: one process per part, described as data.

Each agent group is its own consumer group (ARBEES_APP_ID arbees-<group>,
ARBEES_AGENTS <group>), as in docker-compose.yml; each venue feed is one process
that follows every league or series the code supports; the sink writes every
topic into PostgreSQL. A replay swaps the live feeds for one process that plays a
recorded session onto the same topics (ops.run.replay); everything downstream is
the very same process set.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

#: One consumer group per agent module of streams.app.AGENT_MODULES (a test keeps the two equal).
AGENT_GROUPS = ("discovery", "targets", "router", "shard", "trading", "alerts")
FEEDS = ("espn", "kalshi", "polymarket", "coingecko", "fred", "polls")
#: Feeds that cannot start without a key: left out (and said so) when the variable is unset.
FEED_KEYS = {"fred": "FRED_API_KEY"}


class Kind(str, Enum):
    AGENTS = "agents"  # a Faust worker of one agent group
    FEED = "feed"  # a connector reaching an outside service
    SINK = "sink"
    REPLAY = "replay"  # a recorded session played onto the feed topics
    BOARD = "board"  # the web board (ops.board), served on ARBEES_BOARD_PORT


@dataclass(frozen=True)
class Part:
    """One supervised process: its name, what it is, how to start it."""

    name: str
    kind: Kind
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    metrics_port: int = 0
    #: a part that ends by itself when its work is done (a replay) is not restarted after exit 0
    finite: bool = False


def espn_leagues() -> tuple[str, ...]:
    from connectors.espn.leagues import LEAGUES

    return tuple(LEAGUES)


def kalshi_series() -> tuple[str, ...]:
    """Every series a matcher reads: each league's game series, the crypto price ladders, the economic releases."""
    from connectors.kalshi.normalize import SERIES_LEAGUES
    from streams.crypto.parse import KALSHI_SERIES as CRYPTO
    from streams.economics.parse import KALSHI_SERIES as ECONOMICS, UNFORECAST

    return (*SERIES_LEAGUES, *CRYPTO, *(series for series, (ind, _) in ECONOMICS.items() if ind not in UNFORECAST))


def polymarket_tags() -> tuple[str, ...]:
    """Gamma tag slugs of the sports leagues (Polymarket tags its league events with the league key), then the
    crypto, economics and politics categories."""
    from connectors.polymarket.normalize import MARKET_TYPE_TAGS

    return (*espn_leagues(), *MARKET_TYPE_TAGS)


def _agent_part(group: str, app_prefix: str) -> Part:
    return Part(
        name=group,
        kind=Kind.AGENTS,
        argv=(sys.executable, "-m", "streams.agents.worker", "worker", "-l", "info"),
        env={"ARBEES_APP_ID": f"{app_prefix}-{group}", "ARBEES_AGENTS": group, "ARBEES_MODE": "paper"},
    )


def feed_part(feed: str) -> Part:
    if feed == "espn":
        args: tuple[str, ...] = ("live", "--leagues", ",".join(espn_leagues()))
    elif feed == "kalshi":
        args = ("live", "--series", ",".join(kalshi_series()))
    elif feed == "polymarket":
        args = ("live", "--tags", ",".join(polymarket_tags()))
    else:
        args = ("live",)  # CoinGecko: its default coins; FRED: every series in connectors/fred; polls: its source
    return Part(name=feed, kind=Kind.FEED, argv=(sys.executable, "-m", f"connectors.{feed}", *args))


def _sink_part(app_prefix: str) -> Part:
    return Part(name="sink", kind=Kind.SINK, argv=(sys.executable, "-m", "ops.sink", "--consumer", f"{app_prefix}-sink"))


def board_port(env: Mapping[str, str]) -> int:
    """ARBEES_BOARD_PORT (default 8765): fixed, so the operator knows where to open it."""
    return int(env.get("ARBEES_BOARD_PORT", "") or 8765)


def _board_part(env: Mapping[str, str]) -> Part:
    return Part(name="board", kind=Kind.BOARD,
                argv=(sys.executable, "-m", "ops.cli", "board", "--port", str(board_port(env))))


def all_names() -> tuple[str, ...]:
    return (*FEEDS, *AGENT_GROUPS, "sink", "board")


class PlanError(ValueError):
    """`--only` named something that is not a part; the message lists the parts."""


def free_port() -> int:
    """A loopback port nobody listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_keys(env: Mapping[str, str]) -> dict[str, str]:
    """Feeds left out for want of their key: feed -> variable."""
    return {feed: var for feed, var in FEED_KEYS.items() if not env.get(var, "").strip()}


def plan(only: Sequence[str] = (), replay: Part | None = None, port: Callable[[], int] = free_port,
         app_prefix: str = "arbees", env: Mapping[str, str] | None = None) -> tuple[Part, ...]:
    """Every part to run, in start order (sink and agents before the feeds that wake them).

    `only` keeps the named parts; `replay` replaces the live feeds. Each part gets
    its own Prometheus port from `port` (a worker serves no Faust web: streams.agents.worker):
    other runs and test workers share this machine. Group `g` is the consumer
    group `<app_prefix>-g` (ARBEES_APP_ID under `arbees run`).
    """
    wanted = [n.strip() for n in only if n.strip()]
    unknown = [n for n in wanted if n not in all_names() and not (replay is not None and n == replay.name)]
    if unknown:
        raise PlanError(f"unknown part(s) {', '.join(unknown)}; parts are {', '.join(all_names())}")
    parts: list[Part] = [_sink_part(app_prefix), *(_agent_part(g, app_prefix) for g in AGENT_GROUPS)]
    unkeyed = missing_keys(os.environ if env is None else env)
    parts += [replay] if replay is not None else [feed_part(f) for f in FEEDS if f not in unkeyed]
    parts.append(_board_part(os.environ if env is None else env))
    if wanted:
        parts = [p for p in parts if p.name in wanted]
    out = []
    for p in parts:
        metrics = port()
        env = {**p.env, "ARBEES_METRICS_PORT": str(metrics), "ARBEES_PART": p.name}
        out.append(Part(p.name, p.kind, p.argv, env, metrics, p.finite))
    return tuple(out)


def log_path(run_dir: Path, part: Part) -> Path:
    return run_dir / "logs" / f"{part.name}.log"
