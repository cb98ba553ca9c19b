"""The dataflow, declared once: which processor reads what, keyed how, keeping which state, writing where.

The Faust runner (streams/agents/runner.py) builds one agent per stage of every agent group
from this declaration (discovery, router, shard, alerts, trading; the account stages, which read
the same co-partitioned topics, share one that runs each record through them in declaration
order), and the in-process host (streams/local.py, the backtest engine and the agents' test
seam) runs the same stages in one process, in the order this declaration implies.
Neither decides anything a stage does; the stage handlers hold the rules over the pure
processors: streams/trading/stages.py (kill switch, book tracking, fan-out),
streams/upstream_stages.py (discovery, router, alerts) and streams/shard/stage.py. Per stage:

- `inputs`: topic → the record types the stage takes from it (other types there are not for it);
  a name in `INTERNAL` is a topic of the worker's own (`<app id>-<name>`);
- `key`: what the message key of its inputs is (an account stage's topics share the registry's
  account partition count, so one account's records and state live on one partition);
- `family`: the partition family of its tables and internal inputs (None: stateless over registry topics);
- `tables`: its state, each with one versioned codec (streams.state_codec);
- `routes`: which topic each output type goes to, and under which key;
- `effects`: the venue calls it may ask for (performed by streams.trading.execution_shell).

Every stage takes its keys from streams/keys.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.records import (
    Alert, DeadLetter, EventState, Fill, Heartbeat, LedgerEntry, MarketLink, MarketListing, Order, OrderStatus,
    PositionEvent, Probability, Quote, RiskEvent, ShardInput, Signal,
)
from schemas.topics import Family, partitions
from streams.keys import account_key, event_key, market_key
from streams.state_codec import StateCodec

#: The trading inbox: signals and market data fanned out per account. A logical name; the Faust
#: runner makes it the worker's internal topic `<app id>-trading-inbox`.
INBOX = "trading.inbox"
#: Discovery's inputs re-keyed by scope (market type + league): `<app id>-discovery-by-scope`.
SCOPES = "discovery.by-scope"
#: The largest record an agent may write (the producer's max request size; changelogs of big tables match).
MAX_VALUE_BYTES = 16 * 1024 * 1024
#: The worker-internal topics: name → (the record types on it, its partition family).
INTERNAL: Mapping[str, tuple[tuple[type, ...], Family]] = {
    INBOX: ((Signal, ShardInput), Family.ACCOUNT),
    SCOPES: ((MarketListing, EventState), Family.EVENT),
    #: each target processor's inputs re-keyed by what it keeps state for (asset, indicator, race)
    **{f"{name}.targets-by-key": ((MarketListing, EventState), Family.EVENT) for name in ("crypto", "econ", "politics")},
}


# ------------------------------------------------------------------ keys

#: One account's topics and tables are co-partitioned: every account topic has the registry's count.
ACCOUNT_PARTITIONS = partitions(Family.ACCOUNT)
ACCOUNT_TOPICS = ("orders", "fills", "positions", "ledger", "risk.state")


# ------------------------------------------------------------------ declaration types


@dataclass(frozen=True)
class TableSpec:
    """A changelog-backed table of one stage: its values are `state` at codec `version`."""

    name: str
    state: type
    version: int
    #: contract records inside the state written as their Avro data (streams.state_codec)
    avro_records: bool = False
    #: the largest value, when a state may outgrow the broker's default 1 MB
    max_bytes: int | None = None
    #: values kept encoded, in this format of the stage's own at `version`, decoded by the stage on first use
    #: (the shard: decoding a snapshot re-runs its model, so the runner must not decode every changelog record)
    encoded: str = ""

    @property
    def codec(self) -> StateCodec[Any]:
        return StateCodec(self.state, self.version, self.avro_records)


@dataclass(frozen=True)
class ToAccount:
    """A fan-out output: `record` for one account's inbox."""

    account: str
    record: Signal | ShardInput


@dataclass(frozen=True)
class ToScope:
    """A re-keyed discovery input: `record` for the state of `scope` (streams.discovery: market type + league)."""

    scope: str
    record: MarketListing | EventState


@dataclass(frozen=True)
class Route:
    """Where one output type goes: `topic`, under `key(input key, output)`, carrying `value(output)`."""

    topic: str
    key: Callable[[str, Any], str]
    value: Callable[[Any], Any] = lambda out: out


