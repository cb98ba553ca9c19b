"""The fast backtest: the agents' pure processors in one tight, deterministic loop.

Input records (from topics or a list) are replayed in `replay_order` through the
same processors the Faust agents wrap, wired the way the agents wire them:

    events.state ─┬─ discovery ── links ─┐
    markets.catalog ┘                    ├─ router ── shard.inputs ── shard ── probabilities, signals
    markets.links / markets.quotes ──────┘                 └────────────── trading topology (route → sizing, execution, positions)

Each input's cascade through discovery and the router completes before the next
input. Shard inputs are priced in batches (`ShardProcessor.step_batch`, whose
outputs equal record-by-record stepping by design) and then published to the
trading topology input record by input record: its shard inputs, then the signals
they triggered, each with its whole trading cascade. The Kafka engine's worker keeps
the same order (streams/event_time_order.py). The trading stages are the
Faust agents' own (streams/topology.py, run in process by streams.local.LocalHost).
Trading never feeds back into the shard, so deferring it to the end of a batch changes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from schemas.codec import default_codec
from schemas.deadletters import dead_letter
from schemas.records import Alert, EventState, Fill, LedgerEntry, MarketLink, MarketListing, Order, OrderStatus
from schemas.records import PositionEvent, Quote, RiskEvent, ShardInput, Signal
from streams import router
from streams.discovery import DiscoveryProcessor, DiscoveryState
from streams.config_file import ArbeesConfig, config_path
from streams.config_file import load as load_config
from streams.shard.processor import Output as ShardOutput
from streams.shard.processor import ShardProcessor
from streams.shard.state import BadShardInput, ShardState
from streams.trading.config import TradingConfig
from streams.local import LocalHost
from streams.trading.stages import Stages
from streams.topology import upstream

from ops.backtest.records import BacktestError, BacktestResult, InputRecord, replay_order

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


@dataclass
class _Pipeline:
    """Processor states of one run; `feed` is one input record's whole cascade."""

    config: BacktestConfig
    discovery: DiscoveryProcessor
    shard: ShardProcessor
    result: BacktestResult
    trading: LocalHost
    discovery_states: dict[str, DiscoveryState] = field(default_factory=dict)
    routes: dict[str, router.MarketRoute] = field(default_factory=dict)
    shard_states: dict[str, ShardState] = field(default_factory=dict)
    pending: list[ShardInput] = field(default_factory=list)
    #: where each input record's shard inputs end in `pending`
    ends: list[int] = field(default_factory=list)

    def feed(self, rec: InputRecord) -> None:
        value = rec.value
        if isinstance(value, EventState):
            self._route_state(value)
            self._discover(value)
        elif isinstance(value, MarketListing):
            self._discover(value)
            self._route(rec.key, value)
        elif isinstance(value, (MarketLink, Quote)):
            self._route(rec.key, value)
        else:
            raise BacktestError(f"{rec.topic} record {type(value).__name__} is not a backtest input")
        self.ends.append(len(self.pending))
        if len(self.pending) >= self.config.shard_batch:
            self.flush()

    # ------------------------------------------------------------ discovery and routing

    def _discover(self, record: EventState | MarketListing) -> None:
        key = self.discovery.state_key(record)
        state, outputs = self.discovery.step(self.discovery_states.get(key) or DiscoveryState(), record)
        self.discovery_states[key] = state
        for out in outputs:
            topic, key, value = upstream("discovery", out)
            if topic == "markets.links":
                self.result.links.append(value)
                self._route(key, value)
            else:
                self.result.alerts.append(value)

    def _route(self, key: str, record: Quote | MarketLink | MarketListing) -> None:
        route, outputs = router.step(self.routes.get(key) or router.MarketRoute(), record)
        self.routes[key] = route
        for _, value in outputs:
            self.pending.append(value)

    def _route_state(self, state: EventState) -> None:
        _, value = router.route_state(state)
        self.pending.append(value)

    # ------------------------------------------------------------ shard and trading

    def flush(self) -> None:
        batch, ends, self.pending, self.ends = self.pending, self.ends, [], []
        if not batch:
            return
        priced = self._price(batch)
        start = 0
        for end in (*ends, len(batch)):  # one input record's shard inputs, then their signals
            signals: list[Signal] = []
            for record, outputs in zip(batch[start:end], priced[start:end]):
                self.result.shard_inputs.append(record)
                for out in outputs:
                    if isinstance(out, Signal):
                        self.result.signals.append(out)
                        signals.append(out)
                    else:
                        self.result.probabilities.append(out)
                self.trading.publish(record)  # the trading topology fans a traded event's market data out per account
            for sig in signals:
                self.trading.publish(sig)
            start = end

    def _price(self, batch: list[ShardInput]) -> list[list[ShardOutput]] | list[list[ShardOutput]]:
        """One numpy pass for the batch; a refused record is dead-lettered and the batch re-run without it."""
        touched = {r.event_id for r in batch}
        given = {e: self.shard_states[e] for e in touched if e in self.shard_states}
        try:
            states, outputs = self.shard.step_batch(given, batch)
        except BadShardInput:
            return self._price_one_by_one(batch)
        self.shard_states.update(states)
        return outputs

    def _price_one_by_one(self, batch: list[ShardInput]) -> list[list[ShardOutput]]:
        """The agent dead-letters a refused record and goes on; this is that, record by record."""
        out: list[list[ShardOutput]] = []
        for record in batch:
            state = self.shard_states.get(record.event_id) or ShardState(event_id=record.event_id)
            try:
                state, outputs = self.shard.step(state, record)
            except BadShardInput as exc:
                self.result.deadletters.append(dead_letter(
                    topic="shard.inputs", value=default_codec().encode(record), error=exc, service="shard",
                    ts=record.ts, key=record.event_id.encode(),
                ))
                out.append([])
                continue
            self.shard_states[record.event_id] = state
            out.append(outputs)
        return out

