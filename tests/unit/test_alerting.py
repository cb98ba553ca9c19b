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


# ------------------------------------------------------------ heartbeats, delivery
# The heartbeats and alerts below are made up for the rules they exercise; the
# real-broker tests (tests/integration/test_alerts_delivery.py) run them through the agent.

from schemas.records import Alert  # noqa: E402
from streams.alerting import (  # noqa: E402
    DeliveryPolicy,
    Dispatcher,
    HeartbeatWatch,
    in_quiet_hours,
    step_alert,
)


def _beat(service: str, ts: int, interval: str = "2", status: HealthStatus = HealthStatus.OK, **detail: str) -> Heartbeat:
    return Heartbeat(f"hb:{service}:{ts}", service, "host:1", status, ts=ts, detail={"interval_s": interval, **detail})


def test_a_feed_that_cannot_reach_its_service_says_why_under_one_key_across_restarts() -> None:
    a = _beat("espn", 1_000, status=HealthStatus.DEGRADED, state="unreachable, retrying", error="ESPN: gave up")
    b = Heartbeat("hb2", "espn", "host:2", HealthStatus.DEGRADED, ts=2_000, detail={"state": "unreachable, retrying"})
    limiter, first = step(RateLimiter(), a)
    limiter, second = step(limiter, b)
    assert first[0].message == "espn is DEGRADED: unreachable, retrying; ESPN: gave up"
    assert first[0].severity is Severity.WARNING and first[0].dedupe_key == "health:espn:DEGRADED"
    assert second == [] and limiter.suppressed == {"health:espn:DEGRADED": 1}


def test_a_stale_feed_is_an_alert_a_fresh_one_is_not() -> None:
    fresh = _beat("kalshi", 1_000_000, last_record_ms="999000", stale_after_ms="900000")
    stale = _beat("kalshi", 2_000_000, last_record_ms="999000", stale_after_ms="900000")
    assert step(RateLimiter(), fresh)[1] == []
    alert = step(RateLimiter(), stale)[1][0]
    assert alert.dedupe_key == "stale:kalshi" and "no record for 1001s (limit 900s)" in alert.message


def test_silence_past_three_intervals_is_one_critical_alert_until_the_part_beats_again() -> None:
    watch = HeartbeatWatch()
    watch.observe(_beat("router", 10_000))
    assert watch.missed(15_999) == []
    missed = watch.missed(16_001)
    assert [a.dedupe_key for a in missed] == ["heartbeat-missed:router"]
    assert missed[0].severity is Severity.CRITICAL and "silent for 6s (promised every 2s)" in missed[0].message
    assert watch.missed(30_000) == []  # one alert per silence
    watch.observe(_beat("router", 31_000))
    assert watch.missed(32_000) == [] and watch.missed(38_000) != []


def test_a_finished_part_and_the_supervisors_word_are_not_expected_to_beat() -> None:
    watch = HeartbeatWatch()
    watch.observe(_beat("replay", 1_000, interval="0", state="finished"))
    watch.observe(Heartbeat("x", "trading", "supervisor", HealthStatus.DOWN, ts=1_000, detail={}))
    assert watch.missed(10**9) == []


def _alert(i: int, ts: int, severity: Severity = Severity.WARNING, key: str = "k") -> Alert:
    return Alert(f"a{i}", key, severity, ts=ts, service="svc", message=f"m{i}")


def test_an_alert_storm_is_one_delivery_then_a_count_in_the_digest() -> None:
    limiter, dispatcher, deliveries = RateLimiter(), Dispatcher(DeliveryPolicy(digest_every_ms=60_000)), []
    dispatcher.tick(0, limiter)
    for i in range(1000):
        limiter, alerts = step_alert(limiter, _alert(i, 1_000 + i))  # 1,000 identical alerts within one second
        for a in alerts:
            deliveries += dispatcher.offer(a)
    assert [d.text for d in deliveries] == ["[WARNING] svc: m0"]
    digest = dispatcher.tick(60_000, limiter)
    assert len(digest) == 1 and "k: 999 more like this, folded" in digest[0].text
    assert dispatcher.tick(61_000, limiter) == []


