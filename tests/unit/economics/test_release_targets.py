"""Economics end to end in process: the recorded FRED UNRATE answer -> observation states -> release targets ->
discovery links -> the release model.

No recorded economics listing of either venue exists in this project's fixtures: the Kalshi markets are
the recorded Kalshi market object with an economics ticker, wording and times put in, read by the Kalshi
normalizer; the Polymarket titles are constructed in Polymarket's wording (marked per test). The FRED
observations are the recorded answer (realtime 2020-05-20: the last published period is April 2020, 14.7 %).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.fred.pipeline import FredPipeline
from schemas.enums import EventStatus, MarketType, Venue
from schemas.records import EventState, MarketLink, MarketListing
from streams.topology import stage
from streams.discovery import DiscoveryProcessor, DiscoveryState
from streams.economics.parse import NotATarget, parse_listing
from streams.economics.target import EconTarget
from streams.economics.targets import TargetsProcessor
from streams.probability.base import StateNotModelable
from streams.probability.economics import forecast_next
from streams.probability.registry import model_for

from tests.unit.fred.test_connector import Sink, fetched

FETCHED = 1_590_000_000_000  # 2020-05-20


def unrate_states() -> list[EventState]:
    raw = fetched("series_observations", "/series/observations", "series_observations_UNRATE.json", {"series_id": "UNRATE"}, FETCHED)
    return list(FredPipeline(Sink()).on_raw(raw.raw_feed()).states)


def kalshi(ticker: str) -> MarketListing:
    """A Kalshi economics market through the Kalshi normalizer: the recorded GET /markets object
    (tests/fixtures/kalshi/markets_list_prod_KXNFLGAME_limit1.json) with its identity, wording and times
    replaced by the economics market's (no economics market object was recorded), everything else as recorded."""
    import json
    from pathlib import Path

    from connectors.kalshi.normalize import market_to_listing

    recorded = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "kalshi" / "markets_list_prod_KXNFLGAME_limit1.json").read_text())
    strike = ticker.rsplit("-T", 1)[-1]
    market = {**recorded["markets"][0], "ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "category": "Economics",
              "title": f"{ticker.split('-')[0]} above {strike}?", "subtitle": f"Above {strike}", "yes_sub_title": f"Above {strike}",
              "no_sub_title": f"Above {strike}", "custom_strike": {}, "strike_type": "greater", "floor_strike": float(strike),
              "rules_primary": f"If the published figure is above {strike}, then the market resolves to Yes.",
              "rules_secondary": "", "early_close_condition": "",
              "close_time": "2020-06-05T12:30:00Z", "expected_expiration_time": "2020-06-05T12:30:00Z",
              "expiration_time": "2020-06-05T12:30:00Z", "latest_expiration_time": "2020-06-05T12:30:00Z"}
    listing = market_to_listing(market, FETCHED)
    assert listing.market_type is MarketType.ECONOMICS and listing.close_ts == 1_591_360_200_000  # the May report
    return listing


def polymarket(title: str, market_id: str = "0xecon") -> MarketListing:  # constructed title in Polymarket's wording
    return MarketListing(listing_id=f"POLYMARKET:{market_id}", venue=Venue.POLYMARKET, market_id=market_id, ts=FETCHED,
                         title=title, market_type=MarketType.ECONOMICS, close_ts=1_591_000_000_000)


def test_parsing_normalizes_every_wording_to_published_at_least() -> None:
    assert parse_listing(kalshi("KXU3-20MAY-T14.0")) == (EconTarget("unrate", "2020-05-01", 14.1, 0.1), "a")
    assert parse_listing(kalshi("KXCPI-25NOV-T0.3")) == (EconTarget("cpi", "2025-11-01", 0.4, 0.1), "a")
    assert parse_listing(kalshi("KXPAYROLLS-25NOV-T50")) == (EconTarget("payrolls", "2025-11-01", 51.0, 1.0), "a")
    assert parse_listing(kalshi("KXGDP-25Q3-T2.0")) == (EconTarget("gdp", "2025-07-01", 2.1, 0.1), "a")
    assert parse_listing(kalshi("KXFED-25DEC-T3.75"))[0] == EconTarget("fed_upper", "2025-12-01", 4.0, 0.25)
    below = parse_listing(polymarket("Will the US unemployment rate be below 14.1% in May 2020?"))
    assert below == (EconTarget("unrate", "2020-05-01", 14.1, 0.1), "b")
    jobs = parse_listing(polymarket("Will the jobs report show more than 50,000 jobs added in November 2025?"))
    assert jobs == (EconTarget("payrolls", "2025-11-01", 51.0, 1.0), "a")
    with pytest.raises(NotATarget):
        parse_listing(kalshi("KXNOTASERIES-25NOV-T1"))
    with pytest.raises(NotATarget):
        parse_listing(polymarket("Will the Fed say something nice?"))