class InProcessEngine:
    """Runs a backtest in this process; two runs on the same input produce byte-identical outputs."""

    def __init__(self, config: BacktestConfig | None = None, discovery: DiscoveryProcessor | None = None) -> None:
        self.config = config or BacktestConfig()
        self.shard_config = self.config.settings().shard
        self.discovery = discovery or DiscoveryProcessor()

    def run(self, records: Iterable[InputRecord], progress: Progress | None = None) -> BacktestResult:
        ordered = replay_order(list(records))
        start_ts = first_ts(ordered)
        result = BacktestResult(inputs=len(ordered))
        trading = _trading(self.config)
        pipe = _Pipeline(self.config, self.discovery, ShardProcessor(self.shard_config), result, trading)
        began = time.perf_counter()
        trading.publish(self.config.deposit(start_ts - 1))
        every = max(1, len(ordered) // 200)
        for i, rec in enumerate(ordered, 1):
            pipe.feed(rec)
            if progress is not None and (i % every == 0 or i == len(ordered)):
                progress(i, len(ordered))
        pipe.flush()
        result.seconds = time.perf_counter() - began
        _collect_trading(result, trading)
        return result


def _trading(config: BacktestConfig) -> LocalHost:
    """The trading topology (streams/topology.py) in process, with the settings a worker would read."""
    return LocalHost(Stages(config.trading()))


def _collect_trading(result: BacktestResult, trading: LocalHost) -> None:
    log = trading.log
    result.orders = [r for r in log["orders"] if isinstance(r, Order)]
    result.fills = [r for r in log["fills"] if isinstance(r, (Fill, OrderStatus))]
    result.positions = [r for r in log["positions"] if isinstance(r, PositionEvent)]
    result.ledger = [r for r in log["ledger"] if isinstance(r, LedgerEntry)]
    result.risk = [r for r in log["risk.state"] if isinstance(r, RiskEvent)]
    result.alerts += [r for r in log["alerts"] if isinstance(r, Alert)]
    result.deadletters += trading.deadletters
