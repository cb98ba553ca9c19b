"""The fast backtest: the declared dataflow (streams/topology.py) in one tight, deterministic loop.

Input records (from topics or a list) are replayed in `replay_order` through the discovery,
router, shard and trading stages of the Faust agents, hosted in this process by
streams.local.LocalHost: the same handlers, the same routing, the same tables, the order the
event-time worker (streams/event_time_order.py) keeps — each input's whole cascade before the
next, its signals after the rest of it. Nothing here says which stage reads what or where an
output goes. Inputs go to the host in chunks of `shard_batch`, so the shard prices a chunk's
inputs in one numpy pass, as the agent prices a fetched batch; the outputs do not depend on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from schemas.records import LedgerEntry
from streams.config_file import ArbeesConfig, config_path
from streams.config_file import load as load_config
from streams.discovery import DiscoveryProcessor
from streams.local import LocalHost
from streams.shard.processor import ShardProcessor
from streams.shard.stage import ShardStage
from streams.trading.config import TradingConfig
from streams.trading.stages import Stages
from streams.upstream_stages import DiscoveryStages, RouterStages

from ops.backtest.records import BacktestError, BacktestResult, InputRecord, replay_order

#: The agent groups a backtest runs (the Kafka engine's worker runs the same: ops.backtest.kafka.DEFAULT_AGENTS).
GROUPS = ("discovery", "router", "shard", "trading")
#: Topics a run's result takes only the stages' outputs of (its input links are not discovery's).
UPSTREAM_OUTPUTS = ("markets.links", "shard.inputs", "model.probabilities", "signals", "alerts")
Progress = Callable[[int, int], None]
DEFAULT_BANKROLL_MICROS = 1_000_000_000


@dataclass(frozen=True)
class BacktestConfig:
    """What a run trades with; both engines read the same object."""

    #: The paper account the run trades (a fresh name keeps a Kafka run apart from live accounts).
    account: str = "backtest"
    #: Deposited before the first input (a `deposit` ledger entry, version 1).
    bankroll_micros: int = DEFAULT_BANKROLL_MICROS
    #: Event id prefixes the account trades; empty trades every event (ARBEES_TRADING_EVENTS).
    events: tuple[str, ...] = ()
    #: Shard inputs priced per numpy pass (the agent's ARBEES_SHARD_BATCH); outputs do not depend on it.
    shard_batch: int = 500
    #: The settings file (thresholds, sizing, risk, exits); empty: ARBEES_CONFIG, else the repository's arbees.toml.
    config_file: str = ""

    def worker_env(self) -> dict[str, str]:
        """The environment a Faust worker reads its settings from; the in-process engine reads the same."""
        path = Path(self.config_file).resolve() if self.config_file else config_path()
        return {"ARBEES_CONFIG": str(path), "ARBEES_ACCOUNTS": self.account, "ARBEES_TRADING_EVENTS": ",".join(self.events)}

    def settings(self) -> ArbeesConfig:
        """Shard and trading settings exactly as a worker started with `worker_env()` reads them."""
        return load_config(env=self.worker_env())

    def trading(self) -> TradingConfig:
        return self.settings().trading

    def deposit(self, ts: int) -> LedgerEntry:
        return LedgerEntry(
            entry_id=f"deposit:{self.account}:1", account=self.account, ts=ts, delta_micros=self.bankroll_micros,
            balance_micros=self.bankroll_micros, version=1, reason="deposit: backtest bankroll", ref="backtest",
        )


def first_ts(records: Sequence[InputRecord]) -> int:
    if not records:
        raise BacktestError("nothing to replay: the input is empty")
    return min(r.ts for r in records)


class InProcessEngine:
    """Runs a backtest in this process; two runs on the same input produce byte-identical outputs."""

    def __init__(self, config: BacktestConfig | None = None, discovery: DiscoveryProcessor | None = None) -> None:
        self.config = config or BacktestConfig()
        self.settings = self.config.settings()
        self.discovery = discovery or DiscoveryProcessor()

    def host(self) -> LocalHost:
        """The backtest's agent groups in process, with the settings a worker would read."""
        return LocalHost({
            "discovery": DiscoveryStages(self.discovery),
            "router": RouterStages(),
            "shard": ShardStage(ShardProcessor(self.settings.shard)),
            "trading": Stages(self.settings.trading),
        }, batch=self.config.shard_batch)

    def run(self, records: Iterable[InputRecord], progress: Progress | None = None) -> BacktestResult:
        ordered = replay_order(list(records))
        start_ts = first_ts(ordered)
        host = self.host()
        for rec in ordered:
            if not host.takes(rec.topic, rec.value):
                raise BacktestError(f"{rec.topic} record {type(rec.value).__name__} is not a backtest input")
        began = time.perf_counter()
        host.publish(self.config.deposit(start_ts - 1))
        step = max(1, self.config.shard_batch)
        for i in range(0, len(ordered), step):
            host.feed_many((r.topic, r.key, r.value) for r in ordered[i:i + step])
            if progress is not None:
                progress(min(i + step, len(ordered)), len(ordered))
        result = collect(host)
        result.inputs = len(ordered)
        result.seconds = time.perf_counter() - began
        return result


def collect(host: LocalHost) -> BacktestResult:
    """A run's outputs from the host's topics: the stages' own, and on the account topics the deposit too."""
    result = BacktestResult.from_topics({**host.log, **{t: host.emitted[t] for t in UPSTREAM_OUTPUTS}})
    result.deadletters = list(host.deadletters)
    return result
