"""What the status screen shows, folded from the records on the log: pure, no Kafka, no clock.

`Board.apply(topic, record)` takes every record the observer reads; `snapshot`
turns the board and the supervisor's view of its processes into one `Snapshot`,
the single thing the live screen, `arbees status` and `status.json` share.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.enums import MarketType, PositionStatus, RiskKind
from schemas.records import (
    Alert,
    EventState,
    Fill,
    Heartbeat,
    LedgerEntry,
    MarketLink,
    Order,
    OrderStatus,
    PositionEvent,
    Probability,
    Quote,
    RiskEvent,
    Signal,
)

#: Topics the observer reads from the beginning (small, and needed whole: balances, links, breakers).
FROM_START = ("ledger", "positions", "risk.state", "markets.links")
#: Topics read from where the run started.
FROM_END = ("health", "events.state", "model.probabilities", "markets.quotes", "signals", "orders", "fills", "alerts")
#: Heartbeat instance of the DOWN beats the supervisor publishes for a part that died.
SUPERVISOR = "supervisor"
_CLOSED = {PositionStatus.CLOSED, PositionStatus.SETTLED, PositionStatus.STOP_LOSS, PositionStatus.TAKE_PROFIT}


@dataclass
class Beat:
    """The latest heartbeat of one part, with rates from the one before it."""

    status: str
    state: str
    error: str
    ts: int
    interval_s: float
    records_in: int
    records_out: int
    in_per_s: float
    out_per_s: float
    lag: int
    last_record_ms: int
    metrics_port: str


#: Sources whose states feed the target/race events rather than being events markets link to.
FEED_SOURCES = frozenset({"coingecko", "fred", "polls"})


def state_summary(state: EventState) -> str:
    """The score column: the score for games, what the model reads for the other market types."""
    f = state.features
    if state.market_type is MarketType.CRYPTO and "spot" in f:
        return f"spot {f['spot']:,.2f} sigma {f.get('sigma', 0.0):.2f}"
    if state.market_type is MarketType.ECONOMICS and "threshold" in f:
        return f"published {f['published']:g}" if "published" in f else f"forecast {f.get('mean', float('nan')):.2f}"
    if state.market_type is MarketType.POLITICS and "mean" in f:
        return f"margin {f['mean']:+.1f} +- {f.get('sigma', 0.0):.1f}"
    return f"{state.score_b}-{state.score_a}"


@dataclass
class EventRow:
    event_id: str
    name: str = ""
    status: str = ""
    score: str = ""
    model_p: float | None = None  # probability of side `a`
    market_p: dict[str, float] = field(default_factory=dict)  # venue -> market probability of side `a`


@dataclass
class Board:
    beats: dict[str, Beat] = field(default_factory=dict)
    events: dict[str, EventRow] = field(default_factory=dict)
    links: dict[str, tuple[str, str]] = field(default_factory=dict)  # venue:market -> (event_id, yes_role)
    counts: dict[str, int] = field(default_factory=dict)
    signals: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    orders: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    fills: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    alerts: deque[str] = field(default_factory=lambda: deque(maxlen=6))
    positions: dict[str, PositionEvent] = field(default_factory=dict)
    balance: dict[str, int] = field(default_factory=dict)
    realized: dict[str, dict[str, int]] = field(default_factory=dict)  # account -> position -> realized so far
    breaker: dict[str, str] = field(default_factory=dict)

    def apply(self, topic: str, record: Any) -> None:
        # an order's statuses share the `fills` topic with its fills: counted apart, so "fills" says how many fills
        counted = "order statuses" if isinstance(record, OrderStatus) else topic
        self.counts[counted] = self.counts.get(counted, 0) + 1
        if isinstance(record, Heartbeat):
            self._beat(record)
        elif isinstance(record, EventState):
            if record.source in FEED_SOURCES:
                return  # a price, an observation or a poll: an input of the target events, counted only
            row = self.events.setdefault(record.event_id, EventRow(record.event_id))
            row.name = record.name or f"{record.entity_b} @ {record.entity_a}"
            row.status = record.status.value
            row.score = state_summary(record)
        elif isinstance(record, Probability):
            row = self.events.setdefault(record.event_id, EventRow(record.event_id))
            if "a" in record.outcomes:
                row.model_p = record.outcomes["a"]
        elif isinstance(record, MarketLink):
            self.links[f"{record.venue.value}:{record.market_id}"] = (record.event_id, record.yes_role)
        elif isinstance(record, Quote):
            self._quote(record)
        elif isinstance(record, Signal):
            legs = " + ".join(f"{leg.venue.value} {leg.market_id} {leg.side.value} @{leg.price_micros / 1e6:.2f}"
                              for leg in record.legs)
            self.signals.append(f"{record.kind.value} {record.event_id}: {legs} edge {record.edge:+.3f}")
        elif isinstance(record, Order):
            self.orders.append(f"{record.account} {record.action.value} {record.count:g} {record.market_id} "
                               f"{record.side.value} limit {record.limit_price_micros / 1e6:.2f} ({record.mode.value})")
        elif isinstance(record, Fill):
            self.fills.append(f"{record.account} {record.count:g} {record.market_id} {record.side.value} "
                              f"@{record.price_micros / 1e6:.2f} fee {record.fee_micros / 1e6:.2f}")
        elif isinstance(record, PositionEvent):
            self.realized.setdefault(record.account, {})[record.position_id] = record.realized_pnl_micros
            if record.status in _CLOSED or record.quantity == 0:
                self.positions.pop(record.position_id, None)
            else:
                self.positions[record.position_id] = record
        elif isinstance(record, LedgerEntry):
            self.balance[record.account] = record.balance_micros
        elif isinstance(record, RiskEvent):
            if record.kind in (RiskKind.BREAKER_TRIPPED, RiskKind.KILL_SWITCH, RiskKind.DAILY_LOSS_STOP):
                self.breaker[record.account] = f"{record.kind.value}: {record.reason}"[:80]
            elif record.kind is RiskKind.BREAKER_RESET:
                self.breaker[record.account] = "ok"
        elif isinstance(record, Alert):
            self.alerts.append(f"{record.severity.value} {record.service}: {record.message}"[:160])

    def _beat(self, hb: Heartbeat) -> None:
        if hb.instance == SUPERVISOR:
            return  # the supervisor's word on a crash: the screen has it from the supervisor itself
        d = hb.detail
        prev = self.beats.get(hb.service)
        records_in, records_out = int(d.get("records_in", "0") or 0), int(d.get("records_out", "0") or 0)
        in_rate = out_rate = 0.0
        if prev is not None and hb.ts > prev.ts and records_in >= prev.records_in:
            span = (hb.ts - prev.ts) / 1000
            in_rate, out_rate = (records_in - prev.records_in) / span, (records_out - prev.records_out) / span
        elif prev is not None and hb.ts <= prev.ts:
            return  # an older beat (another instance's, or out of order): keep the newer one
        self.beats[hb.service] = Beat(
            status=hb.status.value, state=d.get("state", ""), error=d.get("error", ""), ts=hb.ts,
            interval_s=float(d.get("interval_s", "0") or 0), records_in=records_in, records_out=records_out,
            in_per_s=in_rate, out_per_s=out_rate, lag=hb.lag, last_record_ms=int(d.get("last_record_ms", "0") or 0),
            metrics_port=d.get("metrics_port", ""),
        )

    def _quote(self, q: Quote) -> None:
        linked = self.links.get(f"{q.venue.value}:{q.market_id}")
        if linked is None or q.yes_bid_micros is None or q.yes_ask_micros is None:
            return
        event_id, role = linked
        mid = (q.yes_bid_micros + q.yes_ask_micros) / 2e6
        p_a = mid if role == "a" else 1 - mid if role == "b" else None
        if p_a is not None:
            self.events.setdefault(event_id, EventRow(event_id)).market_p[q.venue.value] = p_a


@dataclass
class PartRow:
    """One line of the screen: the supervisor's view joined with the part's own heartbeat."""

    name: str
    kind: str
    state: str
    pid: int | None
    uptime_s: float
    restarts: int
    last_error: str
    health: str  # the heartbeat's state ("running", "unreachable, retrying") or "no heartbeat yet"
    in_per_s: float
    out_per_s: float
    records_in: int
    records_out: int
    lag: int
    heartbeat_age_s: float | None
    metrics_port: int


@dataclass
class Snapshot:
    when_ms: int
    replay: str
    parts: list[PartRow]
    events: list[EventRow]
    signals: list[str]
    orders: list[str]
    fills: list[str]
    alerts: list[str]
    positions: list[str]
    balance: dict[str, float]
    realized: dict[str, float]
    breaker: dict[str, str]
    kill_switch: bool
    counts: dict[str, int]
    notes: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        raw = json.loads(text)
        raw["parts"] = [PartRow(**p) for p in raw["parts"]]
        raw["events"] = [EventRow(**e) for e in raw["events"]]
        return cls(**raw)


def health_of(board: Board, name: str, now_ms: int) -> tuple[str, Beat | None, float | None]:
    beat = board.beats.get(name)
    if beat is None:
        return "no heartbeat yet", None, None
    return beat.state or beat.status.lower(), beat, (now_ms - beat.ts) / 1000


def positions_lines(board: Board) -> list[str]:
    return [f"{p.account} {p.venue.value} {p.market_id} {p.side.value} {p.quantity:g} @{p.avg_price_micros / 1e6:.2f} "
            f"unrealized {p.unrealized_pnl_micros / 1e6:+.2f}" for p in list(board.positions.values())[:10]]