def test_global_rate_limit_holds_the_excess_for_the_digest() -> None:
    dispatcher = Dispatcher(DeliveryPolicy(max_per_minute=3, digest_every_ms=120_000))
    out = [d for i in range(10) for d in dispatcher.offer(_alert(i, i * 1_000, key=f"k{i}"))]
    assert len(out) == 3
    out += dispatcher.offer(_alert(99, 61_000, key="later"))  # a minute on: room again
    assert len(out) == 4
    dispatcher.tick(0, RateLimiter())
    assert "7 held back (over the rate limit)" in dispatcher.tick(120_000, RateLimiter())[0].text


def test_critical_alerts_pass_the_rate_limit_and_old_news_goes_to_the_digest() -> None:
    dispatcher = Dispatcher(DeliveryPolicy(max_per_minute=2, max_age_ms=600_000, digest_every_ms=3_600_000))
    now = 10_000_000
    assert [len(dispatcher.offer(_alert(i, now - i, key=f"k{i}"), now)) for i in range(3)] == [1, 1, 0]
    down = _alert(9, now, Severity.CRITICAL, key="health:kalshi:DOWN")
    assert [d.text for d in dispatcher.offer(down, now)] == ["[CRITICAL] svc: m9"]  # a crash is never held back
    assert dispatcher.offer(_alert(10, now - 700_000, Severity.CRITICAL, key="old"), now) == []  # read 11 min late
    dispatcher.tick(now, RateLimiter())
    text = dispatcher.tick(now + 3_600_000, RateLimiter())[0].text
    assert "1 held back (over the rate limit)" in text and "1 held back (read over 10 min late)" in text


def test_quiet_hours_hold_all_but_critical() -> None:
    policy = DeliveryPolicy(quiet_hours=(22, 7))
    night, day = 23 * 3_600_000, 12 * 3_600_000
    assert in_quiet_hours(policy, night) and in_quiet_hours(policy, 3 * 3_600_000) and not in_quiet_hours(policy, day)
    dispatcher = Dispatcher(policy)
    assert dispatcher.offer(_alert(1, night)) == []
    assert len(dispatcher.offer(_alert(2, night, Severity.CRITICAL))) == 1
    assert len(dispatcher.offer(_alert(3, day))) == 1


def test_the_digest_reports_trades_and_pnl_of_the_period() -> None:
    dispatcher = Dispatcher(DeliveryPolicy(digest_every_ms=1_000))
    dispatcher.tick(0, RateLimiter())
    dispatcher.note_balance("paper", 1_000_000_000)
    dispatcher.note_fill()
    dispatcher.note_fill()
    dispatcher.note_balance("paper", 1_012_500_000)
    text = dispatcher.tick(1_000, RateLimiter())[0].text
    assert "trades: 2 fills" in text and "paper: balance $1,012.50, change $+12.50" in text
    dispatcher.note_balance("paper", 1_010_000_000)
    assert "change $-2.50" in dispatcher.tick(2_000, RateLimiter())[0].text


def test_the_alerts_stage_watches_only_beats_of_parts_running_now_and_delivers_a_crash_through_a_backlog() -> None:
    """A new alerts group reads the broker's history first: beats from a run long gone are not watched
    (no 'silent for 3 days'), old alerts go to the digest, and the crash of a part now is delivered."""
    import asyncio

    from streams.upstream_stages import AlertStages

    now = 50_000_000
    delivered: list[str] = []
    stages = AlertStages(RateLimiter(), Dispatcher(DeliveryPolicy(max_per_minute=1)), lambda d: delivered.append(d.text),
                         now_ms=lambda: now)

    class Ctx:
        emitted: list[Alert] = []

        async def emit(self, outputs: list[Alert]) -> None:
            self.emitted += outputs

    ctx = Ctx()
    old = [Heartbeat(f"hb{i}", f"old{i}", "host", HealthStatus.DEGRADED, ts=now - 3_600_000 + i,
                     detail={"interval_s": "5", "state": "unreachable"}) for i in range(30)]
    down = Heartbeat("hb-down", "kalshi", "supervisor", HealthStatus.DOWN, ts=now,
                     detail={"state": "crashed", "error": "kalshi killed by signal 9"})
    for hb in [*old, down]:
        asyncio.run(stages.alert(ctx, hb))  # type: ignore[arg-type]
    assert len(ctx.emitted) == 31  # every alert is on the topic
    assert delivered == ["[CRITICAL] kalshi: kalshi is DOWN: crashed; kalshi killed by signal 9"]
    assert stages.watch.last == {}
    asyncio.run(stages.watch_and_digest(ctx.emit, now + 60_000))
    assert len(ctx.emitted) == 31  # nobody flagged silent for a beat of an hour ago