@dataclass(frozen=True)
class Facts:
    """What a stage may know of the world besides its records, sampled by the host: per record in process, per batch
    and at each checkpoint in the Faust runner (at most ARBEES_BATCH_CHECKPOINT_MS, 100 ms, apart)."""

    #: The operator's kill file, when it exists (empty: trading allowed).
    kill_file: str = ""


Emit = Callable[[list[Any]], Awaitable[None]]


class Context(Protocol):
    """What a host gives a stage handler for one record."""

    key: str
    facts: Facts

    def table(self, name: str) -> MutableMapping[str, Any]: ...

    async def emit(self, outputs: list[Any]) -> None:
        """Route and send `outputs`, returning once the broker (or the queue) has them all."""

    async def flush(self) -> None: ...


Handler = Callable[[Context, Any], Awaitable[None]]


@dataclass(frozen=True)
class Stage:
    name: str
    inputs: Mapping[str, tuple[type, ...]]
    key: str
    tables: tuple[TableSpec, ...]
    routes: Mapping[type, Route]
    handler: str  # attribute of the group's handlers (streams.trading.stages.Stages, ...): the stage's handler
    effects: tuple[str, ...] = ()
    group: str = "trading"
    #: The partition family of its tables and internal inputs (None: a stateless stage over registry topics).
    family: Family | None = Family.ACCOUNT
    #: The handler takes the whole batch (the shard prices it in one numpy pass), not one record at a time.
    batch: bool = False

    @property
    def partitions(self) -> int | None:
        """Its tables' and internal inputs' partition count, in this worker's generation of the family."""
        if self.family is None:
            return None
        from streams.generations import current

        return current(self.family).partitions

    def takes(self, topic: str, record: Any) -> bool:
        return self.takes_type(topic, type(record))

    def takes_type(self, topic: str, cls: type) -> bool:
        return issubclass(cls, self.inputs.get(topic, ()))

    def route(self, key: str, out: Any) -> tuple[str, str, Any]:
        """(topic, key, value) of an output; an output type the stage does not declare is an error."""
        return _route(self.name, self.routes, key, out)


def _route(name: str, routes: Mapping[type, Route], key: str, out: Any) -> tuple[str, str, Any]:
    for cls in type(out).__mro__:
        r = routes.get(cls)
        if r is not None:
            return r.topic, r.key(key, out), r.value(out)
    raise TypeError(f"stage {name} has no route for output {type(out).__name__}")


def _by_account(_: str, out: Any) -> str:
    return account_key(out)


ACCOUNT_ROUTES: Mapping[type, Route] = {
    Order: Route("orders", _by_account),
    Fill: Route("fills", _by_account),
    OrderStatus: Route("fills", _by_account),
    PositionEvent: Route("positions", _by_account),
    LedgerEntry: Route("ledger", _by_account),
    RiskEvent: Route("risk.state", _by_account),
    Alert: Route("alerts", lambda _, out: out.dedupe_key),
}


def _tables() -> dict[str, TableSpec]:
    from streams.trading.execution_processor import ExecState
    from streams.trading.book_history import BookHistory
    from streams.trading.market_view import LinkFacts, Top
    from streams.trading.positions_processor import PositionsState
    from streams.trading.sizing_processor import SizingState

    return {t.name: t for t in (
        TableSpec("trading-sizing", SizingState, 1),  # its tops are per market, below (streams.trading.market_split)
        TableSpec("trading-tops", Top, 1),  # "<account>|<venue:market>" → the market's top, sizing's and positions'
        TableSpec("trading-execution", ExecState, 1),
        TableSpec("trading-handled-orders", str, 1),  # order id → outcome: the dedupe set
        # "<account>|<venue:market>" → recent books, each its Avro bytes (streams.trading.book_history). It replaces
        # `trading-books` (full quotes and the listing as JSON, rewritten per quote): a new name, so a system upgraded
        # in place never reads the old changelog's values, which this codec would refuse; the history refills.
        TableSpec("trading-book-history", BookHistory, 1),
        TableSpec("trading-listings", MarketListing, 1),  # "<account>|<venue:market>" → its listing, on change
        TableSpec("trading-positions", PositionsState, 1),  # its tops and links are per market, below
        TableSpec("trading-positions-links", LinkFacts, 1),
    )}


TABLES = _tables()


def _discovery_state() -> type:
    from streams.discovery import DiscoveryState

    return DiscoveryState

