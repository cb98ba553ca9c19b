"""Candidates and parties as venues name them: full names, surnames, nicknames, party words.

`yes_side(title, outcome, a, b)` says which of a race's two candidates (each a
name and a party) a market's YES backs, or None when it names neither or both.
`PoliticsMatcher` links listings to race events (streams/politics/races.py): the
race must be for the office the title names (a nomination market is not the
general election) and the title or outcome must name exactly one of its candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Sequence

from rapidfuzz import fuzz

from schemas.enums import MarketType, Venue
from schemas.records import EventState, MarketListing
from streams.matching.base import Ambiguous, IndexKey, Match, MatchResult, MatchScope, NoMatch

#: Common nicknames -> given names (lower case), for matching "Hillary", "Bernie", "Joe".
NICKNAMES = {"bernie": "bernard", "joe": "joseph", "bill": "william", "ted": "rafael", "mike": "michael", "don": "donald", "jeb": "john"}
PARTY_WORDS = {
    "democratic": ("democratic", "democrat", "democrats", "dem", "dems", "d"),
    "republican": ("republican", "republicans", "gop", "rep", "r"),
    "libertarian": ("libertarian", "lp", "l"),
    "green": ("green", "g"),
}
_PARTY = {w: party for party, words in PARTY_WORDS.items() for w in words}


@dataclass(frozen=True)
class Candidate:
    name: str  # "Hillary Clinton"
    party: str  # "Democratic"


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower().replace("’", "'").replace("'s", ""))


def names_candidate(text: str, c: Candidate) -> bool:
    """The text names the candidate: surname, full name, or a given name/nickname that is theirs."""
    toks = _tokens(text)
    parts = _tokens(c.name)
    if not parts:
        return False
    surname, given = parts[-1], parts[0]
    if surname in toks:
        return True
    if any(NICKNAMES.get(t) == given or t == given for t in toks) and len(given) > 3:
        return True
    return fuzz.partial_ratio(c.name.lower(), text.lower()) >= 92


def names_party(text: str, c: Candidate) -> bool:
    party = _PARTY.get(c.party.lower(), c.party.lower())
    return any(_PARTY.get(t) == party for t in _tokens(text) if len(t) > 1 or text.strip().lower() == t)


def yes_side(title: str, outcome: str, a: Candidate, b: Candidate) -> str | None:
    """"a" or "b" when the market's YES backs one of them (its outcome first, then its title)."""
    for text in (outcome, title):
        if not text:
            continue
        for names in (names_candidate, names_party):  # a named candidate outranks a party word
            hits = {role for role, c in (("a", a), ("b", b)) if names(text, c)}
            if len(hits) == 1:
                return hits.pop()
            if len(hits) == 2:
                break  # names both: not this text
    return None


# ------------------------------------------------------------------ discovery

RACES = "races"
RACE_SOURCE = "races"
#: How long before its close a race market may be listed and still be about that election.
LOOKBACK_DAYS = 45
#: Words a market must use for a race key's office (a nomination market is not the general election).
OFFICE_WORDS = {"popular-vote": ("popular vote",), "president": ("presidential election", "president", "presidency")}


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).date()


def _about_office(race: str, title: str) -> bool:
    t = title.lower()
    if "nomination" in t or "nominee" in t or "primary" in t:
        return False
    for key, words in OFFICE_WORDS.items():
        if key in race:
            return any(w in t for w in words)
    return False


class PoliticsMatcher:
    """Race events are indexed by election day; a listing searches the days up to its close."""

    market_type = MarketType.POLITICS

    def index_key(self, event: EventState) -> IndexKey | None:
        if event.source != RACE_SOURCE or event.start_ts is None:
            return None
        return IndexKey(MarketType.POLITICS, RACES, _day(event.start_ts))

    def scope(self, listing: MarketListing) -> MatchScope | NoMatch:
        if listing.close_ts is None:
            return NoMatch(f"{listing.listing_id}: a politics market needs its close time to find its election", retryable=False)
        last = _day(listing.close_ts)
        return MatchScope(MarketType.POLITICS, RACES, last - timedelta(days=LOOKBACK_DAYS), last)

    def match(self, listing: MarketListing, candidates: Sequence[EventState]) -> MatchResult:
        found = []
        for ev in candidates:
            if not _about_office(ev.league, listing.title):
                continue
            side = yes_side(listing.title, listing.yes_outcome if listing.yes_outcome.lower() not in ("yes", "no") else "",
                            Candidate(ev.entity_a, ev.entity_a_abbr), Candidate(ev.entity_b, ev.entity_b_abbr))
            if side is not None:
                found.append((ev, side))
        if len(found) > 1:
            return Ambiguous("the market names candidates of several races", tuple(sorted(e.event_id for e, _ in found)))
        if not found:
            return NoMatch(f"{listing.listing_id}: no race whose office and candidates it names", retryable=True)
        ev, side = found[0]
        method = "kalshi_title" if listing.venue is Venue.KALSHI else "polymarket_title"
        return Match(ev.event_id, side, ev.entity_a if side == "a" else ev.entity_b, 0.9, method, ev.league)
