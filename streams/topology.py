"""The trading dataflow, declared once: which processor reads what, keyed how, keeping which state, writing where.

Both hosts read this declaration: the Faust runner (streams/agents/runner.py) builds one agent
per stage from it, and the in-process engine (streams/local.py, used by ops/backtest) runs the
same stages over in-memory queues. Neither decides anything a stage does; the stage handlers
(streams/trading/stages.py) hold the kill switch, book tracking and fan-out, over the pure
processors. Per stage:

- `inputs`: topic → the record types the stage takes from it (other types there are not for it);
- `key`: what the message key of its inputs is (`account` here: all its topics share the
  registry's account partition count, so one account's records and state live on one partition);
- `tables`: its state, each with one versioned codec (streams.state_codec);
- `routes`: which topic each output type goes to, and under which key;
- `effects`: the venue calls it may ask for (performed by streams.trading.execution_shell).

The shard, router and discovery keep agents of their own (batching, snapshots and unawaited
sends are their shells' job) but send by `UPSTREAM_ROUTES`; every stage takes its keys from
streams/keys.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.records import (
    Alert, Fill, LedgerEntry, MarketLink, Order, OrderStatus, PositionEvent, Probability, RiskEvent, ShardInput, Signal,
)
from schemas.topics import Family, partitions
from streams.keys import account_key, event_key, market_key
from streams.state_codec import StateCodec

#: The trading inbox: signals and market data fanned out per account. A logical name; the Faust
#: runner makes it the worker's internal topic `<app id>-trading-inbox`.
INBOX = "trading.inbox"


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

    @property
    def codec(self) -> StateCodec[Any]:
        return StateCodec(self.state, self.version)


@dataclass(frozen=True)
class ToAccount:
    """A fan-out output: `record` for one account's inbox."""

    account: str
    record: Signal | ShardInput


@dataclass(frozen=True)
class Route:
    """Where one output type goes: `topic`, under `key(input key, output)`, carrying `value(output)`."""

    topic: str
    key: Callable[[str, Any], str]
    value: Callable[[Any], Any] = lambda out: out


@dataclass(frozen=True)
class Facts:
    """What a stage may know of the world besides its records, sampled by the host per record."""

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
    handler: str  # attribute of streams.trading.stages.Stages: the stage's handler
    effects: tuple[str, ...] = ()
    group: str = "trading"
    #: Its tables' and internal inputs' partition count (None: a stateless stage over registry topics).
    partitions: int | None = ACCOUNT_PARTITIONS

    def takes(self, topic: str, record: Any) -> bool:
        return isinstance(record, self.inputs.get(topic, ()))

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
    from streams.trading.market_view import MarketBooks
    from streams.trading.positions_processor import PositionsState
    from streams.trading.sizing_processor import SizingState

    return {t.name: t for t in (
        TableSpec("trading-sizing", SizingState, 1),
        TableSpec("trading-execution", ExecState, 1),
        TableSpec("trading-handled-orders", str, 1),  # order id → outcome: the dedupe set
        TableSpec("trading-books", MarketBooks, 2),  # "<account>|<venue:market>" → recent books; v2: packed depth
        TableSpec("trading-positions", PositionsState, 1),
    )}


TABLES = _tables()

STAGES: tuple[Stage, ...] = (
    *(Stage(  # signals and market data reach the inbox through one agent each, as they arrive
        f"trading-route-{source.split('.')[-1]}",
        inputs={source: (cls,)},
        key="event",
        tables=(),
        routes={ToAccount: Route(INBOX, lambda _, out: out.account, lambda out: out.record)},
        handler="route",
        partitions=None,
    ) for source, cls in (("signals", Signal), ("shard.inputs", ShardInput))),
    Stage(
        "sizing",
        inputs={INBOX: (Signal, ShardInput), "fills": (Fill, OrderStatus), "positions": (PositionEvent,),
                "ledger": (LedgerEntry,), "risk.state": (RiskEvent,)},
        key="account",
        tables=(TABLES["trading-sizing"],),
        routes=ACCOUNT_ROUTES,
        handler="sizing",
    ),
    Stage(
        "execution",
        inputs={"orders": (Order,), INBOX: (ShardInput,), "risk.state": (RiskEvent,)},
        key="account",
        tables=(TABLES["trading-execution"], TABLES["trading-handled-orders"], TABLES["trading-books"]),
        routes=ACCOUNT_ROUTES,
        handler="execution",
        effects=("submit", "reconcile"),
    ),
    Stage(
        "positions",
        inputs={"fills": (Fill,), INBOX: (ShardInput,), "ledger": (LedgerEntry,)},
        key="account",
        tables=(TABLES["trading-positions"],),
        routes={**ACCOUNT_ROUTES, Signal: Route(INBOX, lambda key, _: key)},  # exits go back through sizing
        handler="positions",
    ),
)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)


def consumers(topic: str) -> tuple[Stage, ...]:
    """The stages reading `topic`, in declaration order (the order the in-process host delivers in)."""
    return tuple(s for s in STAGES if topic in s.inputs)


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

#: Where the upstream processors' outputs go. Their agents (streams/agents/{discovery,router,shard}.py) keep
#: shells of their own — discovery and the router attach each send to the offset commit instead of awaiting
#: it, the shard prices in batches and saves snapshots — but send by this table, and the in-process engine
#: (ops/backtest/inprocess.py) routes by it.
UPSTREAM_ROUTES: Mapping[str, Mapping[type, Route]] = {
    "discovery": {MarketLink: Route("markets.links", lambda _, out: market_key(out.venue, out.market_id)),
                  Alert: Route("alerts", lambda _, out: out.dedupe_key)},
    "router": {ShardInput: Route("shard.inputs", lambda _, out: event_key(out))},
    "shard": {Signal: Route("signals", lambda _, out: event_key(out)),
              Probability: Route("model.probabilities", lambda _, out: event_key(out))},
}


def upstream(stage: str, out: Any, key: str = "") -> tuple[str, str, Any]:
    """(topic, key, value) of an output of the discovery, router or shard processor."""
    return _route(stage, UPSTREAM_ROUTES[stage], key, out)