STAGES: tuple[Stage, ...] = (
    *(Stage(  # signals and market data reach the inbox through one agent each, as they arrive
        f"trading-route-{source.split('.')[-1]}",
        inputs={source: (cls,)},
        key="event",
        tables=(),
        routes={ToAccount: Route(INBOX, lambda _, out: out.account, lambda out: out.record)},
        handler="route",
        family=None,
    ) for source, cls in (("signals", Signal), ("shard.inputs", ShardInput))),
    Stage(
        "sizing",
        inputs={INBOX: (Signal, ShardInput), "fills": (Fill, OrderStatus), "positions": (PositionEvent,),
                "ledger": (LedgerEntry,), "risk.state": (RiskEvent,)},
        key="account",
        tables=(TABLES["trading-sizing"], TABLES["trading-tops"]),
        routes=ACCOUNT_ROUTES,
        handler="sizing",
    ),
    Stage(
        "execution",
        inputs={"orders": (Order,), INBOX: (ShardInput,), "risk.state": (RiskEvent,)},
        key="account",
        tables=(TABLES["trading-execution"], TABLES["trading-handled-orders"], TABLES["trading-book-history"],
                TABLES["trading-listings"]),
        routes=ACCOUNT_ROUTES,
        handler="execution",
        effects=("submit", "reconcile"),
    ),
    Stage(
        "positions",
        inputs={"fills": (Fill,), INBOX: (ShardInput,), "ledger": (LedgerEntry,)},
        key="account",
        tables=(TABLES["trading-positions"], TABLES["trading-tops"], TABLES["trading-positions-links"]),
        routes={**ACCOUNT_ROUTES, Signal: Route(INBOX, lambda key, _: key)},  # exits go back through sizing
        handler="positions",
    ),
)


def stage(name: str) -> Stage:
    for s in PIPELINE:
        if s.name == name:
            return s
    raise KeyError(name)


#: Topics whose records wait until the rest of their source record's cascade is done, then go one at a time with
#: their own cascades: trading takes a source record's market data before the signals it triggered (two stages
#: write the trading inbox, and a signal sized before the fill its quote made would see another bankroll). The
#: event-time worker (streams/event_time_order.py) and the in-process host (streams/local.py) both keep it.
HELD: frozenset[str] = frozenset({"signals"})


def group_order(stages: Sequence[Stage]) -> tuple[str, ...]:
    """The agent groups of `stages`, each before every group that reads a topic it writes (declaration order among
    the rest); a cycle between groups is an error: the in-process host could not run them group by group."""
    groups = list(dict.fromkeys(s.group for s in stages))
    writes = {g: {r.topic for s in stages if s.group == g for r in s.routes.values()} for g in groups}
    reads = {g: {t for s in stages if s.group == g for t in s.inputs} for g in groups}
    order: list[str] = []
    while groups:
        ready = [g for g in groups if not any(writes[h] & reads[g] for h in groups if h != g)]
        if not ready:
            raise ValueError(f"the agent groups {', '.join(groups)} feed each other")
        order.append(ready[0])
        groups.remove(ready[0])
    return tuple(order)


#: The trading topology's inputs from the rest of the pipeline (and from an operator or a test):
#: record type → (registry topic, its key).
SOURCES: Mapping[type, tuple[str, Callable[[Any], str]]] = {
    Signal: ("signals", event_key),
    ShardInput: ("shard.inputs", event_key),
    LedgerEntry: ("ledger", account_key),
    RiskEvent: ("risk.state", account_key),
    Order: ("orders", account_key),
    Fill: ("fills", account_key),
}


def source(record: Any) -> tuple[str, str]:
    """(topic, key) an input record is published to."""
    try:
        topic, key = SOURCES[type(record)]
    except KeyError:
        raise TypeError(f"the trading topology takes no {type(record).__name__} input") from None
    return topic, key(record)


# ------------------------------------------------------------------ upstream of trading


def _by_event(_: str, out: Any) -> str:
    return event_key(out)


def _by_market(_: str, out: Any) -> str:
    return market_key(out.venue, out.market_id)


def _by_dedupe(_: str, out: Any) -> str:
    return str(out.dedupe_key)


