"""The web board's state: a pure fold of topic records, and the JSON view the page draws.

`BoardState.apply(topic, record)` is the only way in (no clock, no Kafka, no I/O);
`view(now_ms, kill_switch)` is the only way out. The ledger is read with the one
rule every reader applies (`streams.trading.ledger.apply`) and positions as
`arbees positions` reads them (the latest event of each position id, open unless
settled or closed), so the board's bankroll and positions are the CLI's.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from ops.topic_lines import jsonable
from schemas.enums import PositionStatus, RiskKind
from schemas.records import (
    Alert,
    DeadLetter,
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
from streams.trading import ledger as L
from streams.trading.config import RiskConfig

#: Statuses after which a position is no longer open (as `arbees positions` shows them).
CLOSED = (PositionStatus.SETTLED, PositionStatus.CLOSED)
#: Points kept per chart series; past it every other point is dropped (the shape stays, memory stays bounded).
MAX_POINTS = 2_000
RECENT = 50  # rows kept of signals, orders, fills, alerts, risk events


def _append(series: list[list[float]], ts: int, value: float) -> None:
    if series and (series[-1][1] == value or ts < series[-1][0]):
        return  # flat (the chart draws steps), or older than the path: a replay of records already drawn
    series.append([ts, value])
    if len(series) > MAX_POINTS:
        del series[1:-1:2]


@dataclass
class Game:
    event_id: str
    name: str = ""
    league: str = ""
    market_type: str = ""
    status: str = ""
    score: str = ""
    detail: str = ""
    ts: int = 0
    model: list[list[float]] = field(default_factory=list)  # [ts, p(a)]


@dataclass
class AccountBook:
    """One account's ledger as every reader books it, with the booked sums per kind and the equity curve."""

    state: L.LedgerState = field(default_factory=L.LedgerState)
    sums: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # EntryKind value -> micros
    refused: int = 0
    equity: list[list[float]] = field(default_factory=list)  # [ts, balance + unrealized] in dollars
    peak: float = 0.0
    max_drawdown: float = 0.0

    def book(self, entry: LedgerEntry) -> L.Verdict:
        self.state, verdict = L.apply(self.state, entry)
        if verdict is L.Verdict.ACCEPTED:
            self.sums[L.kind_of(entry).value] += entry.delta_micros
        else:
            self.refused += 1
        return verdict

    def mark(self, ts: int, unrealized_micros: int) -> None:
        value = (self.state.balance.value + unrealized_micros) / 1e6
        _append(self.equity, ts, value)
        self.peak = max(self.peak, value)
        self.max_drawdown = max(self.max_drawdown, self.peak - value)

    def pnl(self) -> dict[str, int]:
        """The figures of `arbees pnl` (micros)."""
        s = self.sums
        return {
            "bankroll": self.state.balance.value,
            "version": self.state.version,
            "deposits": s[L.EntryKind.DEPOSIT.value] + s[L.EntryKind.WITHDRAWAL.value],
            "realized": s[L.EntryKind.REALIZED.value],
            "fees": s[L.EntryKind.FEE.value],
            "net": s[L.EntryKind.REALIZED.value] + s[L.EntryKind.FEE.value],
        }


def fold_ledger(entries: list[LedgerEntry]) -> dict[str, AccountBook]:
    """Every account's book from its entries in log order."""
    books: dict[str, AccountBook] = defaultdict(AccountBook)
    for e in entries:
        books[e.account].book(e)
    return dict(books)


@dataclass
class Health:
    service: str
    instance: str
    status: str
    state: str
    lag: int
    ts: int
    interval_s: float
    error: str
    last_record_ms: int = 0  # newest record the part handled (a feed: the newest it published)
    stale_after_ms: int = 0  # a live feed's promise (ARBEES_FEED_STALE_S); 0: staleness means nothing for it

    def shown(self, now_ms: int) -> tuple[str, bool]:
        """What the health table says of the part at `now_ms`, and whether that is fine.

        Silent (three beats missed: the process is gone or hung) wins over what its last beat said; a feed
        that beats but has published nothing for longer than it promised is stale.
        """
        age = (now_ms - self.ts) / 1000
        if self.interval_s > 0 and age > 3 * self.interval_s:
            return f"silent for {age:.0f}s", False
        if self.stale_after_ms > 0 and self.last_record_ms > 0 and now_ms - self.last_record_ms > self.stale_after_ms:
            return f"stale: no record for {(now_ms - self.last_record_ms) // 1000}s", False
        return self.state or self.status.lower(), self.status == "OK"