def test_targets_forecast_the_next_print_and_settle_a_published_one() -> None:
    proc = TargetsProcessor()
    st = proc.initial("unrate")
    for lst in (kalshi("KXU3-20MAY-T14.0"), kalshi("KXU3-20APR-T14.0"), kalshi("KXU3-20JUL-T10.0")):
        st, out = proc.step(st, lst)
        assert out == []  # no history yet
    emitted: list[EventState] = []
    for s in unrate_states():
        st, out = proc.step(st, s)
        emitted += out
    by_id = {}
    for e in emitted:
        by_id[e.event_id] = e
    april = by_id["econ:unrate:2020-04-01:ge-14.1"]
    assert april.status is EventStatus.FINAL and april.features["published"] == 14.7
    may = by_id["econ:unrate:2020-05-01:ge-14.1"]
    assert may.status is EventStatus.SCHEDULED and "published" not in may.features
    levels = [s.features["value"] for s in unrate_states()]
    assert may.features["mean"] == pytest.approx(forecast_next(levels, "level").mean)
    # April's +10.3 point jump is one shock: winsorized, it does not set the slope (unclipped it gave 44 %).
    assert 13.0 < may.features["mean"] < 17.0
    assert "econ:unrate:2020-07-01:ge-10.1" not in by_id  # two periods ahead: waits
    assert set(st.targets) == {"econ:unrate:2020-05-01:ge-14.1", "econ:unrate:2020-07-01:ge-10.1"}  # April settled and dropped
    assert (codec := stage("econ-targets").tables[0].codec).decode(codec.encode(st)) == st
    model = model_for(MarketType.ECONOMICS, "unrate")
    assert model.probabilities(april) == {"a": 1.0, "b": 0.0}
    p_may = model.probabilities(may)["a"]
    assert 0.0 < p_may < 1.0 and p_may + model.probabilities(may)["b"] == pytest.approx(1.0)
    with pytest.raises(StateNotModelable):
        model.probabilities(unrate_states()[-1])


def test_discovery_links_both_venues_to_one_event_on_opposite_sides() -> None:
    proc, disc = TargetsProcessor(), DiscoveryProcessor()
    k, pm = kalshi("KXU3-20MAY-T14.0"), polymarket("Will the US unemployment rate be below 14.1% in May 2020?")
    st, dst, links = proc.initial("unrate"), DiscoveryState(), []
    for rec in (k, pm):
        st, _ = proc.step(st, rec)
        dst, out = disc.step(dst, rec)
    for s in unrate_states():
        st, out = proc.step(st, s)
        for o in [s, *out]:
            dst, res = disc.step(dst, o)
            links += [x for x in res if isinstance(x, MarketLink)]
    got = {(lk.venue, lk.event_id, lk.yes_role) for lk in links}
    assert got == {(Venue.KALSHI, "econ:unrate:2020-05-01:ge-14.1", "a"), (Venue.POLYMARKET, "econ:unrate:2020-05-01:ge-14.1", "b")}
    # A different threshold is a different event.
    assert parse_listing(replace(k, market_id="KXU3-20MAY-T13.0"))[0].event_id != "econ:unrate:2020-05-01:ge-14.1"


def test_the_forecast_narrows_as_the_release_nears_on_the_recorded_calendar() -> None:
    """On the recorded FRED calendar (releases/dates, whose answer ends in May 2020) the Employment Situation
    (release 50) came out on May 8 and May 11; the next, the May 2020 report, came out on June 5, 2020 (a date the
    recorded answer does not reach: its state is built by the connector's own `release_states`, from FRED's
    release id and that real date). A May 2020 target priced on 2020-05-20 then has the share of the time from
    May 11 to June 5 still to run left, its forecast errors are scaled by the square root of that share, and its
    state starts at the June 5 publication."""
    from connectors.fred.normalize import parse_body, release_dates, release_states
    from tests.unit.fred.test_connector import FIXTURES

    proc = TargetsProcessor()
    st, _ = proc.step(proc.initial("unrate"), kalshi("KXU3-20MAY-T14.5"))
    for s in unrate_states():
        st, out = proc.step(st, s)
    full = next(o for o in out if o.event_id == "econ:unrate:2020-05-01:ge-14.6")  # no calendar yet: info_left 1
    assert full.start_ts is None
    body = parse_body((FIXTURES / "releases_dates_since_2020-01-01.json").read_text())
    recorded = [s for rid, day in release_dates(body) for s in release_states(rid, day, FETCHED) if s.league == "unrate"]
    assert {c.event_id for c in recorded} == {"fred:unrate:release:2020-05-08", "fred:unrate:release:2020-05-11"}
    calendar = [*recorded, *(s for s in release_states(50, "2020-06-05", FETCHED) if s.league == "unrate")]
    emitted = []
    for c in calendar:
        st, out = proc.step(st, c)
        emitted += out
    may = [o for o in emitted if o.event_id == "econ:unrate:2020-05-01:ge-14.6"][-1]
    june5 = next(c.start_ts for c in calendar if c.event_id == "fred:unrate:release:2020-06-05")
    may11 = next(c.start_ts for c in calendar if c.event_id == "fred:unrate:release:2020-05-11")
    assert may.start_ts == june5 and may.ts == FETCHED
    share = (june5 - FETCHED) / (june5 - may11)
    assert 0.4 < share < 0.7
    full_spread = [full.features[f"err_q{i:02d}"] for i in range(20)]
    narrowed = [may.features[f"err_q{i:02d}"] for i in range(20)]
    assert narrowed == pytest.approx([e * share ** 0.5 for e in full_spread])
    assert may.features["mean"] == pytest.approx(full.features["mean"])  # the centre stays, the spread narrows
    model = model_for(MarketType.ECONOMICS, "unrate")
    assert abs(model.probabilities(may)["a"] - 0.5) > abs(model.probabilities(full)["a"] - 0.5)  # surer of the side (0.78 with the full spread)
    assert proc.step(st, calendar[-1]) == (st, [])  # a date it knows changes nothing


def test_weekly_claims_listings_are_refused_with_the_reason() -> None:
    with pytest.raises(NotATarget, match="published weekly"):
        parse_listing(kalshi("KXJOBLESSCLAIMS-25NOV-T220000"))
