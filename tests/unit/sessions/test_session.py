"""The recorded session (data/sessions/nba-2026-finals-g3): rebuilt byte for byte, normalized by the real connectors.

No broker: the payloads go through the connectors' pure normalizers (ops/sessions/replay.py) and
the in-process backtest engine. The end-to-end replay through the broker is tests/e2e/test_pipeline.py.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.sessions import build
from ops.sessions.replay import load_payloads, load_session, normalize
from schemas.enums import EventStatus, Venue
from schemas.records import EventState, MarketListing, Quote

SESSION = build.SESSION
EVENT = "espn:nba:401859965"


def test_the_builder_regenerates_the_committed_feed_byte_for_byte(tmp_path: Path) -> None:
    shutil.copytree(SESSION / "listings", tmp_path / "listings")
    n = build.build(build.SHARED, tmp_path)
    assert n > 1000
    assert (tmp_path / "feed.ndjson").read_bytes() == (SESSION / "feed.ndjson").read_bytes()


def test_payload_times_never_tie_across_streams() -> None:
    payloads = load_payloads(SESSION)
    for a, b in zip(payloads, payloads[1:]):
        assert b.at > a.at or (b.at == a.at and b.stream == a.stream), (a.at, a.stream, b.stream)


def test_the_connectors_read_every_payload_of_the_session() -> None:
    records = normalize(SESSION)
    topics = Counter(r.topic for r in records)
    assert topics["deadletter"] == 0, [r.record.error for r in records if r.topic == "deadletter"][:3]
    states = [r.record for r in records if r.topic == "events.state"]
    assert {s.event_id for s in states} == {EVENT}
    live = [s for s in states if s.status is EventStatus.LIVE]
    assert len(live) == 122  # one per recorded scoring play
    final = [s for s in states if s.status is EventStatus.FINAL]
    assert [(f.score_a, f.score_b, f.winner) for f in final] == [(111, 115, "b")]  # NY 111, SA 115
    pregame = next(s for s in states if s.status is EventStatus.SCHEDULED)
    assert pregame.spread_a == -1.5 and pregame.features["moneyline_a"] == -125.0
    listings = [r.record for r in records if r.topic == "markets.catalog"]
    assert {(lst.venue, lst.market_id) for lst in listings} == {
        (Venue.KALSHI, "KXNBAGAME-26JUN08SASNYK-NYK"), (Venue.KALSHI, "KXNBAGAME-26JUN08SASNYK-SAS"),
        (Venue.POLYMARKET, "0x0923f4cd56ffdd032deca9984f9779303b58c6ef9317c0c6490acccb477ba150")}
    quotes = [r.record for r in records if r.topic == "markets.quotes"]
    by_market = Counter(q.market_id for q in quotes)
    assert len(by_market) == 3 and min(by_market.values()) > 100, by_market
    assert all(q.yes_bid_micros is None or q.yes_ask_micros is None or q.yes_bid_micros < q.yes_ask_micros
               for q in quotes)


def test_a_recorded_kalshi_top_of_book_comes_through_as_recorded() -> None:
    """J. Alvarado's floater at 01:16:25.6Z: the websocket recorder saw NYK 0.33 / 0.34 83 ms before it."""
    quotes = [r.record for r in normalize(SESSION) if r.topic == "markets.quotes"
              and isinstance(r.record, Quote) and r.record.market_id == "KXNBAGAME-26JUN08SASNYK-NYK"]
    play_ms = 1_780_967_785_600
    before = [q for q in quotes if q.ts <= play_ms]
    assert (before[-1].yes_bid_micros, before[-1].yes_ask_micros) == (330_000, 340_000)


def test_the_session_trades_in_process() -> None:
    inputs = load_session(SESSION)
    assert [r.ts for r in inputs] == sorted(r.ts for r in inputs)
    assert sum(isinstance(r.value, EventState) for r in inputs) == 124
    assert sum(isinstance(r.value, MarketListing) for r in inputs) == 6
    result = InProcessEngine(BacktestConfig(account="session", events=(EVENT,))).run(inputs)
    assert len(result.links) >= 2 and result.probabilities and result.signals and result.orders and result.fills
    # the ledger balances: every entry's balance is the previous one plus its delta
    balance = 0
    for entry in result.ledger:
        balance += entry.delta_micros
        assert entry.balance_micros == balance, entry
    again = InProcessEngine(BacktestConfig(account="session", events=(EVENT,))).run(load_session(SESSION))
    assert [s.signal_id for s in again.signals] == [s.signal_id for s in result.signals]
    assert json.dumps([o.order_id for o in again.orders]) == json.dumps([o.order_id for o in result.orders])


