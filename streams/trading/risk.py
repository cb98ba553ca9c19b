"""Risk controls for one account, pure: limits, daily loss stop, breaker, price band, rates, kill.

The state advances only on records (their event time), so a replay trips and
resets exactly where the live run did. Each function returns the new state and
the `RiskEvent`s it caused; the sizing processor turns a refusal into a record too.
Operator records are `RiskEvent`s whose rule starts with `operator.` (written by
`arbees kill` / `arbees risk reset` or by the kill-file watcher).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.enums import OrderState, RiskKind
from schemas.records import LedgerEntry, OrderStatus, RiskEvent
from streams.trading.config import HOUR_MS, MINUTE_MS, RiskConfig
from streams.trading.ids import stable_id
from streams.trading.ledger import PNL_KINDS, EntryKind, kind_of
from streams.trading.units import Micros

OPERATOR_KILL = "operator.kill"
OPERATOR_KILL_FILE = "operator.kill-file"
OPERATOR_RESET = "operator.reset"
#: Statuses that count as execution errors for the breaker.
ERROR_STATES = frozenset({OrderState.REJECTED, OrderState.UNKNOWN})


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def trading_day(ts: int, tz: str, rollover_hour: int) -> str:
    """The trading day an event-time instant belongs to (ISO date), in `tz` with the rollover hour."""
    return _day_of_minute(ts // 60_000, tz, rollover_hour)


@lru_cache(maxsize=4096)
def _day_of_minute(minute: int, tz: str, rollover_hour: int) -> str:
    """Per minute: zone offsets and their changes fall on whole minutes, so a day never starts inside one."""
    local = datetime.fromtimestamp(minute * 60, tz=timezone.utc).astimezone(_zone(tz))
    return (local - timedelta(hours=rollover_hour)).date().isoformat()


@dataclass(frozen=True)
class RiskState:
    account: str = ""
    now: int = 0  # event-time watermark of this account
    killed: bool = False
    kill_reason: str = ""
    breaker_since: int | None = None
    breaker_reason: str = ""
    day: str = ""
    day_pnl: Micros = Micros(0)  # realized P&L net of fees booked in `day`
    stopped_day: str = ""  # trading day on which the daily loss stop fired
    consecutive_losses: int = 0
    outcomes: tuple[bool, ...] = ()  # recent realized outcomes, True = loss
    consecutive_errors: int = 0
    order_times: tuple[int, ...] = ()  # event times of orders sent in the last hour

    @property
    def breaker_tripped(self) -> bool:
        return self.breaker_since is not None

    @property
    def daily_stopped(self) -> bool:
        return bool(self.stopped_day) and self.stopped_day == self.day


def risk_event(state: RiskState, kind: RiskKind, rule: str, reason: str, ts: int, ref: str = "",
               value: float | None = None, limit: float | None = None) -> RiskEvent:
    return RiskEvent(
        risk_id=f"r-{stable_id(state.account, kind.value, rule, ref, ts)[:24]}",
        account=state.account,
        kind=kind,
        ts=ts,
        rule=rule,
        reason=reason,
        ref=ref,
        value=value,
        limit=limit,
    )


def trip(state: RiskState, rule: str, reason: str, ts: int, ref: str = "",
         value: float | None = None, limit: float | None = None) -> tuple[RiskState, list[RiskEvent]]:
    if state.breaker_tripped:
        return state, []
    new = replace(state, breaker_since=ts, breaker_reason=f"{rule}: {reason}")
    return new, [risk_event(state, RiskKind.BREAKER_TRIPPED, rule, reason, ts, ref, value, limit)]


def advance(state: RiskState, cfg: RiskConfig, ts: int) -> tuple[RiskState, list[RiskEvent]]:
    """Move event time forward: roll the trading day, reset the breaker after its cool-down."""
    if ts <= state.now:
        return state, []
    new = replace(state, now=ts)
    day = trading_day(ts, cfg.timezone, cfg.rollover_hour)
    if day != new.day:
        new = replace(new, day=day, day_pnl=Micros(0))
    events: list[RiskEvent] = []
    if new.breaker_since is not None and ts >= new.breaker_since + cfg.breaker_cooldown_ms:
        events.append(risk_event(new, RiskKind.BREAKER_RESET, "cooldown",
                                 f"cool-down of {cfg.breaker_cooldown_ms} ms passed since the trip ({new.breaker_reason})",
                                 ts, ref=str(new.breaker_since)))
        new = replace(new, breaker_since=None, breaker_reason="", consecutive_losses=0, outcomes=(), consecutive_errors=0)
    return new, events


def on_ledger(state: RiskState, cfg: RiskConfig, entry: LedgerEntry) -> tuple[RiskState, list[RiskEvent]]:
    """An accepted ledger entry: daily P&L, loss streaks and loss rate (trading results only)."""
    kind = kind_of(entry)
    if kind not in PNL_KINDS:
        return state, []
    events: list[RiskEvent] = []
    new = state
    if trading_day(entry.ts, cfg.timezone, cfg.rollover_hour) == new.day:
        new = replace(new, day_pnl=new.day_pnl + Micros(entry.delta_micros))
    if kind is EntryKind.REALIZED:
        loss = entry.delta_micros < 0
        outcomes = (*new.outcomes, loss)[-cfg.loss_rate_window:]
        new = replace(new, outcomes=outcomes, consecutive_losses=new.consecutive_losses + 1 if loss else 0)
        if new.consecutive_losses >= cfg.max_consecutive_losses:
            new, ev = trip(new, "consecutive_losses", f"{new.consecutive_losses} realized losses in a row",
                           entry.ts, entry.entry_id, new.consecutive_losses, cfg.max_consecutive_losses)
            events += ev
        elif len(outcomes) >= cfg.loss_rate_min_samples:
            rate = sum(outcomes) / len(outcomes)
            if rate >= cfg.loss_rate_limit:
                new, ev = trip(new, "loss_rate", f"{sum(outcomes)} of the last {len(outcomes)} trades lost",
                               entry.ts, entry.entry_id, rate, cfg.loss_rate_limit)
                events += ev
    if new.day_pnl.value <= -cfg.daily_loss_limit.value and new.stopped_day != new.day:
        new = replace(new, stopped_day=new.day)
        events.append(risk_event(new, RiskKind.DAILY_LOSS_STOP, "daily_loss",
                                 f"realized loss net of fees {(-new.day_pnl)} on {new.day} reached the limit "
                                 f"{cfg.daily_loss_limit}; no new entries until the next trading day",
                                 entry.ts, entry.entry_id, -new.day_pnl.value / 1e6, cfg.daily_loss_limit.value / 1e6))
    return new, events


def on_status(state: RiskState, cfg: RiskConfig, status: OrderStatus) -> tuple[RiskState, list[RiskEvent]]:
    """Execution outcomes: consecutive venue errors trip the breaker; a fill clears the streak."""
    if status.state in ERROR_STATES:
        new = replace(state, consecutive_errors=state.consecutive_errors + 1)
        if new.consecutive_errors >= cfg.max_consecutive_exec_errors:
            return trip(new, "execution_errors", f"{new.consecutive_errors} execution errors in a row, last: {status.reason}",
                        status.ts, status.order_id, new.consecutive_errors, cfg.max_consecutive_exec_errors)
        return new, []
    if status.state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED):
        return replace(state, consecutive_errors=0), []
    return state, []


def on_operator(state: RiskState, event: RiskEvent) -> tuple[RiskState, list[RiskEvent]]:
    """Operator records: kill (record or file flag) and reset (breaker and kill switch)."""
    if event.rule in (OPERATOR_KILL, OPERATOR_KILL_FILE):
        return replace(state, killed=True, kill_reason=event.reason or event.rule), []
    if event.rule == OPERATOR_RESET:
        return replace(state, killed=False, kill_reason="", breaker_since=None, breaker_reason="",
                       consecutive_losses=0, outcomes=(), consecutive_errors=0), []
    return state, []


def on_stale(state: RiskState, cfg: RiskConfig, signal_ts: int, ref: str,
             venue_ts: int | None) -> tuple[RiskState, list[RiskEvent], Refusal] | None:
    """A signal lagging the account's event time by more than the limit: refused, and why decides the breaker.

    `venue_ts` is the time of the latest quote of the signal's markets as trading saw it (the oldest over
    its legs; None when one has none). When that quote is stale too, the venue's data is stale: the breaker
    trips. When the venue's data kept flowing and only the signal is late, our own pipeline paused (a
    consumer-group rebalance, a worker restart): the late signal is refused, the breaker stays as it is,
    so a rebalance longer than the limit does not stop trading for the breaker's cool-down.
    """
    lag = state.now - signal_ts
    if lag <= cfg.stale_signal_ms:
        return None
    if venue_ts is not None and state.now - venue_ts <= cfg.stale_signal_ms:
        return state, [], Refusal(RiskKind.ORDER_REFUSED, "late_signal",
                                  f"signal is {lag} ms behind event time while the venue's data is "
                                  f"{state.now - venue_ts} ms old: a pause of the pipeline, not stale data",
                                  lag, cfg.stale_signal_ms)
    new, events = trip(state, "stale_data", f"signal {lag} ms behind event time", state.now, ref, lag, cfg.stale_signal_ms)
    return new, events, Refusal(RiskKind.ORDER_REFUSED, "stale_data", f"signal is {lag} ms behind event time")


@dataclass(frozen=True)
class Refusal:
    kind: RiskKind
    rule: str
    reason: str
    value: float | None = None
    limit: float | None = None


def gate(state: RiskState, *, entry: bool) -> Refusal | None:
    """Switches that stop orders: the kill switch stops all; breaker and daily stop stop entries."""
    if state.killed:
        return Refusal(RiskKind.KILL_SWITCH, "kill_switch", f"kill switch on ({state.kill_reason})")
    if entry and state.breaker_tripped:
        return Refusal(RiskKind.ORDER_REFUSED, "breaker", f"circuit breaker tripped ({state.breaker_reason})")
    if entry and state.daily_stopped:
        return Refusal(RiskKind.DAILY_LOSS_STOP, "daily_loss", f"daily loss limit hit on {state.day} ({state.day_pnl})")
    return None


def price_band(cfg: RiskConfig, limit: Micros, reference: Micros | None) -> Refusal | None:
    if not cfg.min_price.value <= limit.value <= cfg.max_price.value:
        return Refusal(RiskKind.ORDER_REFUSED, "price_band", f"limit {limit} outside [{cfg.min_price}, {cfg.max_price}]",
                       limit.value / 1e6, None)
    if reference is not None and abs(limit.value - reference.value) > cfg.max_price_deviation.value:
        return Refusal(RiskKind.ORDER_REFUSED, "price_band",
                       f"limit {limit} is more than {cfg.max_price_deviation} from the latest quote {reference}",
                       abs(limit.value - reference.value) / 1e6, cfg.max_price_deviation.value / 1e6)
    return None


def rate_limit(state: RiskState, cfg: RiskConfig, ts: int, n: int = 1) -> Refusal | None:
    """Room for `n` more orders at `ts` within the per-minute and per-hour limits."""
    minute = sum(1 for t in state.order_times if t > ts - MINUTE_MS)
    hour = sum(1 for t in state.order_times if t > ts - HOUR_MS)
    if minute + n > cfg.max_orders_per_minute:
        return Refusal(RiskKind.LIMIT_HIT, "orders_per_minute", f"{minute} orders in the last minute",
                       minute, cfg.max_orders_per_minute)
    if hour + n > cfg.max_orders_per_hour:
        return Refusal(RiskKind.LIMIT_HIT, "orders_per_hour", f"{hour} orders in the last hour", hour, cfg.max_orders_per_hour)
    return None


def record_orders(state: RiskState, ts: int, n: int = 1) -> RiskState:
    kept = tuple(t for t in state.order_times if t > ts - HOUR_MS)
    return replace(state, order_times=kept + (ts,) * n)


@dataclass(frozen=True)
class Exposure:
    """Open cost (plus reserved cost of working orders) along each limit's axis."""

    event: Micros
    market: Micros
    venue: Micros
    total: Micros


def exposure_room(cfg: RiskConfig, exp: Exposure) -> tuple[Micros, str]:
    """The most new cost the limits allow, and which limit binds."""
    rooms = [
        (cfg.max_event_exposure - exp.event, "event_exposure"),
        (cfg.max_market_exposure - exp.market, "market_exposure"),
        (cfg.max_venue_exposure - exp.venue, "venue_exposure"),
        (cfg.max_total_exposure - exp.total, "total_exposure"),
    ]
    room, rule = min(rooms, key=lambda r: r[0].value)
    return (room if room.value > 0 else Micros(0)), rule
