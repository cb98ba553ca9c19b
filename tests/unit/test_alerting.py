"""Alert mapping and rate limiting in event time."""

from __future__ import annotations

from schemas.deadletters import dead_letter
from schemas.enums import HealthStatus, RiskKind, Severity
from schemas.records import Heartbeat, RiskEvent
from streams.alerting import RateLimiter, step


def _dl(offset: int, ts: int):
    return dead_letter(topic="raw.espn", value=b"{not json", error=ValueError("unterminated JSON"), service="espn",
                       ts=ts, partition=2, offset=offset)


def test_dead_letter_alert_names_topic_offset_and_reason() -> None:
    _, alerts = step(RateLimiter(), _dl(41, 1_000))
    assert len(alerts) == 1
    a = alerts[0]
    assert a.severity is Severity.ERROR and a.dedupe_key == "deadletter:raw.espn:ValueError"
    assert "raw.espn [2@41]" in a.message and "unterminated JSON" in a.message


def test_repeats_within_the_window_are_folded_into_the_next_alert() -> None:
    limiter = RateLimiter(window_ms=60_000)
    out = []
    for i, ts in enumerate((0, 10_000, 20_000, 59_999, 60_000)):
        limiter, alerts = step(limiter, _dl(i, ts))
        out += alerts
    assert [a.ts for a in out] == [0, 60_000]
    assert out[1].message.endswith("(+3 more like this since the last alert)")


def test_healthy_heartbeats_are_quiet_and_breakers_are_critical() -> None:
    limiter, alerts = step(RateLimiter(), Heartbeat("h1", "shard", "w1", HealthStatus.OK, ts=1))
    assert alerts == []
    _, alerts = step(limiter, RiskEvent("r1", "paper", RiskKind.BREAKER_TRIPPED, ts=2, rule="consecutive_losses",
                                        reason="5 losses in a row"))
    assert alerts[0].severity is Severity.CRITICAL and "5 losses in a row" in alerts[0].message
