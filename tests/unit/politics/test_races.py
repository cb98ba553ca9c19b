"""Politics end to end in process: the recorded 2016 national polls -> race events -> discovery -> the race model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.polls.normalize import poll_states
from connectors.polls.source import FTE_2016_NATIONAL
from schemas.enums import MarketType, Venue
from schemas.records import EventState, MarketLink, MarketListing
from streams.topology import stage
from streams.discovery import DiscoveryProcessor, DiscoveryState
from streams.politics.races import RaceState, RacesProcessor
from streams.probability.base import UnknownLeague
from streams.probability.polls import Poll, forecast
from streams.probability.registry import model_for

from tests.unit.politics.test_polls import CSV, ELECTION

RACE = "us-president-2016-popular-vote"
ROOT = Path(__file__).resolve().parents[2] / "fixtures"


def race_states() -> tuple[RaceState, list[EventState]]:
    proc = RacesProcessor()
    st, outs = proc.initial(RACE), []
    polls, _ = poll_states(FTE_2016_NATIONAL, CSV, 0)
    for p in sorted(polls, key=lambda s: (s.ts, s.event_id)):
        st, out = proc.step(st, p)
        outs += out
    return st, outs


def listing(title: str, market_id: str, outcome: str = "Yes") -> MarketListing:  # constructed in Polymarket's wording
    return MarketListing(listing_id=f"POLYMARKET:{market_id}", venue=Venue.POLYMARKET, market_id=market_id, ts=ELECTION - 86_400_000,
                         title=title, yes_outcome=outcome, market_type=MarketType.POLITICS, close_ts=ELECTION + 2 * 86_400_000)


def test_race_states_follow_the_polls_as_they_arrive() -> None:
    st, outs = race_states()
    assert len(outs) == 329 and {o.event_id for o in outs} == {f"race:{RACE}"}
    last = outs[-1]
    assert (last.entity_a, last.entity_b, last.entity_a_abbr) == ("Hillary Clinton", "Donald Trump", "Democratic")
    assert last.start_ts == ELECTION
    polls = [Poll(*p) for _, p in sorted(st.polls.items())]
    assert last.features["mean"] == pytest.approx(forecast(polls, last.ts, ELECTION).mean)
    assert (codec := stage("politics-targets").tables[0].codec).decode(codec.encode(st)) == st
    p = model_for(MarketType.POLITICS, RACE).probabilities(last)
    assert 0.6 < p["a"] < 0.95 and p["a"] + p["b"] == pytest.approx(1.0)
    with pytest.raises(UnknownLeague):
        model_for(MarketType.POLITICS, "nfl")


def test_discovery_links_popular_vote_markets_not_nomination_markets() -> None:
    _, outs = race_states()
    disc, dst, links, alerts = DiscoveryProcessor(), DiscoveryState(), [], []
    recorded = json.loads((ROOT / "polymarket" / "gamma_events_dem_nominee_2028_trimmed.json").read_text())
    nominee = [listing(m["question"], f"0xnom{i}") for i, m in enumerate(m for e in recorded for m in e["markets"])]
    clinton = listing("Will Hillary Clinton win the popular vote in the 2016 presidential election?", "0xpv-clinton")
    party = listing("Which party wins the 2016 popular vote?", "0xpv-gop", outcome="Republican")
    for rec in [*nominee, clinton, party, outs[-1]]:
        dst, out = disc.step(dst, rec)
        links += [o for o in out if isinstance(o, MarketLink)]
        alerts += [o for o in out if not isinstance(o, MarketLink)]
    got = {(lk.market_id, lk.event_id, lk.yes_role) for lk in links}
    assert got == {("0xpv-clinton", f"race:{RACE}", "a"), ("0xpv-gop", f"race:{RACE}", "b")}
    assert not [lk for lk in links if lk.market_id.startswith("0xnom")]
