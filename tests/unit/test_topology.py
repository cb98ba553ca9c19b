"""The declared trading dataflow (streams/topology.py), run through the in-process host on the recorded game.

The in-process host runs the Faust agents' own stages and handlers (streams/trading/stages.py),
so these are the agents' unit tests without a broker: the kill switch, book tracking and fan-out
that used to live only in the agent shells, the routing declaration, and the state codec.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from schemas.enums import OrderState, RiskKind, TradingMode
from schemas.records import Order, OrderStatus, RiskEvent, ShardInput
from schemas.topics import BY_NAME, Family
from streams.local import LocalHost
from streams.state_codec import StateCodec, StateCodecError
from streams.topology import ACCOUNT_ROUTES, INBOX, STAGES, TABLES, Facts, ToAccount, stage
from streams.trading.config import TradingConfig
from streams.trading.market_view import MarketBooks
from streams.trading.book_history import BookHistory
from streams.trading.stages import Stages, TableView
from tests.unit.trading import recorded_game as game
from tests.unit.trading.hosts import paper_host

REPO = Path(__file__).resolve().parents[2]
T = game.KICKOFF_MS + 3_600_000

#: The state shape each table version was written with; a shape change must bump the version here and in topology.
PINNED = {
    ("trading-sizing", 1): "665e14292987a49d",  # its tops stored empty since they moved to their own table
    ("trading-tops", 1): "5ef1ed11bb895ded",  # sizing's and positions' (each had a table of the same shape before)
    ("trading-positions-links", 1): "933ca9ffafceae1d",
    ("trading-execution", 1): "c01cbf828f1eeaf0",
    ("trading-handled-orders", 1): "3442496b96dd0159",
    ("trading-book-history", 1): "cb0454244d475a5c",  # was trading-books v2 (quotes as JSON, with the listing)
    ("trading-listings", 1): "avro:MarketListing",
    ("trading-positions", 1): "672d4f32d17f49f8",
}


def played(host: LocalHost) -> LocalHost:
    host.publish(game.deposit("paper"))
    for ticker in (game.GB, game.DET):
        host.publish(game.quote_input(ticker, T))
    host.publish(game.gb_signal(T + 1_000))
    host.publish(game.quote_input(game.GB, T + 1_500))  # the next book, past the order's time + latency
    return host


def test_account_stages_read_only_co_partitioned_topics_and_route_only_to_known_topics() -> None:
    for s in STAGES:
        for name in (*s.inputs, *(r.topic for r in s.routes.values())):
            assert name == INBOX or name in BY_NAME, (s.name, name)
        if s.key == "account":
            assert all(name == INBOX or BY_NAME[name].family is Family.ACCOUNT for name in s.inputs), s.name
            assert all(t.name in TABLES for t in s.tables)
    assert stage("trading-route-signals").route("espn:x", ToAccount("a1", game.gb_signal(T)))[:2] == (INBOX, "a1")
    assert stage("positions").route("a1", game.gb_signal(T))[:2] == (INBOX, "a1")  # exits go back through sizing
    assert ACCOUNT_ROUTES[OrderStatus].topic == "fills"
    with pytest.raises(TypeError, match="no route"):
        stage("sizing").route("a1", game.gb_signal(T))  # sizing never emits a signal


def test_a_signal_fans_out_to_every_account_and_each_trades_it_on_its_own_state() -> None:
    host = LocalHost(Stages(TradingConfig(accounts=("a1", "a2"))), check_codec=True)
    host.publish(game.deposit("a1"))
    host.publish(game.deposit("a2"))
    for ticker in (game.GB, game.DET):
        host.publish(game.quote_input(ticker, T))
    host.publish(game.gb_signal(T + 1_000))
    assert sorted(o.account for o in host.log["orders"]) == ["a1", "a2"]
    assert [type(r).__name__ for r in host.log[INBOX]].count("Signal") == 2
    assert host.deadletters == []


def test_execution_tracks_each_accounts_books_in_its_table() -> None:
    host = played(paper_host())
    key = f"paper|KALSHI:{game.GB}"
    stored = host.tables["trading-book-history"][key]
    assert isinstance(stored, BookHistory) and [b.ts for b in stored.books] == [T, T + 1_500]
    assert host.tables["trading-listings"][key].market_id == game.GB
    gb = TableView("paper", {}, host.tables["trading-book-history"], host.tables["trading-listings"]).books(f"KALSHI:{game.GB}")
    assert isinstance(gb, MarketBooks) and [q.ts for q in gb.history] == [T, T + 1_500]
    assert [q.quote_id for q in gb.history] == [r.quote.quote_id for r in host.log[INBOX]
                                                if isinstance(r, ShardInput) and r.quote and r.quote.market_id == game.GB]
    assert gb.listing == host.tables["trading-listings"][key]
    fills = [f for f in host.log["fills"] if isinstance(f, OrderStatus)]
    assert [f.state for f in fills] == [OrderState.FILLED]  # filled against the tracked book


def test_the_kill_file_kills_the_account_on_the_next_signal_and_refuses_new_orders() -> None:
    kill = Facts()
    host = paper_host()
    host.facts = lambda: kill
    host.publish(game.deposit("paper"))
    for ticker in (game.GB, game.DET):
        host.publish(game.quote_input(ticker, T))
    kill = Facts(kill_file="/ops/KILL")
    host.publish(game.gb_signal(T + 1_000))
    risk = [r for r in host.log["risk.state"] if isinstance(r, RiskEvent)]
    assert [r.kind for r in risk][:1] == [RiskKind.KILL_SWITCH] and "kill file /ops/KILL exists" in risk[0].reason
    assert host.log["orders"] == []
    assert host.state("trading-sizing", "paper").risk.killed
    leg = game.gb_signal(T).legs[0]
    order = Order(order_id="o-1", account="paper", ts=T + 2_000, signal_id="manual", mode=TradingMode.PAPER, venue=leg.venue,
                  market_id=game.GB, event_id=game.EVENT_ID, side=leg.side, action=leg.action, limit_price_micros=440_000,
                  count=10.0)
    host.publish(order)
    refused = [s for s in host.log["fills"] if isinstance(s, OrderStatus) and s.order_id == "o-1"]
    assert [s.state for s in refused] == [OrderState.REJECTED] and "kill switch: /ops/KILL exists" in refused[0].reason


def test_without_the_kill_file_the_same_signal_trades() -> None:
    host = played(paper_host())
    assert len(host.log["orders"]) == 1 and not host.state("trading-sizing", "paper").risk.killed


def test_every_table_value_round_trips_through_its_versioned_codec() -> None:
    host = played(paper_host())  # paper_host checks every write; here the codecs themselves
    for name, table in host.tables.items():
        codec = TABLES[name].codec
        for value in table.values():
            assert codec.decode(codec.encode(value)) == value
    written = {(t.name, t.version): t.codec.schema for t in TABLES.values()}
    assert written == PINNED, "a state shape changed: bump its TableSpec version in streams/topology.py and pin it here"


def test_a_state_codec_refuses_pickle_other_versions_and_unknown_fields() -> None:
    host = played(paper_host())
    sizing = host.state("trading-sizing", "paper")
    codec = TABLES["trading-sizing"].codec
    with pytest.raises(StateCodecError):
        codec.decode(pickle.dumps(sizing))
    with pytest.raises(StateCodecError, match="this reader is"):
        StateCodec(codec.cls, 2).decode(codec.encode(sizing))
    blob = codec.encode(sizing).replace(b'"data":{', b'"data":{"surprise":1,', 1)
    with pytest.raises(StateCodecError, match="no field"):
        codec.decode(blob)


def test_no_table_or_topic_is_pickled() -> None:
    pickled = re.compile(r"import pickle|from pickle|serializer=.pickle|__setstate__")
    hits = [str(p.relative_to(REPO)) for d in ("streams", "ops", "schemas")
            for p in (REPO / d).rglob("*.py") if pickled.search(p.read_text())]
    assert hits == []


def test_upstream_outputs_are_routed_by_the_declaration_with_the_keys_defined_once() -> None:
    from schemas.enums import Severity
    from schemas.records import Alert, Probability
    from streams.keys import market_key
    from streams.router import route_state

    link = game.link(game.GB)
    assert stage("discovery").route("scope", link) == ("markets.links", market_key(link.venue, link.market_id), link)
    routed = route_state(game.final_state())[1]
    assert stage("router-markets").route("m", routed)[:2] == ("shard.inputs", game.EVENT_ID)
    sig = game.gb_signal(T)
    assert stage("shard").route(game.EVENT_ID, sig)[:2] == ("signals", game.EVENT_ID)
    prob = Probability(prob_id="p", event_id=game.EVENT_ID, ts=T)
    assert stage("shard").route(game.EVENT_ID, prob)[:2] == ("model.probabilities", game.EVENT_ID)
    alert = Alert(alert_id="a", dedupe_key="k", severity=Severity.WARNING, ts=T)
    assert stage("discovery").route("scope", alert)[:2] == ("alerts", "k")
    with pytest.raises(TypeError, match="no route"):
        stage("router-markets").route("m", sig)


def test_every_agent_group_is_declared_its_topics_known_and_its_tables_codecs_pinned() -> None:
    """Every group a worker runs (ARBEES_AGENTS) is built from the declaration; no stage reads or writes a topic the
    registry or the internal set does not know; every stateful stage's tables have a codec that round-trips."""
    from streams.app import AGENT_MODULES
    from streams.topology import INTERNAL, PIPELINE, ToScope, group

    groups = {m.rsplit(".", 1)[-1] for m in AGENT_MODULES}
    assert groups == {s.group for s in PIPELINE}
    for s in PIPELINE:
        for name in (*s.inputs, *(r.topic for r in s.routes.values())):
            assert name in INTERNAL or name in BY_NAME, (s.name, name)
        for t in s.tables:
            assert t.encoded or t.codec.schema, (s.name, t.name)
    listing = game.listing(game.GB)
    assert stage("discovery-rekey").route(listing.listing_id, ToScope("SPORT|nfl", listing)) == (
        "discovery.by-scope", "SPORT|nfl", listing)
    assert [s.name for s in group("router")] == ["router-markets", "router-states"]
