"""Turning operational records into rate-limited alerts.

Each source record maps to an Alert with a dedupe key; within `window_ms` of
event time only the first alert per key goes out, and the next one that does
carries how many were folded into it, so nothing is hidden, only batched.
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
        if record.status is HealthStatus.OK:
            return None
        severity = Severity.CRITICAL if record.status is HealthStatus.DOWN else Severity.WARNING
        key = f"health:{record.service}:{record.instance}:{record.status.value}"
        message = f"{record.service}/{record.instance} is {record.status.value} (lag {record.lag})"
        return Alert(f"alert:{record.heartbeat_id}", key, severity, ts=record.ts, service=record.service, message=message)
    raise TypeError(f"no alert mapping for {type(record).__name__}")


def step(limiter: RateLimiter, record: Source) -> tuple[RateLimiter, list[Alert]]:
    alert = to_alert(record)
    if alert is None:
        return limiter, []
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
