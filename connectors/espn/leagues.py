"""The leagues the connector follows and where ESPN keeps each of them.

ESPN's site API addresses a league as `<sport>/<league>`; the college leagues
need a `groups` filter or the scoreboard only lists ranked/featured games, and
a `limit` so a busy Saturday fits in one response (one scoreboard request per
league must cover every game).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.espn.errors import UnknownLeague


@dataclass(frozen=True)
class League:
    key: str  # our league code, the middle part of event ids ("espn:<key>:<id>")
    sport: str  # ESPN sport path segment
    path: str  # ESPN league path segment
    family: str  # model family: football, basketball, hockey, soccer, baseball, tennis, mma
    scoreboard_params: dict[str, str] = field(default_factory=dict)
    #: individual sports: one ESPN event (tournament / fight card) holds many matches,
    #: each match is its own Arbees event
    individual: bool = False

    @property
    def api_path(self) -> str:
        return f"{self.sport}/{self.path}"


LEAGUES: dict[str, League] = {
    lg.key: lg
    for lg in (
        League("nfl", "football", "nfl", "football"),
        League("ncaaf", "football", "college-football", "football", {"groups": "80", "limit": "400"}),
        League("nba", "basketball", "nba", "basketball"),
        League("wnba", "basketball", "wnba", "basketball"),
        League("ncaab", "basketball", "mens-college-basketball", "basketball", {"groups": "50", "limit": "400"}),
        League("nhl", "hockey", "nhl", "hockey"),
        League("mlb", "baseball", "mlb", "baseball"),
        League("mls", "soccer", "usa.1", "soccer"),
        League("epl", "soccer", "eng.1", "soccer"),
        League("atp", "tennis", "atp", "tennis", individual=True),
        League("wta", "tennis", "wta", "tennis", individual=True),
        League("ufc", "mma", "ufc", "mma", individual=True),
    )
}

#: Sports with downs, distance and field position in `situation`.
FOOTBALL = frozenset({"nfl", "ncaaf"})


def league(key: str) -> League:
    try:
        return LEAGUES[key]
    except KeyError:
        raise UnknownLeague(f"league {key!r} is not followed; known: {', '.join(sorted(LEAGUES))}") from None
