"""What `arbees run` runs, and what its screen makes of the records it reads."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

from connectors.espn.leagues import LEAGUES
from connectors.kalshi.normalize import SERIES_LEAGUES
from ops.run.board import Board, Snapshot
from ops.run.parts import AGENT_GROUPS, Kind, Part, PlanError, plan
from schemas.enums import HealthStatus, OrderState, SignalKind, Side, Venue
from schemas.records import Fill, Heartbeat, LedgerEntry, MarketLink, OrderStatus, Probability, Quote, Signal, SignalLeg


def _ports():  # noqa: ANN202
    counter = itertools.count(41000)
    return lambda: next(counter)


def test_agent_groups_are_the_apps_agent_modules() -> None:
    from streams.app import AGENT_MODULES

    assert sorted(AGENT_GROUPS) == sorted(m.rsplit(".", 1)[-1] for m in AGENT_MODULES)


def test_fred_runs_only_with_its_key() -> None:
    assert "fred" not in [p.name for p in plan(port=_ports(), env={})]
    assert "fred" in [p.name for p in plan(port=_ports(), env={"FRED_API_KEY": "k"})]


def test_every_part_with_every_league_and_series() -> None:
    parts = {p.name: p for p in plan(port=_ports(), env={"FRED_API_KEY": "k", "ARBEES_BOARD_PORT": "18099"})}
    assert list(parts) == ["sink", *AGENT_GROUPS, "espn", "kalshi", "polymarket", "coingecko", "fred", "polls", "board"]
    assert parts["board"].argv[-4:] == ("ops.cli", "board", "--port", "18099")
    for group in AGENT_GROUPS:
        env = parts[group].env
        assert env["ARBEES_AGENTS"] == group and env["ARBEES_APP_ID"] == f"arbees-{group}"
        assert env["ARBEES_MODE"] == "paper" and "--live" not in parts[group].argv
        assert "ARBEES_WEB_PORT" not in env  # a worker serves no Faust web (streams.agents.worker.faust_args)
    assert parts["espn"].argv[-1].split(",") == list(LEAGUES)
    series = parts["kalshi"].argv[-1].split(",")
    assert series[: len(SERIES_LEAGUES)] == list(SERIES_LEAGUES)
    # the crypto ladders and the economic releases too: the series of the recorded KXBTCD listing, CPI, U-3, the Fed
    assert {"KXBTCD", "KXBTC", "KXETHD", "KXCPI", "KXU3", "KXPAYROLLS", "KXFED"} <= set(series)
    tags = parts["polymarket"].argv[-1].split(",")
    assert tags == [*LEAGUES, "crypto", "economy", "politics"]
    from ops.run.feed import argv_for  # what compose and the k8s manifests start: the same argv

    assert argv_for("kalshi", ["--every", "5"]) == (*parts["kalshi"].argv, "--every", "5")
    with pytest.raises(SystemExit, match="unknown feed 'bloomberg'"):
        argv_for("bloomberg")
    ports = [p.metrics_port for p in parts.values()]
    assert len(set(ports)) == len(ports)


def test_only_and_replay_select() -> None:
    assert [p.name for p in plan(["shard", "trading"], port=_ports())] == ["shard", "trading"]
    replay = Part("replay", Kind.REPLAY, ("python", "-m", "ops.run.replay", "x"), finite=True)
    names = [p.name for p in plan((), replay, port=_ports(), env={"FRED_API_KEY": "k"})]
    assert "replay" in names and not {"espn", "kalshi", "polymarket", "coingecko", "fred"} & set(names)
    with pytest.raises(PlanError, match="unknown part.*shrad"):
        plan(["shrad"], port=_ports())


def _hb(service: str, ts: int, records_in: int, status: HealthStatus = HealthStatus.OK, state: str = "running") -> Heartbeat:
    return Heartbeat(f"hb:{service}:{ts}", service, "host:1", status, ts=ts, lag=7,
                     detail={"records_in": str(records_in), "records_out": "0", "interval_s": "2", "state": state})


def test_board_rates_lag_and_model_vs_market() -> None:
    board = Board()
    board.apply("health", _hb("shard", 10_000, 100))
    board.apply("health", _hb("shard", 12_000, 300))
    beat = board.beats["shard"]
    assert beat.in_per_s == pytest.approx(100.0) and beat.lag == 7
    board.apply("health", _hb("shard", 11_000, 200))  # older: ignored
    assert board.beats["shard"].ts == 12_000
    board.apply("markets.links", MarketLink("l1", Venue.KALSHI, "KX-NY", "ev1", ts=1, yes_role="b"))
    board.apply("markets.quotes", Quote("q1", Venue.KALSHI, "KX-NY", ts=2, yes_bid_micros=400_000, yes_ask_micros=420_000))
    board.apply("model.probabilities", Probability("p1", "ev1", ts=3, outcomes={"a": 0.55, "b": 0.45}))
    row = board.events["ev1"]
    assert row.model_p == 0.55 and row.market_p["KALSHI"] == pytest.approx(0.59)
    board.apply("signals", Signal("s1", "ev1", SignalKind.MODEL_EDGE, ts=4, edge=0.04,
                                  legs=[SignalLeg(Venue.KALSHI, "KX-NY", Side.NO, price_micros=590_000)]))
    board.apply("ledger", LedgerEntry("e1", "paper", ts=5, balance_micros=1_000_000_000))
    assert board.signals[-1].startswith("MODEL_EDGE ev1: KALSHI KX-NY NO @0.59 edge +0.040")
    assert board.balance == {"paper": 1_000_000_000}
    # an order's fill and its terminal status share the `fills` topic: one fill is counted as one fill
    board.apply("fills", Fill("f1", "o1", "paper", ts=6, venue=Venue.KALSHI, market_id="KX-NY", count=3.0, price_micros=590_000))
    board.apply("fills", OrderStatus("st1", "o1", "paper", OrderState.FILLED, ts=6, filled_count=3.0))
    assert board.counts["fills"] == 1 and board.counts["order statuses"] == 1


def test_snapshot_round_trips_through_json() -> None:
    from ops.run.board import EventRow, PartRow

    snap = Snapshot(1, "s", [PartRow("espn", "feed", "running", 5, 1.0, 0, "", "unreachable, retrying", 0.0, 0.0,
                                     0, 0, 0, 2.0, 9300)], [EventRow("e", market_p={"KALSHI": 0.5})], ["x"], [], [],
                    [], [], {"paper": 1.0}, {}, {}, False, {"signals": 1}, ["note"])
    assert Snapshot.from_json(snap.to_json()) == snap


def test_trading_gauges_follow_balance_realized_pnl_per_position_and_breaker() -> None:
    from prometheus_client import REGISTRY

    from schemas.enums import PositionStatus, RiskKind
    from schemas.records import PositionEvent, RiskEvent
    from telemetry.meter import observe_trading

    acct = "gauge-test"
    observe_trading(LedgerEntry("e", acct, ts=1, balance_micros=5_000_000))
    for pos, realized in (("p1", 1_000), ("p1", 3_000), ("p2", -500)):  # realized is cumulative per position
        observe_trading(PositionEvent(f"{pos}{realized}", pos, acct, PositionStatus.UPDATE, ts=2, realized_pnl_micros=realized))
    observe_trading(RiskEvent("r", acct, RiskKind.BREAKER_TRIPPED, ts=3))

    def value(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"account": acct})

    assert value("arbees_balance_micros") == 5_000_000
    assert value("arbees_realized_pnl_micros") == 2_500
    assert value("arbees_breaker_tripped") == 1
    observe_trading(RiskEvent("r2", acct, RiskKind.BREAKER_RESET, ts=4))
    assert value("arbees_breaker_tripped") == 0


def test_a_run_id_names_the_runs_groups_and_paper_accounts() -> None:
    """`--run-id`: what replays a session already replayed on a stack (ops/run/replayed.py) as a run of its own."""
    from ops.run.main import RunOptions, run_env

    assert run_env(RunOptions(), {}) == ("arbees", {})
    prefix, env = run_env(RunOptions(run_id="again"), {"ARBEES_APP_ID": "lab", "ARBEES_ACCOUNTS": "paper,hedge"})
    assert prefix == "lab-again" and env == {"ARBEES_APP_ID": "lab-again", "ARBEES_ACCOUNTS": "paper-again,hedge-again"}
    assert {p.env["ARBEES_APP_ID"] for p in plan(("shard", "trading"), app_prefix=prefix, port=_ports())} == {
        "lab-again-shard", "lab-again-trading"}
    with pytest.raises(PlanError, match="names topics and groups"):
        run_env(RunOptions(run_id="two words"), {})


def test_a_part_whose_metrics_port_a_connection_took_serves_on_another_and_says_which(monkeypatch: Any) -> None:
    """The port `arbees run` planned can become a live connection's local port before the part binds it (CI's chaos
    run: `targets` died of it at every restart for the whole run); the part serves elsewhere instead of dying."""
    import socket

    import httpx

    from telemetry.meter import serve_metrics

    with socket.socket() as listener, socket.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client.connect(listener.getsockname())
        taken = client.getsockname()[1]  # held as a connection's local port, as the kernel hands them out
        monkeypatch.setenv("ARBEES_METRICS_PORT", str(taken))
        served = serve_metrics()
        assert served is not None and served != taken
        assert os.environ["ARBEES_METRICS_PORT"] == str(served)  # what the part's heartbeats report
        assert httpx.get(f"http://127.0.0.1:{served}/metrics", timeout=5).status_code == 200


def test_an_agent_worker_serves_no_faust_web_unless_asked() -> None:
    """Faust's `worker` serves its web server on a port planned before the part starts; a connection that took that
    port as its local one made the router die at every restart of a load run (17 times). Nothing reads that server."""
    from streams.agents.worker import faust_args

    argv = plan(("router",), port=_ports())[0].argv
    assert faust_args(list(argv[3:])) == ["worker", "-l", "info", "--without-web"]
    assert faust_args(["worker", "-l", "info", "--with-web"]) == ["worker", "-l", "info", "--with-web"]
    assert faust_args(["worker", "--without-web"]) == ["worker", "--without-web"]
    assert faust_args(["send", "topic", "x"]) == ["send", "topic", "x"]
