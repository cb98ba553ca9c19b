"""Trading agents, built by the runner from streams/topology.py: one per route stage, and one that runs each record
of the account topics through sizing, execution and positions in turn.

What each stage reads, keys by, keeps and writes is declared in streams/topology.py; what it
does with a record is streams/trading/stages.py. This module only supplies the worker's
settings: the configuration file, the live venues (built only when every live switch is on,
streams.agents.live) and the operator's kill file, sampled per batch and checkpoint (streams.topology.Facts).

Crash safety: for every record the outputs are sent and their delivery awaited before the
stage's state is written to its changelog-backed table. A worker killed in between
re-processes the record and re-sends the same deterministic ids, which every consumer
deduplicates; it never loses one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from schemas.enums import TradingMode, Venue
from streams.agents import runner
from streams.agents.live import PolymarketLive
from streams.app import app, settings
from streams.config_file import load as load_config
from streams.topology import Facts, stage
from streams.trading.stages import Stages

CONFIG = load_config().trading  # arbees.toml or ARBEES_CONFIG, accounts scoped by ARBEES_ACCOUNTS
KILL_FILE = Path(os.environ.get("ARBEES_KILL_FILE", ".stack/KILL"))
_live: dict[Venue, Any] | None = None


def _live_venues() -> dict[Venue, Any]:
    """Built once, on first use, and only when every live switch is on (streams.agents.live)."""
    global _live
    if _live is None:
        from streams.agents.live import live_venues

        _live = live_venues(settings)
    return _live


def facts() -> Facts:
    return Facts(kill_file=str(KILL_FILE) if KILL_FILE.exists() else "")


handlers = Stages(CONFIG, settings.mode, _live_venues)
agents = runner.build_group("trading", handlers, facts)

HEARTBEAT_INTERVAL_S = 5.0  # Polymarket cancels every resting order ~10 s after the last beat


@app.timer(interval=HEARTBEAT_INTERVAL_S)
async def polymarket_live() -> None:
    """Live Polymarket bookkeeping: fills from the trades endpoint (MATCHED booked, FAILED reversed),
    FILLED statuses, and the heartbeat dead-man switch while orders rest. Nothing in paper mode."""
    if settings.mode is not TradingMode.LIVE:
        return
    venue = _live_venues().get(Venue.POLYMARKET)
    if not isinstance(venue, PolymarketLive):
        return
    for rec in await venue.tend(int(time.time() * 1000)):
        await runner.emit(stage("execution"), getattr(rec, "account", ""), [rec])
