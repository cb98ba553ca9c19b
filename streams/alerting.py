"""Turning operational records into rate-limited alerts, and alerts into deliveries. Pure: no clock, no I/O.

Each source record maps to an Alert with a dedupe key; within `window_ms` of
event time only the first alert per key goes out, and the next one that does
carries how many were folded into it, so nothing is hidden, only batched.
`HeartbeatWatch` turns silence into alerts: a part that promised a heartbeat
every N seconds and missed three. `Dispatcher` decides what reaches people
(stdout, Slack, Discord): a global rate limit, quiet hours for non-critical
alerts, and a periodic digest that reports everything held back and the
trading day (fills, P&L, errors), so an alert storm is one delivery plus a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.enums import HealthStatus, RiskKind, Severity
from schemas.records import Alert, DeadLetter, Heartbeat, RiskEvent

Source = DeadLetter | RiskEvent | Heartbeat

_RISK_SEVERITY = {
    RiskKind.BREAKER_TRIPPED: Severity.CRITICAL,
    RiskKind.KILL_SWITCH: Severity.CRITICAL,
    RiskKind.DAILY_LOSS_STOP: Severity.ERROR,
    RiskKind.LIMIT_HIT: Severity.WARNING,
    RiskKind.ORDER_REFUSED: Severity.INFO,
    RiskKind.BREAKER_RESET: Severity.INFO,
}


@dataclass
class RateLimiter:
    window_ms: int = 60_000
    last_sent: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)


def to_alert(record: Source) -> Alert | None:
    """The alert a record deserves, or None for records that are not news (a healthy heartbeat)."""
    if isinstance(record, DeadLetter):
        key = f"deadletter:{record.topic}:{record.error_type}"
        message = f"bad input on {record.topic} [{record.partition}@{record.offset}] from {record.service}: {record.error}"
        return Alert(f"alert:{record.dead_id}", key, Severity.ERROR, ts=record.ts, service=record.service, message=message)
    if isinstance(record, RiskEvent):
        key = f"risk:{record.account}:{record.kind.value}:{record.rule}"
        message = f"{record.kind.value} on {record.account}: {record.reason}"
        return Alert(f"alert:{record.risk_id}", key, _RISK_SEVERITY[record.kind], ts=record.ts, service="risk", message=message)
    if isinstance(record, Heartbeat):
        return _health_alert(record)
    raise TypeError(f"no alert mapping for {type(record).__name__}")


#: Heartbeat detail: how long a feed may go without a record before it is stale (set by feeds).
STALE_AFTER_MS = "stale_after_ms"


def _health_alert(hb: Heartbeat) -> Alert | None:
    """DOWN is critical, DEGRADED (a feed that cannot reach its service) a warning, a stale feed a warning."""
    d = hb.detail
    why = "; ".join(x for x in (d.get("state", ""), d.get("error", "")) if x)
    if hb.status is not HealthStatus.OK:
        severity = Severity.CRITICAL if hb.status is HealthStatus.DOWN else Severity.WARNING
        message = f"{hb.service} is {hb.status.value}" + (f": {why}" if why else "") + (f" (lag {hb.lag})" if hb.lag else "")
        key = f"health:{hb.service}:{hb.status.value}"
        return Alert(f"alert:{hb.heartbeat_id}", key, severity, ts=hb.ts, service=hb.service, message=message)
    stale_after = int(d.get(STALE_AFTER_MS, "0") or 0)
    last = int(d.get("last_record_ms", "0") or 0)
    if stale_after > 0 and last > 0 and hb.ts - last > stale_after:
        message = f"{hb.service} feed is stale: no record for {(hb.ts - last) // 1000}s (limit {stale_after // 1000}s)"
        return Alert(f"alert:{hb.heartbeat_id}:stale", f"stale:{hb.service}", Severity.WARNING, ts=hb.ts,
                     service=hb.service, message=message)
    return None


def step(limiter: RateLimiter, record: Source) -> tuple[RateLimiter, list[Alert]]:
    alert = to_alert(record)
    if alert is None:
        return limiter, []
    return step_alert(limiter, alert)


def step_alert(limiter: RateLimiter, alert: Alert) -> tuple[RateLimiter, list[Alert]]:
    """The per-key window for an alert already made (e.g. a missed heartbeat)."""
    last = limiter.last_sent.get(alert.dedupe_key)
    if last is not None and alert.ts - last < limiter.window_ms:
        limiter.suppressed[alert.dedupe_key] = limiter.suppressed.get(alert.dedupe_key, 0) + 1
        return limiter, []
    folded = limiter.suppressed.pop(alert.dedupe_key, 0)
    limiter.last_sent[alert.dedupe_key] = alert.ts
    if folded:
        from dataclasses import replace

        alert = replace(alert, message=f"{alert.message} (+{folded} more like this since the last alert)")
    return limiter, [alert]


# ----------------------------------------------------------------- heartbeats


@dataclass
class HeartbeatWatch:
    """The last heartbeat per part and the interval it promised; silence past `misses` intervals is an alert.

    One alert per silence: the part is flagged until it beats again. A part whose
    last beat promised interval 0 ("finished", a replay) is not expected to beat.
    The supervisor's own DOWN beats (instance `supervisor`) say nothing about the part's timer.
    """

    misses: int = 3
    last: dict[str, tuple[int, float]] = field(default_factory=dict)  # service -> (ts, interval_s)
    flagged: set[str] = field(default_factory=set)
    max_age_ms: int = 600_000  # a beat read this long after it was sent (the broker's history) is no part running now

    def observe(self, hb: Heartbeat, now_ms: int | None = None) -> None:
        if hb.instance == "supervisor" or (now_ms is not None and now_ms - hb.ts > self.max_age_ms):
            return
        interval = float(hb.detail.get("interval_s", "0") or 0)
        previous = self.last.get(hb.service)
        if previous is None or hb.ts >= previous[0]:
            self.last[hb.service] = (hb.ts, interval)
            self.flagged.discard(hb.service)

    def missed(self, now_ms: int) -> list[Alert]:
        out = []
        for service, (ts, interval) in sorted(self.last.items()):
            if interval <= 0 or service in self.flagged:
                continue
            silent_ms = now_ms - ts
            if silent_ms > self.misses * interval * 1000:
                self.flagged.add(service)
                out.append(Alert(f"alert:missed:{service}:{ts}", f"heartbeat-missed:{service}", Severity.CRITICAL,
                                 ts=now_ms, service=service,
                                 message=f"{service} missed its heartbeats: silent for {silent_ms / 1000:.0f}s "
                                         f"(promised every {interval:g}s)"))
        return out


# ------------------------------------------------------------------ delivery


@dataclass(frozen=True)
class DeliveryPolicy:
    """ARBEES_ALERT_* settings; see streams/notify.py for the environment names."""

    max_per_minute: int = 20  # deliveries of non-critical alerts across every key (a crash is never held)
    max_age_ms: int = 600_000  # an alert read this long after it happened (a backlog caught up) goes to the digest
    quiet_hours: tuple[int, int] | None = None  # (from, to) UTC hours; non-critical alerts are held
    digest_every_ms: int = 3_600_000


@dataclass(frozen=True)
class Delivery:
    """One message for people: an alert as it happened, or a digest."""

    kind: str  # "alert" | "digest"
    severity: Severity
    text: str
    key: str = ""


@dataclass
class DigestTally:
    alerts: int = 0
    held: dict[str, int] = field(default_factory=dict)  # why held -> count
    by_severity: dict[str, int] = field(default_factory=dict)
    fills: int = 0
    balance: dict[str, int] = field(default_factory=dict)  # account -> last balance (micros)
    opening: dict[str, int] = field(default_factory=dict)  # account -> balance at the period's start


def in_quiet_hours(policy: DeliveryPolicy, ts_ms: int) -> bool:
    if policy.quiet_hours is None:
        return False
    start, end = policy.quiet_hours
    hour = (ts_ms // 3_600_000) % 24
    return start <= hour < end if start <= end else hour >= start or hour < end


@dataclass
class Dispatcher:
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    sent: list[int] = field(default_factory=list)  # delivery times within the last minute
    tally: DigestTally = field(default_factory=DigestTally)
    next_digest_ms: int | None = None

    def offer(self, alert: Alert, now_ms: int | None = None) -> list[Delivery]:
        """Deliver `alert` now, or hold it for the digest: read long after it happened (`now_ms`, the wall clock:
        a new alerts group reading a broker's history, a backlog), quiet hours, the global rate limit. A critical
        alert (a part died, a part went silent) is held by neither of the last two: old news cannot crowd it out."""
        t = self.tally
        t.alerts += 1
        t.by_severity[alert.severity.value] = t.by_severity.get(alert.severity.value, 0) + 1
        critical = alert.severity is Severity.CRITICAL
        if now_ms is not None and now_ms - alert.ts > self.policy.max_age_ms:
            why = f"read over {self.policy.max_age_ms // 60_000} min late"
            t.held[why] = t.held.get(why, 0) + 1
            return []
        if not critical and in_quiet_hours(self.policy, alert.ts):
            t.held["quiet hours"] = t.held.get("quiet hours", 0) + 1
            return []
        self.sent = [x for x in self.sent if alert.ts - x < 60_000]
        if not critical and len(self.sent) >= self.policy.max_per_minute:
            t.held["over the rate limit"] = t.held.get("over the rate limit", 0) + 1
            return []
        self.sent.append(alert.ts)
        text = f"[{alert.severity.value}] {alert.service}: {alert.message}"
        return [Delivery("alert", alert.severity, text, alert.dedupe_key)]

    def note_fill(self) -> None:
        self.tally.fills += 1

    def note_balance(self, account: str, balance_micros: int) -> None:
        self.tally.opening.setdefault(account, balance_micros)
        self.tally.balance[account] = balance_micros

    def tick(self, now_ms: int, limiter: RateLimiter) -> list[Delivery]:
        """The digest when it is due (the first tick only starts the period)."""
        if self.next_digest_ms is None:
            self.next_digest_ms = now_ms + self.policy.digest_every_ms
            return []
        if now_ms < self.next_digest_ms:
            return []
        self.next_digest_ms = now_ms + self.policy.digest_every_ms
        t = self.tally
        lines = [f"digest over the last {self.policy.digest_every_ms // 60_000 or 1} min: {t.alerts} alerts"
                 + (" (" + ", ".join(f"{n} {s}" for s, n in sorted(t.by_severity.items())) + ")" if t.by_severity else "")]
        for why, n in sorted(t.held.items()):
            lines.append(f"  {n} held back ({why})")
        repeated = {k: n for k, n in limiter.suppressed.items() if n}
        for key, n in sorted(repeated.items(), key=lambda kv: -kv[1])[:10]:
            lines.append(f"  {key}: {n} more like this, folded")
        lines.append(f"  trades: {t.fills} fills")
        for account, balance in sorted(t.balance.items()):
            pnl = balance - t.opening.get(account, balance)
            lines.append(f"  {account}: balance ${balance / 1e6:,.2f}, change ${pnl / 1e6:+,.2f}")
        severity = Severity.ERROR if t.by_severity.get("ERROR") or t.by_severity.get("CRITICAL") else Severity.INFO
        self.tally = DigestTally(balance=dict(t.balance), opening=dict(t.balance))
        for key in repeated:
            limiter.suppressed[key] = 0
        return [Delivery("digest", severity, "\n".join(lines))]