@dataclass
class BoardState:
    caps: RiskConfig = field(default_factory=RiskConfig)
    games: dict[str, Game] = field(default_factory=dict)
    links: dict[str, tuple[str, str]] = field(default_factory=dict)  # venue:market -> (event_id, yes_role)
    mids: dict[str, list[list[float]]] = field(default_factory=dict)  # venue:market -> [ts, YES mid], linked or not yet
    edges: dict[str, dict[str, Any]] = field(default_factory=dict)  # venue:market:side -> latest signal leg
    signals: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))
    orders: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))
    order_state: dict[str, dict[str, Any]] = field(default_factory=dict)  # order id -> latest status
    fills: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))
    positions: dict[str, PositionEvent] = field(default_factory=dict)  # position id -> latest event
    books: dict[str, AccountBook] = field(default_factory=lambda: defaultdict(AccountBook))
    risk: dict[str, dict[str, Any]] = field(default_factory=dict)  # account -> breaker/kill state
    risk_events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))
    health: dict[str, Health] = field(default_factory=dict)  # service -> latest beat
    alerts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))
    deadletters: int = 0
    unfoldable: deque[str] = field(default_factory=lambda: deque(maxlen=10))  # records the board could not fold, and why
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    undecodable: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last_ts: int = 0  # newest event time seen

    # ------------------------------------------------------------------ in

    def apply(self, topic: str, record: Any) -> None:
        """Fold one record; one the board cannot fold is counted and named on the page, and the board goes on."""
        try:
            self._apply(topic, record)
        except Exception as exc:  # noqa: BLE001 - the board shows what it could not read rather than stop
            self.unfoldable.append(f"{topic} {type(record).__name__} {getattr(record, 'ts', '')}: {type(exc).__name__}: {exc}"[:300])

    def _apply(self, topic: str, record: Any) -> None:
        self.counts[topic] += 1
        ts = int(getattr(record, "ts", 0) or 0)
        if not isinstance(record, Heartbeat):
            self.last_ts = max(self.last_ts, ts)
        if isinstance(record, EventState):
            g = self._game(record.event_id)
            g.name = record.name or f"{record.entity_b} @ {record.entity_a}"
            g.league, g.market_type, g.status = record.league, record.market_type.value, record.status.value
            g.score = f"{record.entity_b} {record.score_b} – {record.score_a} {record.entity_a}"
            clock = "" if record.clock_seconds is None else f" {int(record.clock_seconds) // 60}:{int(record.clock_seconds) % 60:02d}"
            g.detail = f"P{record.period}{clock}" if record.period else ""
            g.ts = max(g.ts, record.ts)
        elif isinstance(record, Probability):
            if "a" in record.outcomes:
                _append(self._game(record.event_id).model, record.ts, round(record.outcomes["a"], 4))
        elif isinstance(record, MarketLink):
            self.links[f"{record.venue.value}:{record.market_id}"] = (record.event_id, record.yes_role)
        elif isinstance(record, Quote):
            self._quote(record)
        elif isinstance(record, Signal):
            self._signal(record)
        elif isinstance(record, Order):
            self.orders.append({"ts": record.ts, "order_id": record.order_id, "account": record.account,
                                "market": f"{record.venue.value}:{record.market_id}", "side": record.side.value,
                                "action": record.action.value, "count": record.count,
                                "limit": record.limit_price_micros / 1e6, "mode": record.mode.value,
                                "reason": record.reason})
        elif isinstance(record, OrderStatus):
            self.order_state[record.order_id] = {"state": record.state.value, "filled": record.filled_count,
                                                 "avg": (record.avg_price_micros or 0) / 1e6, "reason": record.reason}
        elif isinstance(record, Fill):
            self.fills.append({"ts": record.ts, "account": record.account, "order_id": record.order_id,
                               "market": f"{record.venue.value}:{record.market_id}", "side": record.side.value,
                               "action": record.action.value, "count": record.count, "price": record.price_micros / 1e6,
                               "fee": record.fee_micros / 1e6, "reversed": record.reversed})
        elif isinstance(record, PositionEvent):
            self.positions[record.position_id] = record
            self.books[record.account].mark(record.ts, self._unrealized(record.account))
        elif isinstance(record, LedgerEntry):
            book = self.books[record.account]
            if book.book(record) is L.Verdict.ACCEPTED:
                book.mark(record.ts, self._unrealized(record.account))
        elif isinstance(record, RiskEvent):
            self._risk(record)
        elif isinstance(record, Heartbeat):
            self._beat(record)
        elif isinstance(record, Alert):
            self.alerts.append({"ts": record.ts, "severity": record.severity.value, "service": record.service,
                                "message": record.message})
        elif isinstance(record, DeadLetter):
            self.deadletters += 1

    def undecodable_record(self, topic: str) -> None:
        """A record the codec could not read: counted and shown, never folded."""
        self.undecodable[topic] += 1

    def _game(self, event_id: str) -> Game:
        if event_id not in self.games:
            self.games[event_id] = Game(event_id)
        return self.games[event_id]

    def _quote(self, q: Quote) -> None:
        """Every market's YES mid is kept, linked or not: a link read after its quotes still finds them."""
        if q.yes_bid_micros is None or q.yes_ask_micros is None:
            return
        _append(self.mids.setdefault(f"{q.venue.value}:{q.market_id}", []), q.ts,
                round((q.yes_bid_micros + q.yes_ask_micros) / 2e6, 4))

    def market_paths(self, event_id: str) -> dict[str, list[list[float]]]:
        """Per venue, the market's P(side a) over time: its linked market whose YES is side a, else side b's complement."""
        best: dict[str, tuple[int, str, str]] = {}
        for key, (eid, role) in self.links.items():
            if eid != event_id or role not in ("a", "b") or key not in self.mids:
                continue
            venue = key.split(":", 1)[0]
            rank = (0 if role == "a" else 1, key, role)
            if venue not in best or rank < best[venue]:
                best[venue] = rank
        return {venue: [[ts, mid if role == "a" else round(1 - mid, 4)] for ts, mid in self.mids[key]]
                for venue, (_, key, role) in sorted(best.items())}

    def _signal(self, s: Signal) -> None:
        legs = [{"venue": leg.venue.value, "market": leg.market_id, "side": leg.side.value, "action": leg.action.value,
                 "price": leg.price_micros / 1e6, "fee": leg.fee_micros / 1e6, "size": leg.size} for leg in s.legs]
        row = {"ts": s.ts, "signal_id": s.signal_id, "event_id": s.event_id, "kind": s.kind.value, "edge": s.edge,
               "model_p": s.model_p, "ev": s.ev_micros / 1e6, "size": s.size, "legs": legs, "reason": s.reason}
        self.signals.append(row)
        for leg in legs:
            self.edges[f"{leg['venue']}:{leg['market']}:{leg['side']}"] = {**leg, "ts": s.ts, "event_id": s.event_id,
                                                                           "kind": s.kind.value, "edge": s.edge,
                                                                           "model_p": s.model_p}

    def _risk(self, r: RiskEvent) -> None:
        st = self.risk.setdefault(r.account, {"breaker": "ok", "killed": False, "daily_stop": False, "reason": "", "ts": 0})
        if r.kind is RiskKind.BREAKER_TRIPPED:
            st.update(breaker="tripped", reason=r.reason)
        elif r.kind is RiskKind.BREAKER_RESET:
            st.update(breaker="ok", killed=False, daily_stop=False, reason=r.reason)
        elif r.kind is RiskKind.KILL_SWITCH:
            st.update(killed=True, reason=r.reason)
        elif r.kind is RiskKind.DAILY_LOSS_STOP:
            st.update(daily_stop=True, reason=r.reason)
        st["ts"] = max(st["ts"], r.ts)
        self.risk_events.append({"ts": r.ts, "account": r.account, "kind": r.kind.value, "rule": r.rule,
                                 "reason": r.reason, "value": r.value, "limit": r.limit})

    def _beat(self, hb: Heartbeat) -> None:
        prev = self.health.get(hb.service)
        if prev is not None and hb.ts < prev.ts:
            return  # an older beat
        d = hb.detail
        self.health[hb.service] = Health(hb.service, hb.instance, hb.status.value, d.get("state", ""), hb.lag, hb.ts,
                                         float(d.get("interval_s", "0") or 0), d.get("error", ""),
                                         int(d.get("last_record_ms", "0") or 0), int(d.get("stale_after_ms", "0") or 0))

    def _open(self, account: str | None = None) -> list[PositionEvent]:
        return [p for p in self.positions.values()
                if p.status not in CLOSED and (account is None or p.account == account)]

    def _unrealized(self, account: str) -> int:
        return sum(p.unrealized_pnl_micros for p in self._open(account))

    # ----------------------------------------------------------------- out

    def exposure(self) -> dict[str, list[dict[str, Any]]]:
        """Open cost (contracts x average price, as risk counts it) per account by event, market, venue, market type and total."""
        caps = {"event": self.caps.max_event_exposure.value, "market": self.caps.max_market_exposure.value,
                "venue": self.caps.max_venue_exposure.value, "total": self.caps.max_total_exposure.value}
        groups: dict[str, dict[tuple[str, str], int]] = {k: defaultdict(int) for k in ("event", "market", "venue", "market_type", "total")}
        for p in self._open():
            cost = round(p.quantity * p.avg_price_micros)
            mtype = self.games[p.event_id].market_type if p.event_id in self.games else "unknown"
            for kind, name in (("event", p.event_id), ("market", f"{p.venue.value}:{p.market_id}"), ("venue", p.venue.value),
                               ("market_type", mtype or "unknown"), ("total", "all")):
                groups[kind][(p.account, name)] += cost
        out: dict[str, list[dict[str, Any]]] = {}
        for kind, rows in groups.items():
            cap = caps.get(kind)
            out[kind] = [{"account": acc, "name": name, "open_cost": v / 1e6, "cap": cap / 1e6 if cap else None,
                          "used": v / cap if cap else None} for (acc, name), v in sorted(rows.items())]
        return out

    def view(self, now_ms: int, kill_switch: bool, kill_file: str = "") -> dict[str, Any]:
        accounts = {}
        for acc, book in sorted(self.books.items()):
            opened = self._open(acc)
            accounts[acc] = {**{k: v / 1e6 if k != "version" else v for k, v in book.pnl().items()},
                             "unrealized": self._unrealized(acc) / 1e6, "open_positions": len(opened),
                             "refused_entries": book.refused, "equity": book.equity,
                             "max_drawdown": book.max_drawdown,
                             "drawdown": (book.peak - book.equity[-1][1]) if book.equity else 0.0}
        positions = [{"account": p.account, "position_id": p.position_id, "market": f"{p.venue.value}:{p.market_id}",
                      "event_id": p.event_id, "side": p.side.value, "status": p.status.value, "qty": p.quantity,
                      "avg": p.avg_price_micros / 1e6,
                      "mark": None if p.mark_price_micros is None else p.mark_price_micros / 1e6,
                      "realized": p.realized_pnl_micros / 1e6, "unrealized": p.unrealized_pnl_micros / 1e6,
                      "fees": p.fees_micros / 1e6, "ts": p.ts}
                     for p in sorted(self._open(), key=lambda e: (e.account, e.market_id, e.side.value))]
        games = []
        for g in sorted(self.games.values(), key=lambda g: (-g.ts, g.event_id)):
            market = self.market_paths(g.event_id)
            if not (g.model or market):
                continue  # an event nobody prices: no chart to draw
            games.append({"event_id": g.event_id, "name": g.name, "league": g.league, "market_type": g.market_type,
                          "status": g.status, "score": g.score, "detail": g.detail,
                          "model_p": g.model[-1][1] if g.model else None,
                          "market_p": {v: s[-1][1] for v, s in market.items() if s},
                          "model": g.model, "market": market})
        health = []
        for h in sorted(self.health.values(), key=lambda h: h.service):
            shown, ok = h.shown(now_ms)
            health.append({**jsonable(h), "age_s": round((now_ms - h.ts) / 1000, 1), "shown": shown, "ok": ok})
        orders = [{**o, **self.order_state.get(o["order_id"], {"state": "pending"})} for o in self.orders]
        return {
            "now": now_ms, "event_time": self.last_ts, "kill_switch": kill_switch, "kill_file": kill_file,
            "accounts": accounts, "positions": positions, "games": games,
            "edges": sorted(self.edges.values(), key=lambda e: -e["ts"])[:30],
            "signals": list(self.signals)[::-1], "orders": orders[::-1], "fills": list(self.fills)[::-1],
            "exposure": self.exposure(), "risk": self.risk, "risk_events": list(self.risk_events)[::-1],
            "health": health, "alerts": list(self.alerts)[::-1], "deadletters": self.deadletters,
            "counts": dict(self.counts), "undecodable": dict(self.undecodable), "unfoldable": list(self.unfoldable),
        }
