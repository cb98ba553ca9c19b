"""Sports entity matching: venue game markets to ESPN events, with the YES team.

Every piece of evidence a listing carries (title names, Polymarket slug codes,
the Kalshi ticker's code blob, the YES outcome) is checked against both teams
of each candidate event, in both orders (home/away order-insensitive). A name
that the alias table resolves to a *different* team vetoes the pairing; names
the table does not know are compared with the event's own names by
Jaro-Winkler. Context rules are hard: same league, the stated game day (or the
close-time window when the listing states none), both sides matched, exactly
one event left. Anything else is a typed NoMatch or Ambiguous, never a guess.
Tennis and UFC (`INDIVIDUAL_LEAGUES`) have no alias table: an athlete is known by
the event's full name, its surname and the surname's first three letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Sequence
from zoneinfo import ZoneInfo

from rapidfuzz.distance import JaroWinkler

from schemas.enums import MarketType, Venue
from schemas.records import EventState, MarketListing
from streams.matching.aliases import (
    INDIVIDUAL_LEAGUES,
    THREE_WAY_LEAGUES,
    AliasTable,
    canonical_league,
    default_alias_table,
    token_extension,
)
from streams.matching.base import Ambiguous, IndexKey, Match, MatchResult, MatchScope, NoMatch
from streams.matching.normalize import normalize_code, normalize_name
from streams.matching.sports_view import SideEvidence, SportsMarketView, ViewError, read_view

#: US venues and ESPN date games by the US Eastern calendar day.
EASTERN = ZoneInfo("America/New_York")
#: How long before a listing's close (or settle) time its game may start, when the listing states no game day:
#: Kalshi keeps game markets open up to two weeks past the game; Polymarket ends game markets hours after the
#: start (gamma `endDate` = start + 6 h in the recorded CS2 moneyline), so a day excludes yesterday's game
#: between the same teams.
CLOSE_WINDOW: dict[Venue, timedelta] = {
    Venue.KALSHI: timedelta(days=15),
    Venue.POLYMARKET: timedelta(hours=24),
    Venue.OTHER: timedelta(days=15),
}
#: Jaro-Winkler needed when a listing name is compared with an event name the alias table does not know.
DIRECT_THRESHOLD = 0.94
#: Confidence factor when the Kalshi ticker's team codes are not in the alias table (title carried the match).
UNVERIFIED_TICKER_FACTOR = 0.9
#: Kalshi doubleheader tickers carry the start time; events within this many minutes of it qualify.
START_TIME_TOLERANCE_MIN = 60

_VETO = -1.0


def eastern_day(ts_ms: int) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, tz=EASTERN).date()


@dataclass(frozen=True)
class _Entity:
    role: str
    name: str
    team: str | None  # alias-table key, None when the table does not know the team
    names: frozenset[str]  # normalized names
    codes: frozenset[str]  # normalized codes


class SportsMatcher:
    """EntityMatcher for MarketType.SPORT, driven by the alias table."""

    market_type = MarketType.SPORT

    def __init__(self, table: AliasTable | None = None, close_window: dict[Venue, timedelta] | None = None) -> None:
        self.table = table if table is not None else default_alias_table()
        self.close_window = dict(CLOSE_WINDOW if close_window is None else close_window)

    # ----------------------------------------------------------------- indexing

    def index_key(self, event: EventState) -> IndexKey | None:
        league = canonical_league(event.league)
        if event.market_type != MarketType.SPORT or league is None or event.start_ts is None:
            return None
        return IndexKey(MarketType.SPORT, league, eastern_day(event.start_ts))

    def scope(self, listing: MarketListing) -> MatchScope | NoMatch:
        prepared = self._prepare(listing)
        return prepared if isinstance(prepared, NoMatch) else prepared[1]

    def _prepare(self, listing: MarketListing) -> NoMatch | tuple[SportsMarketView, MatchScope]:
        if listing.market_type != MarketType.SPORT:
            return NoMatch(f"{listing.listing_id} is a {listing.market_type.value} market, not SPORT", retryable=False)
        try:
            view = read_view(listing)
        except ViewError as exc:
            return NoMatch(f"{listing.listing_id}: {exc}", retryable=False)
        if view.league is None:
            return NoMatch(f"{listing.listing_id}: cannot tell the league (league={listing.league!r})", retryable=False)
        if view.league not in INDIVIDUAL_LEAGUES and not self.table.covers(view.league):
            return NoMatch(f"{listing.listing_id}: no team aliases for league {view.league}", retryable=False)
        if view.sides is None and view.code_blob is None:
            return NoMatch(f"{listing.listing_id}: title {listing.title!r} names no two sides", retryable=False)
        if view.game_day is not None:
            return view, MatchScope(MarketType.SPORT, view.league, view.game_day, view.game_day)
        if view.ref_ts is not None:
            first = eastern_day(view.ref_ts - self._window_ms(listing.venue))
            return view, MatchScope(MarketType.SPORT, view.league, first, eastern_day(view.ref_ts))
        return NoMatch(f"{listing.listing_id}: states no game day and has no close time", retryable=False)

    def _window_ms(self, venue: Venue) -> int:
        window = self.close_window.get(venue, CLOSE_WINDOW[Venue.OTHER])
        return int(window.total_seconds() * 1000)

    # ----------------------------------------------------------------- matching

    def match(self, listing: MarketListing, candidates: Sequence[EventState]) -> MatchResult:
        prepared = self._prepare(listing)
        if isinstance(prepared, NoMatch):
            return prepared
        view, scope = prepared
        league = scope.league
        latest: dict[str, EventState] = {}
        for event in candidates:
            key = self.index_key(event)
            if key is None or key.league != league or not scope.first_day <= key.day <= scope.last_day:
                continue
            if view.game_day is None and view.ref_ts is not None and event.start_ts is not None:
                # the game starts before the market closes, and not longer before than the venue allows
                if not view.ref_ts - self._window_ms(listing.venue) <= event.start_ts <= view.ref_ts:
                    continue
            latest[event.event_id] = event

        found: list[tuple[EventState, tuple[_Entity, _Entity], float, str]] = []
        for event in latest.values():
            ent_a = self._entity(league, event.entity_a, event.entity_a_abbr, "a")
            ent_b = self._entity(league, event.entity_b, event.entity_b_abbr, "b")
            orders = []
            # The ticker's code blob alone cannot tell the order, so without title sides one reading is enough.
            readings = ((ent_b, ent_a), (ent_a, ent_b)) if view.sides is not None else ((ent_b, ent_a),)
            for first, second in readings:
                scored = self._pair_score(view, league, first, second)
                if scored is not None:
                    orders.append(scored)
            if len(orders) == 2 and orders[0][0] == orders[1][0]:
                return Ambiguous(f"{listing.listing_id}: sides fit {event.event_id} in both orders", (event.event_id,))
            if orders:
                score, method = max(orders)
                found.append((event, (ent_a, ent_b), score, method))

        if view.start_hhmm and len(found) > 1:
            found = [f for f in found if _near_start(f[0], view.start_hhmm)]
        days = scope.first_day.isoformat() if scope.first_day == scope.last_day else f"{scope.first_day}..{scope.last_day}"
        if not found:
            return NoMatch(f"{listing.listing_id}: no {league} event on {days} matches {_describe(view)}", retryable=True)
        if len(found) > 1:
            ids = tuple(sorted(f[0].event_id for f in found))
            return Ambiguous(f"{listing.listing_id}: {len(ids)} {league} events on {days} match {_describe(view)}", ids)

        event, (ent_a, ent_b), score, method = found[0]
        return self._yes(listing, view, league, event, ent_a, ent_b, score, method)

    def _yes(
        self,
        listing: MarketListing,
        view: SportsMarketView,
        league: str,
        event: EventState,
        ent_a: _Entity,
        ent_b: _Entity,
        score: float,
        method: str,
    ) -> MatchResult:
        if view.yes_is_draw:
            if league not in THREE_WAY_LEAGUES:
                return NoMatch(f"{listing.listing_id}: YES is a draw but {league} games have no draw", retryable=False)
            return Match(event.event_id, "draw", "Draw", score, method, league)
        if view.yes.empty:
            return NoMatch(f"{listing.listing_id}: listing does not say which side YES backs", retryable=False)
        yes_a = self._side_score(view.yes, ent_a, league)
        yes_b = self._side_score(view.yes, ent_b, league)
        if yes_a is not None and yes_b is not None:
            return Ambiguous(f"{listing.listing_id}: YES outcome {_describe_side(view.yes)} fits both teams", (event.event_id,))
        if yes_a is None and yes_b is None:
            return NoMatch(
                f"{listing.listing_id}: YES outcome {_describe_side(view.yes)} names neither {ent_a.name} nor {ent_b.name}",
                retryable=False,
            )
        role, ent, yes_score = ("a", ent_a, yes_a) if yes_a is not None else ("b", ent_b, yes_b)
        assert yes_score is not None
        return Match(event.event_id, role, ent.name, round(min(score, yes_score), 4), method, league)

    # ----------------------------------------------------------------- evidence

    @lru_cache(maxsize=16384)
    def _entity(self, league: str, name: str, abbr: str, role: str) -> _Entity:
        by_name = self.table.resolve_name(league, name) if name else None
        by_code = self.table.resolve_code(league, abbr) if abbr else None
        team: str | None = None
        if by_name and by_name.found and by_code and by_code.found:
            both = by_name.teams & by_code.teams
            team = _single(both) or (_single(by_name.teams) if by_name.score == 1.0 else None)
        elif by_name and by_name.found:
            team = _single(by_name.teams)
        elif by_code and by_code.found:
            team = _single(by_code.teams)
        names = {normalize_name(name)} if name else set()
        codes = {normalize_code(abbr)} if abbr else set()
        if league in INDIVIDUAL_LEAGUES and name:
            # a player: full name, surname, and the surname's first three letters (Kalshi's code)
            surname = normalize_name(name).split()[-1]
            return _Entity(role, name, None, frozenset(names | {surname}), frozenset(codes | {normalize_code(surname[:3])}))
        if team is not None:
            names |= self.table.names_of(league, team)
            codes |= self.table.codes_of(league, team)
        elif name:
            # A team the table lacks: venues often drop the nickname ("Le Moyne" for "Le Moyne Dolphins").
            tokens = normalize_name(name).split()
            names |= {" ".join(tokens[:k]) for k in range(1, len(tokens)) if len(" ".join(tokens[:k])) >= 4}
        return _Entity(role, name, team, frozenset(names), frozenset(codes))

    def _side_score(self, side: SideEvidence, ent: _Entity, league: str) -> float | None:
        """How well one side's evidence fits an entity; None when it does not or names another team."""
        scores: list[float] = []
        for code in side.codes:
            norm = normalize_code(code)
            if norm in ent.codes:
                scores.append(1.0)
                continue
            hit = self.table.resolve_code(league, norm)
            if hit.found:
                return None  # the code is another team's
        for name in side.names:
            hit = self.table.resolve_name(league, name)
            if hit.found:
                if ent.team is None or ent.team not in hit.teams:
                    return None
                scores.append(hit.score)
                continue
            norm = normalize_name(name)
            direct = max(
                (JaroWinkler.normalized_similarity(norm, n) for n in ent.names if norm == n or not token_extension(norm, n)),
                default=0.0,
            )
            if direct < DIRECT_THRESHOLD:
                return None
            scores.append(direct)
        return max(scores) if scores else None

    def _pair_score(self, view: SportsMarketView, league: str, first: _Entity, second: _Entity) -> tuple[float, str] | None:
        """Score of the listing's sides read as (first, second); None when that reading fails."""
        evidence: list[float] = []
        methods: list[str] = []
        if view.sides is not None:
            s1 = self._side_score(view.sides[0], first, league)
            s2 = self._side_score(view.sides[1], second, league)
            if s1 is None or s2 is None:
                return None
            evidence.append(min(s1, s2))
            methods.extend(m for m in view.sources if m != "kalshi_ticker")
        if view.code_blob is not None:
            blob = self._blob_score(view.code_blob, first, second, league)
            if blob == _VETO:
                return None
            if blob == 1.0:
                evidence.append(1.0)
                methods.insert(0, "kalshi_ticker")
            elif view.sides is None:
                return None
            else:
                evidence = [e * UNVERIFIED_TICKER_FACTOR for e in evidence]
        if not evidence:
            return None
        return min(evidence), "+".join(methods)

    def _blob_score(self, blob: str, first: _Entity, second: _Entity, league: str) -> float:
        """1.0 when the ticker's codes are these two teams (either order), veto when they are others, else 0."""
        for x, y in ((first, second), (second, first)):
            for code in x.codes:
                if blob.startswith(code) and blob[len(code) :] in y.codes:
                    return 1.0
        for i in range(1, len(blob)):
            if self.table.resolve_code(league, blob[:i]).found and self.table.resolve_code(league, blob[i:]).found:
                return _VETO
        return 0.0


def _single(teams: frozenset[str]) -> str | None:
    return next(iter(teams)) if len(teams) == 1 else None


def _near_start(event: EventState, hhmm: str) -> bool:
    if event.start_ts is None:
        return False
    start = datetime.fromtimestamp(event.start_ts / 1000, tz=EASTERN)
    stated = int(hhmm[:2]) * 60 + int(hhmm[2:])
    return abs(start.hour * 60 + start.minute - stated) <= START_TIME_TOLERANCE_MIN


def _describe_side(side: SideEvidence) -> str:
    return "/".join([*side.names, *side.codes]) or "?"


def _describe(view: SportsMarketView) -> str:
    if view.sides is not None:
        return f"{_describe_side(view.sides[0])} v {_describe_side(view.sides[1])}"
    return view.code_blob or "?"
