"""Each risk limit, the daily loss stop, the breaker's trips and resets, price band, rates, kill switch."""

from __future__ import annotations

from dataclasses import replace

from schemas.enums import OrderState, RiskKind
from schemas.records import LedgerEntry, Order, OrderStatus, RiskEvent
from streams.trading import risk
from streams.trading.config import MINUTE_MS, RiskConfig, TradingConfig
from streams.trading.sizing_processor import SizingProcessor, SizingState
from streams.trading.units import Micros
from tests.unit.trading import recorded_game as game

T = game.KICKOFF_MS + 3_600_000
ACCT = "paper"


def sizing(**risk_kw: object) -> tuple[SizingProcessor, SizingState]:
    proc = SizingProcessor(TradingConfig(accounts=(ACCT,), risk=RiskConfig(**risk_kw)))  # type: ignore[arg-type]
    state, _ = proc.step(proc.initial(ACCT), game.deposit(ACCT))
    state, _ = proc.step(state, game.quote_input(game.GB, T))
    state, _ = proc.step(state, game.quote_input(game.DET, T))
    return proc, state


def signal(i: int, ts: int | None = None, size: float = 17.0, price: int = 440_000):
    return game.edge_signal(game.GB, ts or T + 1_000 * i, p=0.62, price=price, fee_per_contract=17_648, size=size, tag=f"-{i}")


def orders(outs: list) -> list[Order]:
    return [o for o in outs if isinstance(o, Order)]


def refusals(outs: list) -> list[RiskEvent]:
    return [o for o in outs if isinstance(o, RiskEvent)]


def realized(version: int, delta: int, balance_before: int, ts: int = T) -> LedgerEntry:
    return LedgerEntry(entry_id=f"r{version}", account=ACCT, ts=ts, delta_micros=delta, balance_micros=balance_before + delta,
                       version=version, reason="realized: test", ref="t")


def test_an_unconstrained_signal_becomes_one_ioc_order_sized_by_the_signal() -> None:
    proc, st = sizing()
    st, outs = proc.step(st, signal(1))
    (o,) = orders(outs)
    assert (o.count, o.limit_price_micros, o.tif.value, o.order_id == o.order_id) == (17.0, 440_000, "IOC", True)
    assert "bound by signal_size" in o.reason and st.working[o.order_id].reserved == Micros(7_480_000)


def test_market_exposure_caps_the_size_then_refuses() -> None:
    proc, st = sizing(max_market_exposure=Micros(10_000_000))  # $10 per market
    st, outs = proc.step(st, signal(1))
    assert orders(outs)[0].count == 17.0  # $7.48 reserved
    st, outs = proc.step(st, signal(2))
    (o,) = orders(outs)
    assert o.count == 5.0 and "bound by market_exposure" in o.reason  # $2.52 room → 5 at $0.44
    st, outs = proc.step(st, signal(3))
    (r,) = refusals(outs)
    assert r.kind is RiskKind.LIMIT_HIT and r.rule == "market_exposure" and not orders(outs)


def test_event_venue_and_total_exposure_limits_bind() -> None:
    for field, rule in (("max_event_exposure", "event_exposure"), ("max_venue_exposure", "venue_exposure"),
                        ("max_total_exposure", "total_exposure")):
        proc, st = sizing(**{field: Micros(3_000_000)})
        st, outs = proc.step(st, signal(1))
        (o,) = orders(outs)
        assert o.count == 6.0 and f"bound by {rule}" in o.reason, (field, o.reason)  # $3 / $0.44 = 6.8 → 6


def test_daily_loss_stop_counts_realized_losses_net_of_fees_and_lasts_the_trading_day() -> None:
    proc, st = sizing(daily_loss_limit=Micros(5_000_000))
    st, outs = proc.step(st, LedgerEntry("f2", ACCT, T, -1_000_000, 999_000_000, 2, "fee: test", "x"))
    st, outs = proc.step(st, realized(3, -3_900_000, 999_000_000))
    assert not refusals(outs) and st.risk.day_pnl == Micros(-4_900_000)
    st, outs = proc.step(st, realized(4, -100_000, 995_100_000))
    (stop,) = refusals(outs)
    assert stop.kind is RiskKind.DAILY_LOSS_STOP and stop.value == 5.0
    st, outs = proc.step(st, signal(1, ts=T + 60_000))
    assert not orders(outs) and refusals(outs)[0].kind is RiskKind.DAILY_LOSS_STOP
    # a deposit is not a trading result; and the next trading day (midnight New York) trades again
    next_day = T + 24 * 3_600_000
    st, outs = proc.step(st, game.quote_input(game.GB, next_day))
    st, outs = proc.step(st, signal(2, ts=next_day + 1_000))
    assert orders(outs)