UPSTREAM: tuple[Stage, ...] = (
    Stage(  # listings (keyed by market) and states (keyed by event) meet per scope, whose state never needs another's
        "discovery-rekey",
        inputs={"markets.catalog": (MarketListing,), "events.state": (EventState,)},
        key="market or event",
        tables=(),
        routes={ToScope: Route(SCOPES, lambda _, out: out.scope, lambda out: out.record)},
        handler="rekey",
        group="discovery",
        family=None,
    ),
    Stage(
        "discovery",
        inputs={SCOPES: (MarketListing, EventState)},
        key="scope",
        tables=(TableSpec("discovery-scopes", _discovery_state(), 1, avro_records=True, max_bytes=MAX_VALUE_BYTES),),
        routes={MarketLink: Route("markets.links", _by_market), Alert: Route("alerts", _by_dedupe)},
        handler="discover",
        group="discovery",
        family=Family.EVENT,
    ),
    Stage(
        "router-markets",
        inputs={"markets.quotes": (Quote,), "markets.links": (MarketLink,), "markets.catalog": (MarketListing,)},
        key="market",
        tables=(TableSpec("router-links", MarketLink, 1), TableSpec("router-listings", MarketListing, 1),
                TableSpec("router-quotes", Quote, 1)),
        routes={ShardInput: Route("shard.inputs", _by_event)},
        handler="route_market",
        group="router",
        family=Family.EVENT,
    ),
    Stage(
        "router-states",
        inputs={"events.state": (EventState,)},
        key="event",
        tables=(),
        routes={ShardInput: Route("shard.inputs", _by_event)},
        handler="route_state",
        group="router",
        family=None,
    ),
    Stage(
        "shard",
        inputs={"shard.inputs": (ShardInput,)},
        key="event",
        tables=(TableSpec("shard-state", bytes, 1, encoded="streams.shard.snapshot"),),
        routes={Signal: Route("signals", _by_event), Probability: Route("model.probabilities", _by_event)},
        handler="price",
        group="shard",
        family=Family.SHARD,
        batch=True,
    ),
    Stage(
        "alerts",
        inputs={"deadletter": (DeadLetter,), "risk.state": (RiskEvent,), "health": (Heartbeat,), "fills": (Fill,),
                "ledger": (LedgerEntry,)},
        key="any",
        tables=(),  # the limiter's inputs differ in partition count: it lives in memory (streams/agents/alerts.py)
        routes={Alert: Route("alerts", _by_dedupe)},
        handler="alert",
        effects=("notify",),
        group="alerts",
        family=None,
    ),
)

def _target_states() -> dict[str, type]:
    from streams.crypto.targets import AssetState
    from streams.economics.targets import IndicatorState
    from streams.politics.races import RaceState

    return {"crypto": AssetState, "econ": IndicatorState, "politics": RaceState}


#: Target-state codec versions that moved past 1 (econ 2: the release calendar in the state). A new shape gets a
#: changelog of its own (`<name>-target-states-v<N>`): no reader resolves the old shape's values.
_TARGET_VERSIONS = {"econ": 2}


def target_table_name(name: str) -> str:
    version = _TARGET_VERSIONS.get(name, 1)
    return f"{name}-target-states" + (f"-v{version}" if version > 1 else "")


def _target_table(name: str, state: type) -> TableSpec:
    return TableSpec(target_table_name(name), state, _TARGET_VERSIONS.get(name, 1))


#: The target processors (group `targets`): listings and feed states in, target EventStates out on `events.state`,
#: where discovery links listings to them. Per processor a re-key stage (by what it keeps state for) and a stage
#: holding that state.
TARGETS: tuple[Stage, ...] = tuple(stage for name, state in _target_states().items() for stage in (
    Stage(
        f"{name}-targets-rekey",
        inputs={"markets.catalog": (MarketListing,), "events.state": (EventState,)},
        key="market or event",
        tables=(),
        routes={ToScope: Route(f"{name}.targets-by-key", lambda _, out: out.scope, lambda out: out.record)},
        handler=f"{name}_rekey",
        group="targets",
        family=None,
    ),
    Stage(
        f"{name}-targets",
        inputs={f"{name}.targets-by-key": (MarketListing, EventState)},
        key=f"{name} target key",
        tables=(_target_table(name, state),),
        routes={EventState: Route("events.state", _by_event)},
        handler=f"{name}_targets",
        group="targets",
        family=Family.EVENT,
    ),
))

#: Every stage of every agent group.
PIPELINE: tuple[Stage, ...] = (*UPSTREAM, *TARGETS, *STAGES)


def group(name: str) -> tuple[Stage, ...]:
    """The stages one agent group (one consumer group, ARBEES_AGENTS) runs."""
    return tuple(s for s in PIPELINE if s.group == name)
