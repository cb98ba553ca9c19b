"""Records for matching and discovery tests, built from the payloads in tests/fixtures/matching.

Kalshi listings and ESPN event states go through the real normalizers
(connectors.kalshi.normalize, connectors.espn.normalize). The Polymarket NBA
games exist only as a CSV of slugs and questions, so their listings are built
here with the fields the Gamma normalizer fills (title = question, YES = first
outcome, league = series slug), plus the game slug as market/group id.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.espn.leagues import league
from connectors.espn.normalize import scoreboard_states
from connectors.kalshi.normalize import market_to_listing
from schemas.enums import MarketType, Venue
from schemas.records import EventState, MarketListing

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "matching"
EASTERN = ZoneInfo("America/New_York")

KALSHI_FILES = ("markets_list_demo_KXNFLGAME.json", "markets_list_prod_KXNFLGAME_limit1.json")
#: Capture times of the recorded payloads (fixtures/PROVENANCE.md), used as the records' event time.
KALSHI_CAPTURED_MS = {
    "markets_list_demo_KXNFLGAME.json": 1763856000000,  # 2025-11-23T00:00Z
    "markets_list_prod_KXNFLGAME_limit1.json": 1766534400000,  # 2025-12-24T00:00Z
}
ESPN_FILES = {
    "nfl_scoreboard_2025-11-30_sunday_night.json": 1764561360000,  # 2025-12-01T03:56Z
    "nfl_scoreboard_2025-12-07_live.json": 1765134000000,  # 2025-12-07T19:00Z
}


def kalshi_listings() -> list[MarketListing]:
    out: list[MarketListing] = []
    for name in KALSHI_FILES:
        payload = json.loads((FIXTURES / name).read_text())
        out.extend(market_to_listing(m, KALSHI_CAPTURED_MS[name]) for m in payload["markets"])
    return out


def espn_nfl_events(*files: str) -> list[EventState]:
    """EventStates of the recorded NFL scoreboards (all, or the named files), via the ESPN normalizer."""
    out: list[EventState] = []
    for name, received in ESPN_FILES.items():
        if files and name not in files:
            continue
        result = scoreboard_states(league("nfl"), json.loads((FIXTURES / name).read_text()), received)
        assert not result.rejected
        out.extend(result.states)
    return out


@dataclass(frozen=True)
class Label:
    set: str
    market_id: str
    title: str
    yes_outcome: str
    slug: str
    expected_event_id: str
    expected_yes_role: str


def labels() -> list[Label]:
    with (FIXTURES / "labeled_markets.csv").open(newline="") as fh:
        return [Label(**row) for row in csv.DictReader(fh)]


def nba_label_events() -> list[EventState]:
    with (FIXTURES / "labeled_events_nba.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        EventState(
            state_id=f"{r['event_id']}:0",
            event_id=r["event_id"],
            ts=int(r["start_ts"]) - 86_400_000,
            source="label",
            market_type=MarketType.SPORT,
            league=r["league"],
            name=f"{r['away_name']} at {r['home_name']}",
            start_ts=int(r["start_ts"]),
            entity_a=r["home_name"],
            entity_b=r["away_name"],
            entity_a_abbr=r["home_abbr"],
            entity_b_abbr=r["away_abbr"],
        )
        for r in rows
    ]


def end_of_day_ms(day_iso: str) -> int:
    return int(datetime.fromisoformat(day_iso).replace(hour=23, minute=59, tzinfo=EASTERN).timestamp() * 1000)


def polymarket_listing(label: Label, *, with_slug: bool = True) -> MarketListing:
    """A Gamma-style NBA game listing; without the slug only title, YES outcome and close time are left."""
    game_day = label.slug.rsplit("-", 3)[-3:]
    close = end_of_day_ms("-".join(game_day))
    return MarketListing(
        listing_id=f"POLYMARKET:{label.slug}",
        venue=Venue.POLYMARKET,
        market_id=label.slug if with_slug else "",
        ts=close - 2 * 86_400_000,
        group_id=label.slug if with_slug else "",
        series="nba",
        title=label.title,
        yes_outcome=label.yes_outcome,
        market_type=MarketType.SPORT,
        league="nba",
        status="open",
        close_ts=None if with_slug else close,
    )