def test_breaker_trips_on_consecutive_losses_and_resets_after_the_cooldown() -> None:
    proc, st = sizing(max_consecutive_losses=3, breaker_cooldown_ms=10 * MINUTE_MS, daily_loss_limit=Micros(10**12))
    balance = game.ONE_THOUSAND_DOLLARS
    events: list = []
    for v in (2, 3, 4):
        st, outs = proc.step(st, realized(v, -1_000_000, balance))
        balance -= 1_000_000
        events += refusals(outs)
    (trip,) = events
    assert trip.kind is RiskKind.BREAKER_TRIPPED and trip.rule == "consecutive_losses"
    st, outs = proc.step(st, signal(1, ts=T + MINUTE_MS))
    assert not orders(outs) and refusals(outs)[0].rule == "breaker"
    st, outs = proc.step(st, game.quote_input(game.GB, T + 10 * MINUTE_MS))
    assert [e.kind for e in refusals(outs)] == [RiskKind.BREAKER_RESET] and refusals(outs)[0].rule == "cooldown"
    st, outs = proc.step(st, signal(2, ts=T + 10 * MINUTE_MS + 1))
    assert orders(outs)


def test_breaker_trips_on_loss_rate_and_on_execution_errors_and_resets_by_operator() -> None:
    proc, st = sizing(loss_rate_limit=0.6, loss_rate_window=5, loss_rate_min_samples=5, max_consecutive_losses=99,
                      daily_loss_limit=Micros(10**12))
    balance, v = game.ONE_THOUSAND_DOLLARS, 2
    tripped: list = []
    for delta in (-1, 2, -1, -1, 3, -1):  # after 5: 3 of 5 lost = 0.6 → trip
        st, outs = proc.step(st, realized(v, delta * 1_000_000, balance))
        balance += delta * 1_000_000
        v += 1
        tripped += [e for e in refusals(outs) if e.kind is RiskKind.BREAKER_TRIPPED]
    assert [e.rule for e in tripped] == ["loss_rate"]
    reset = RiskEvent("op1", ACCT, RiskKind.BREAKER_RESET, T + 1, rule=risk.OPERATOR_RESET, reason="arbees risk reset")
    st, _ = proc.step(st, reset)
    assert not st.risk.breaker_tripped

    proc, st = sizing(max_consecutive_exec_errors=2)
    for i in range(2):
        st, outs = proc.step(st, OrderStatus(f"s{i}", f"o{i}", ACCT, OrderState.REJECTED, T + i, reason="venue 500"))
    assert refusals(outs)[0].rule == "execution_errors" and st.risk.breaker_tripped


def test_stale_venue_data_trips_the_breaker_and_is_refused() -> None:
    """Event time moved on (the other market's quotes) while the signal's market has no quote past T: stale data."""
    proc, st = sizing(stale_signal_ms=30_000)
    st, _ = proc.step(st, game.quote_input(game.DET, T + 120_000))
    st, outs = proc.step(st, signal(1, ts=T + 60_000))
    kinds = [(e.kind, e.rule) for e in refusals(outs)]
    assert (RiskKind.BREAKER_TRIPPED, "stale_data") in kinds and (RiskKind.ORDER_REFUSED, "stale_data") in kinds
    assert not orders(outs) and st.risk.breaker_tripped