def test_the_shard_prices_the_session_the_same_in_batches_as_record_by_record() -> None:
    """The venue's final listings close the books in the last batch: signals before them must stay (was 22 vs 31)."""
    inputs = load_session(SESSION)
    one = InProcessEngine(BacktestConfig(account="session", events=(EVENT,), shard_batch=1)).run(inputs)
    many = InProcessEngine(BacktestConfig(account="session", events=(EVENT,), shard_batch=500)).run(inputs)
    assert len(one.signals) > 0
    assert [s.signal_id for s in many.signals] == [s.signal_id for s in one.signals]


def test_with_the_exits_off_every_position_rides_to_the_final_and_settles(tmp_path: Path) -> None:
    """The shipped settings take profit before the final; with the exits off (a settings file, as a trader would
    write one) the session's three positions are held to the end and settled on the game's result: SA won 115-111
    (ESPN's final state), so Kalshi's SAS YES and NYK NO and Polymarket's YES (the Spurs side) each pay $1 a
    contract. Each position's realized P&L is its contracts less what its fills cost, from the fills alone."""
    from schemas.enums import PositionStatus, Side
    from schemas.records import Fill, LedgerEntry, PositionEvent

    settings = tmp_path / "exits-off.toml"
    settings.write_text("[trading.exits]\nstop_loss = false\ntake_profit = false\n")
    result = InProcessEngine(BacktestConfig(account="held", events=(EVENT,), config_file=str(settings))).run(load_session(SESSION))
    final = [s for s in load_session(SESSION) if isinstance(s.value, EventState) and s.value.status is EventStatus.FINAL]
    assert final and (final[-1].value.score_a, final[-1].value.score_b) == (111, 115)  # NY 111, SA 115
    last: dict[str, PositionEvent] = {}
    for p in result.positions:
        last[p.position_id] = p
    assert len(last) == 3 and all(p.status is PositionStatus.SETTLED and p.quantity == 0 for p in last.values())
    fills = [f for f in result.fills if isinstance(f, Fill)]
    for p in last.values():
        own = [f for f in fills if (f.venue, f.market_id, f.side) == (p.venue, p.market_id, p.side)]
        contracts = sum(f.count for f in own)
        cost = sum(round(f.count * f.price_micros) for f in own)
        assert p.realized_pnl_micros == pytest.approx(round(contracts * 1_000_000) - cost, abs=1), p
    assert {(p.market_id.split("-")[-1] if p.venue is Venue.KALSHI else "pm", p.side) for p in last.values()} == {
        ("SAS", Side.YES), ("NYK", Side.NO), ("pm", Side.YES)}
    ledger = [e for e in result.ledger if isinstance(e, LedgerEntry)]
    settled = [e for e in ledger if "settled $1" in e.reason]
    assert len(settled) == 3
    deposits = sum(e.delta_micros for e in ledger if e.reason.startswith("deposit"))
    fees = sum(f.fee_micros for f in fills)
    realized = sum(p.realized_pnl_micros for p in last.values())
    assert ledger[-1].balance_micros == deposits + realized - fees  # $1,044.13: more than the exits' +$40.32


def test_a_large_account_walks_the_sessions_recorded_depth(tmp_path: Path) -> None:
    """The shipped $1,000 account never needs more than the best level. A $100,000 account at full Kelly with wide
    caps (a settings file) does: on Polymarket's book of the session (five 1¢ levels sized as the five best bids of
    a recorded CLOB book, PROVENANCE.md) its buys take the best level whole (1,028 shares), then the next at a worse
    price, its sells walk down the bids; each fill is one level, and the ledger still balances. (Kalshi's session
    books hold 14,000-37,500 contracts a level: no order of this account reaches past the first.)"""
    from collections import defaultdict

    from schemas.enums import Action
    from schemas.records import Fill

    settings = tmp_path / "large.toml"
    settings.write_text("[trading.sizing]\nkelly_fraction = 1.0\narb_max_fraction = 0.5\n[trading.risk]\n"
                        + "".join(f"max_{k}_exposure_micros = 5000000000\n" for k in ("event", "market", "venue", "total")))
    cfg = BacktestConfig(account="large", events=(EVENT,), config_file=str(settings), bankroll_micros=100_000_000_000)
    result = InProcessEngine(cfg).run(load_session(SESSION))
    walks: dict[str, list[Fill]] = defaultdict(list)
    for f in result.fills:
        if isinstance(f, Fill):
            walks[f.order_id].append(f)
    walked = {o: fs for o, fs in walks.items() if len({f.price_micros for f in fs}) >= 2}
    assert len(walked) >= 3, {o: [(f.price_micros, f.count) for f in fs] for o, fs in walks.items()}
    for fills in walked.values():
        prices = [f.price_micros for f in fills]
        buy = fills[0].action is Action.BUY
        assert prices == sorted(prices, reverse=not buy) and len(set(prices)) == len(prices)  # worse level each time
    assert any(fs[0].action is Action.BUY for fs in walked.values()) and any(fs[0].action is Action.SELL for fs in walked.values())
    balance = 0
    for entry in result.ledger:
        balance += entry.delta_micros
        assert entry.balance_micros == balance, entry
