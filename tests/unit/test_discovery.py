"""Discovery processor on the recorded Kalshi NFL markets and ESPN NFL scoreboards."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schemas.enums import EventStatus, MarketType, Severity, Venue
from schemas.records import Alert, EventState, MarketLink, MarketListing
from streams.topology import stage
from streams.discovery import DiscoveryConfig, DiscoveryProcessor, DiscoveryState, Output, Record, link_id
from tests.unit.matching.builders import espn_nfl_events, kalshi_listings

HOUR = 3_600_000
WEEK13 = "nfl_scoreboard_2025-11-30_sunday_night.json"  # holds the Nov 27 games, final by then

#: ticker -> (ESPN event id, YES role, YES entity), read off each market's rules text.
EXPECTED = {
    "KXNFLGAME-25NOV27GBDET-GB": ("espn:nfl:401772891", "b", "Green Bay Packers"),
    "KXNFLGAME-25NOV27GBDET-DET": ("espn:nfl:401772891", "a", "Detroit Lions"),
    "KXNFLGAME-25NOV27KCDAL-KC": ("espn:nfl:401772694", "b", "Kansas City Chiefs"),
    "KXNFLGAME-25NOV27KCDAL-DAL": ("espn:nfl:401772694", "a", "Dallas Cowboys"),
    "KXNFLGAME-25NOV27CINBAL-CIN": ("espn:nfl:401772930", "b", "Cincinnati Bengals"),
}
UNLINKABLE = "KALSHI:KXNFLGAME-25DEC27BALGB-GB"  # Dec 27 game: in neither recorded scoreboard


def run(proc: DiscoveryProcessor, records: list[Record], state: DiscoveryState | None = None) -> tuple[DiscoveryState, list[Output]]:
    state = state if state is not None else DiscoveryState()
    outputs: list[Output] = []
    for record in records:
        state, out = proc.step(state, record)
        outputs.extend(out)
    return state, outputs


def links(outputs: list[Output]) -> dict[str, MarketLink]:
    return {o.market_id: o for o in outputs if isinstance(o, MarketLink)}


def alerts(outputs: list[Output]) -> list[Alert]:
    return [o for o in outputs if isinstance(o, Alert)]


@pytest.fixture(scope="module")
def proc() -> DiscoveryProcessor:
    return DiscoveryProcessor()


def test_recorded_payloads_replayed_in_event_time_link_the_right_games(proc: DiscoveryProcessor) -> None:
    """Kalshi listings (captured Nov 23 / Dec 24) and ESPN scoreboards (Dec 1 / Dec 7) in event-time order."""
    events, listings = espn_nfl_events(), kalshi_listings()
    records: list[Record] = sorted([*events, *listings], key=lambda r: r.ts)
    state, outputs = run(proc, records)
    got = links(outputs)
    assert {t: (lk.event_id, lk.yes_role, lk.yes_entity) for t, lk in got.items()} == EXPECTED
    event_ts = {e.event_id: e.ts for e in events}
    for ticker, link in got.items():
        assert link.venue is Venue.KALSHI and link.league == "nfl"
        assert link.ts == event_ts[link.event_id]  # woken by the event record, never the clock
        assert link.link_id == link_id(f"KALSHI:{ticker}", link.event_id, link.yes_role)
        assert link.confidence == 1.0 and link.method == "kalshi_ticker+title"
    assert list(state.pending) == [UNLINKABLE]
    assert alerts(outputs) == []


def test_listing_after_its_event_links_at_the_listing_time(proc: DiscoveryProcessor) -> None:
    events = espn_nfl_events(WEEK13)
    arrival = max(e.ts for e in events) + HOUR  # within the ended-game grace period
    listings = [replace(lst, ts=arrival) for lst in kalshi_listings()]
    state, outputs = run(proc, [*events, *listings])
    got = links(outputs)
    assert {t: (lk.event_id, lk.yes_role, lk.yes_entity) for t, lk in got.items()} == EXPECTED
    assert all(lk.ts == arrival for lk in got.values())
    assert list(state.pending) == [UNLINKABLE]


def test_replay_is_deterministic_and_resending_a_listing_emits_nothing(proc: DiscoveryProcessor) -> None:
    records: list[Record] = sorted([*espn_nfl_events(), *kalshi_listings()], key=lambda r: r.ts)
    state1, out1 = run(proc, records)
    state2, out2 = run(proc, records)
    assert out1 == out2 and state1 == state2
    events = espn_nfl_events(WEEK13)
    listings = [replace(lst, ts=max(e.ts for e in events)) for lst in kalshi_listings() if lst.listing_id != UNLINKABLE]
    state, first = run(proc, [*events, *listings])
    assert len(links(first)) == 5
    _, again = run(proc, [replace(lst, ts=lst.ts + HOUR) for lst in listings], state)
    assert again == []


def test_a_link_never_crosses_dates(proc: DiscoveryProcessor) -> None:
    """GB@DET of Nov 27 must not link to GB's or DET's games of other days."""
    gb_det = next(lst for lst in kalshi_listings() if lst.market_id == "KXNFLGAME-25NOV27GBDET-GB")
    others = [e for e in espn_nfl_events() if e.event_id != "espn:nfl:401772891"]
    moved = replace(
        next(e for e in espn_nfl_events() if e.event_id == "espn:nfl:401772891"),
        event_id="espn:nfl:moved",
        start_ts=next(e for e in espn_nfl_events() if e.event_id == "espn:nfl:401772891").start_ts + 24 * HOUR,  # type: ignore[operator]
    )
    state, outputs = run(proc, [*others, moved, gb_det])
    assert links(outputs) == {} and gb_det.listing_id in state.pending


def test_a_link_never_crosses_leagues(proc: DiscoveryProcessor) -> None:
    as_college = [replace(e, league="ncaaf") for e in espn_nfl_events(WEEK13)]
    state, outputs = run(proc, [*kalshi_listings()[:5], *as_college])
    assert links(outputs) == {} and len(state.pending) == 5


def test_ambiguous_match_is_not_linked_and_alerts_once(proc: DiscoveryProcessor) -> None:
    events = espn_nfl_events(WEEK13)
    twin = replace(next(e for e in events if e.event_id == "espn:nfl:401772694"), event_id="espn:nfl:twin")
    kc = next(lst for lst in kalshi_listings() if lst.market_id == "KXNFLGAME-25NOV27KCDAL-KC")
    state, outputs = run(proc, [*events, twin, kc, replace(kc, ts=kc.ts + 1)])
    assert links(outputs) == {}
    (alert,) = alerts(outputs)
    assert alert.severity is Severity.WARNING and alert.service == "discovery"
    assert "espn:nfl:401772694" in alert.message and "espn:nfl:twin" in alert.message
    assert kc.listing_id in state.pending


def test_an_ambiguous_listing_alerts_once_however_many_like_events_arrive(proc: DiscoveryProcessor) -> None:
    """Like games arriving one by one re-match the waiting listing each time: still one alert, one remembered key."""
    events = espn_nfl_events(WEEK13)
    kc_dal = next(e for e in events if e.event_id == "espn:nfl:401772694")
    twins = [replace(kc_dal, event_id=f"espn:nfl:twin{i}", state_id=f"twin{i}") for i in range(40)]
    kc = next(lst for lst in kalshi_listings() if lst.market_id == "KXNFLGAME-25NOV27KCDAL-KC")
    state, outputs = run(proc, [*events, twins[0], kc, *twins[1:]])
    assert links(outputs) == {}
    (alert,) = alerts(outputs)
    assert [k for k in state.alerted if kc.listing_id in k] == [f"ambiguous:{kc.listing_id}"]
    assert "espn:nfl:twin0" in alert.message and "more" not in alert.message  # the listing met two candidates
    state, outputs = run(proc, [replace(kc, ts=kc.ts + 1, title=kc.title + " ")], state)  # a changed listing re-matches
    assert alerts(outputs) == []
    _, outputs = run(DiscoveryProcessor(), [*events, *twins, kc])  # met all 41 at once: the message names five
    (alert,) = alerts(outputs)
    assert alert.message.endswith("and 36 more)")


def test_ended_events_leave_the_index_after_the_grace_period() -> None:
    proc = DiscoveryProcessor(config=DiscoveryConfig(ended_grace_ms=6 * HOUR))
    events = espn_nfl_events(WEEK13)
    state, _ = run(proc, events)
    final_ids = {e.event_id for e in events if e.status is EventStatus.FINAL}
    assert final_ids <= set(state.events)
    # Event time moves on past every game's end + grace: the finished games drop out, live ones stay.
    last = max(events, key=lambda e: e.ts)
    tick = replace(last, ts=last.ts + 7 * HOUR, state_id="tick")
    state, _ = run(proc, [tick], state)
    assert not final_ids & set(state.events)
    assert tick.event_id in state.events
    gb = next(lst for lst in kalshi_listings() if lst.market_id == "KXNFLGAME-25NOV27GBDET-GB")
    state, outputs = run(proc, [replace(gb, ts=tick.ts)], state)
    assert links(outputs) == {}


def test_unlinked_listing_is_given_up_after_its_day(proc: DiscoveryProcessor) -> None:
    bal_gb = next(lst for lst in kalshi_listings() if lst.listing_id == UNLINKABLE)
    state, _ = run(proc, [bal_gb])
    assert UNLINKABLE in state.pending
    some_event = espn_nfl_events()[0]
    assert bal_gb.close_ts is not None
    still_open = replace(some_event, ts=bal_gb.close_ts - 24 * HOUR, state_id="before-close")  # game day + 2 weeks
    state, outputs = run(proc, [still_open], state)
    assert UNLINKABLE in state.pending and outputs == []
    after = replace(some_event, ts=bal_gb.close_ts + 1, state_id="later")  # the venue closed it: give up
    state, outputs = run(proc, [after], state)
    assert UNLINKABLE not in state.pending and state.pending_index == {}
    (alert,) = alerts(outputs)
    assert alert.severity is Severity.INFO and UNLINKABLE in alert.message


def test_unsupported_market_type_alerts_once_with_the_reason(proc: DiscoveryProcessor) -> None:
    other = MarketListing(listing_id="KALSHI:KXALIENS-X", venue=Venue.KALSHI, market_id="KXALIENS-X", ts=1, market_type=MarketType.OTHER)
    state, outputs = run(proc, [other, replace(other, ts=2, listing_id="KALSHI:KXALIENS-Y")])
    (alert,) = alerts(outputs)
    assert "no entity matcher for OTHER" in alert.message and alert.severity is Severity.WARNING
    assert state.pending == {}


def test_non_game_sports_listing_is_reported_not_kept(proc: DiscoveryProcessor) -> None:
    futures = MarketListing(
        listing_id="KALSHI:KXSB-26-KC",
        venue=Venue.KALSHI,
        market_id="KXSB-26-KC",
        ts=5,
        title="Pro Football Champion?",
        yes_outcome="Kansas City",
        market_type=MarketType.SPORT,
        league="nfl",
    )
    state, outputs = run(proc, [futures])
    (alert,) = alerts(outputs)
    assert alert.severity is Severity.INFO and "names no two sides" in alert.message
    assert state.pending == {}


def test_step_does_not_mutate_its_input_and_state_round_trips(proc: DiscoveryProcessor) -> None:
    codec = stage("discovery").tables[0].codec  # the table's declared state codec (its changelog)
    records: list[Record] = [*kalshi_listings()[:5], *espn_nfl_events(WEEK13)[:8]]
    state, _ = run(proc, records)
    before = codec.encode(state)
    rest = espn_nfl_events(WEEK13)[8:]
    after_direct, out_direct = run(proc, rest, state)
    assert codec.encode(state) == before
    restored = codec.decode(before)
    assert restored == state
    after_restored, out_restored = run(proc, rest, restored)
    assert out_restored == out_direct and codec.encode(after_restored) == codec.encode(after_direct)
    assert len(links(out_direct)) == 5


def test_state_key_shards_by_market_type_and_league(proc: DiscoveryProcessor) -> None:
    event: EventState = espn_nfl_events()[0]
    listing = kalshi_listings()[0]
    assert proc.state_key(event) == proc.state_key(listing) == "SPORT|nfl"