def test_a_rebalance_pause_refuses_the_late_signal_without_tripping_the_breaker() -> None:
    """The signal's own market kept quoting (fresh at T+120 s) while the signal of T+60 s was held up in our pipeline
    (a rebalance of the shard group longer than the limit): that signal is refused as late, trading goes on."""
    proc, st = sizing(stale_signal_ms=30_000)
    st, _ = proc.step(st, game.quote_input(game.GB, T + 120_000))
    st, outs = proc.step(st, signal(1, ts=T + 60_000))
    (late,) = refusals(outs)
    assert (late.kind, late.rule) == (RiskKind.ORDER_REFUSED, "late_signal") and "pause of the pipeline" in late.reason
    assert not orders(outs) and not st.risk.breaker_tripped
    st, outs = proc.step(st, signal(2, ts=T + 121_000))  # the first signal after the pause trades
    assert len(orders(outs)) == 1 and not refusals(outs)


def test_price_band_absolute_and_distance_from_the_latest_quote() -> None:
    proc, st = sizing(max_price_deviation=Micros(30_000))
    st, outs = proc.step(st, signal(1, price=480_000))  # best ask 0.44: 4¢ away
    assert refusals(outs)[0].rule == "price_band" and not orders(outs)
    st, outs = proc.step(st, signal(2, price=995_000))
    assert refusals(outs)[0].rule == "price_band"


def test_order_rate_limits_per_minute_and_per_hour_in_event_time() -> None:
    proc, st = sizing(max_orders_per_minute=2, max_orders_per_hour=3, max_market_exposure=Micros(10**10),
                      max_event_exposure=Micros(10**10))
    got = []
    for i, ts in enumerate((T, T + 1_000, T + 2_000, T + 61_000, T + 62_000)):
        st, outs = proc.step(st, signal(i, ts=ts, size=1.0))
        got.append(orders(outs) and "ok" or refusals(outs)[0].rule)
    assert got == ["ok", "ok", "orders_per_minute", "ok", "orders_per_hour"]


def test_kill_switch_record_stops_every_order_at_once_until_reset() -> None:
    proc, st = sizing()
    kill = RiskEvent("k1", ACCT, RiskKind.KILL_SWITCH, T, rule=risk.OPERATOR_KILL, reason="arbees kill")
    st, _ = proc.step(st, kill)
    st, outs = proc.step(st, signal(1))
    assert refusals(outs)[0].kind is RiskKind.KILL_SWITCH and not orders(outs)
    st, _ = proc.step(st, replace(kill, risk_id="r1", kind=RiskKind.BREAKER_RESET, rule=risk.OPERATOR_RESET))
    st, outs = proc.step(st, signal(2))
    assert orders(outs)


def test_trading_day_uses_the_configured_zone_and_rollover() -> None:
    # 2025-11-28 04:30 UTC is 23:30 on the 27th in New York; with a 6 am rollover, 05:59 NY is still the 27th
    assert risk.trading_day(1_764_304_200_000, "America/New_York", 0) == "2025-11-27"
    assert risk.trading_day(1_764_327_540_000, "America/New_York", 6) == "2025-11-27"
    assert risk.trading_day(1_764_327_660_000, "America/New_York", 6) == "2025-11-28"


def test_trading_day_kept_per_minute_equals_the_exact_instant_across_dst_and_rollover() -> None:
    """Every 7 s over the New York DST end (2025-11-02 06:00Z) and a 6 h rollover, and over Kolkata's +5:30."""
    from datetime import datetime, timedelta, timezone

    from zoneinfo import ZoneInfo

    def exact(ts: int, tz: str, hour: int) -> str:
        local = datetime.fromtimestamp(ts / 1000, tz=timezone.utc).astimezone(ZoneInfo(tz))
        return (local - timedelta(hours=hour)).date().isoformat()

    crossed = 0
    for tz, hour, around in (("America/New_York", 0, 1_762_063_200_000), ("America/New_York", 6, 1_762_063_200_000),
                             ("America/New_York", 0, 1_762_059_600_000), ("Asia/Kolkata", 0, 1_762_021_800_000)):
        days = set()
        for ts in range(around - 7_200_000, around + 7_200_000, 7_001):
            assert risk.trading_day(ts, tz, hour) == exact(ts, tz, hour), (tz, hour, ts)
            days.add(exact(ts, tz, hour))
        crossed += len(days) > 1
    assert crossed >= 2  # the windows hold day changes (NY midnight at 04:00Z, Kolkata's at 18:30Z), not only mid-day
