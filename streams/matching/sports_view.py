"""What a sports market listing says about its game, read from venue conventions.

Kalshi game tickers encode the date, both team codes and the YES team code
(KXNFLGAME-25DEC27BALGB-GB: Dec 27 2025, BAL at GB, YES = GB) and the rules
text repeats the scheduled date; Polymarket game slugs encode league, both
team codes and the date (nba-nyk-bos-2024-10-22, away team first), and the
question names both teams ("Knicks vs. Celtics"). Titles name the sides
("Green Bay at Detroit Winner?"); a question "Will the Celtics beat the Heat?" also
names the side its YES backs when the outcome itself is just "Yes". This module turns those into evidence; it
decides nothing about which event matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from schemas.enums import Venue
from schemas.records import MarketListing
from streams.matching.aliases import canonical_league
from streams.matching.normalize import normalize_name

_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}

KALSHI_TICKER = re.compile(
    r"^KX(?P<league>[A-Z0-9]+?)(?:GAME|MATCH|FIGHT)-(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})(?P<hhmm>\d{4})?"
    r"(?P<codes>[A-Z][A-Z0-9]*)(?:-(?P<yes>[A-Z0-9]+))?$"
)
POLYMARKET_SLUG = re.compile(r"^(?P<league>[a-z]+)-(?P<a>[a-z0-9]+)-(?P<b>[a-z0-9]+)-(?P<date>\d{4}-\d{2}-\d{2})(?:-.*)?$")
RULES_DATE = re.compile(r"scheduled for (?P<mon>[A-Z][a-z]{2})[a-z]* (?P<dd>\d{1,2}), (?P<yyyy>\d{4})")

#: Polymarket slug prefixes that differ from our league names.
_SLUG_LEAGUES = {"cfb": "ncaaf", "cbb": "ncaab"}
#: Words between the two team names, most specific first.
_SEPARATORS = (" at ", " @ ", " vs. ", " vs ", " v. ", " v ")
_TITLE_TAIL = re.compile(r"\s*(winner\??|to win\??|\?|moneyline|match winner)\s*$", re.IGNORECASE)
_TITLE_HEAD = re.compile(r"^\s*(?:[A-Za-z0-9 .]+:\s+)?(?:will the |will )?", re.IGNORECASE)
DRAW_WORDS = frozenset({"tie", "draw"})
#: "Will the Celtics beat the Heat?": a question whose YES side is its first team.
_BEAT = re.compile(r"^(?P<a>.+?)\s+(?:beats?|defeats?|wins? (?:against|over|vs\.?))\s+(?:the\s+)?(?P<b>.+?)$", re.IGNORECASE)
#: YES outcomes that name no side ("Yes" of a yes/no question): the side comes from the question.
_GENERIC_YES = frozenset({"", "yes"})


class ViewError(ValueError):
    """The listing contradicts itself (e.g. ticker and rules give different dates)."""


@dataclass(frozen=True)
class SideEvidence:
    """What the listing says about one side: names ("Green Bay") and codes ("GB")."""

    names: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.names and not self.codes


@dataclass(frozen=True)
class SportsMarketView:
    league: str | None
    game_day: date | None  # the scheduled day (US Eastern) the listing itself states
    start_hhmm: str | None  # Kalshi tickers of doubleheader sports carry the start time
    sides: tuple[SideEvidence, SideEvidence] | None  # in listed order (away first where venues say "at")
    code_blob: str | None  # Kalshi's concatenated team codes, unsplit ("BALGB")
    yes: SideEvidence
    yes_is_draw: bool
    ref_ts: int | None  # settle or close time, the fallback date anchor
    sources: tuple[str, ...]  # which venue conventions were recognized


def _kalshi_day(yy: str, mon: str, dd: str) -> date:
    month = _MONTHS.get(mon)
    if month is None:
        raise ViewError(f"unknown month {mon!r} in Kalshi ticker")
    return date(2000 + int(yy), month, int(dd))


def _title_text(title: str) -> str:
    return _TITLE_HEAD.sub("", _TITLE_TAIL.sub("", title.strip()))


def title_yes(title: str) -> str | None:
    """The side a "Will A beat B?" question's YES backs (A), or None for other titles."""
    beat = _BEAT.match(_title_text(title))
    return beat["a"].strip() if beat else None


#: Kalshi's individual-sport wording: "Will Jannik Sinner win the Sinner vs Alcaraz: Round of 16 match?"
_WIN_THE = re.compile(r"^\s*will .+? win the (?P<pair>.+? vs\.? .+?)(?::.*)?\s+(?:match|fight|bout)\??\s*$", re.IGNORECASE)


def split_title(title: str) -> tuple[str, str] | None:
    """The two side names of a game title, in written order, or None when it names no pairing."""
    win_the = _WIN_THE.match(title)
    if win_the:
        title = win_the.group("pair")
    text = _title_text(title)
    beat = _BEAT.match(text)
    if beat:
        return beat["a"].strip(), re.sub(r"\s*\(.*\)\s*$", "", beat["b"]).strip().rstrip("?").strip()
    lowered = text.lower()
    for sep in _SEPARATORS:
        idx = lowered.find(sep)
        if idx > 0:
            first, second = text[:idx].strip(), text[idx + len(sep) :].strip()
            second = re.sub(r"\s*\(.*\)\s*$", "", second)  # "(BO3)", "(Game 3)"
            if first and second:
                return first, second
    return None


def read_view(listing: MarketListing) -> SportsMarketView:
    """Collect every piece of evidence the listing carries about its game."""
    sources: list[str] = []
    league = canonical_league(listing.league)
    days: dict[str, date] = {}
    hhmm: str | None = None
    blob: str | None = None
    yes_codes: list[str] = []
    side_codes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    kalshi: re.Match[str] | None = None
    if listing.venue == Venue.KALSHI:
        for text in (listing.market_id, listing.group_id):
            kalshi = KALSHI_TICKER.match(text or "")
            if kalshi:
                break
    if kalshi:
        sources.append("kalshi_ticker")
        league = league or canonical_league(kalshi["league"])
        days["ticker"] = _kalshi_day(kalshi["yy"], kalshi["mon"], kalshi["dd"])
        hhmm = kalshi["hhmm"]
        blob = kalshi["codes"]
        if kalshi["yes"]:
            yes_codes.append(kalshi["yes"])

    if listing.venue == Venue.POLYMARKET:
        for slug_text in (listing.series, listing.group_id, listing.market_id):
            slug = POLYMARKET_SLUG.match(slug_text or "")
            if slug and canonical_league(_SLUG_LEAGUES.get(slug["league"], slug["league"])):
                sources.append("polymarket_slug")
                league = league or canonical_league(_SLUG_LEAGUES.get(slug["league"], slug["league"]))
                days["slug"] = date.fromisoformat(slug["date"])
                side_codes = ((slug["a"].upper(),), (slug["b"].upper(),))
                break

    rules = RULES_DATE.search(listing.rules or "")
    if rules:
        days["rules"] = _kalshi_day(rules["yyyy"][2:], rules["mon"].upper(), rules["dd"])
    if listing.resolution is not None and listing.resolution.event_date:
        # the scheduled day the venue's rules name (Polymarket: "scheduled for June 8 at 8:30PM ET")
        days["resolution"] = date.fromisoformat(listing.resolution.event_date)

    if len(set(days.values())) > 1:
        raise ViewError(f"listing states different game days: {', '.join(f'{k} {v}' for k, v in sorted(days.items()))}")

    names = split_title(listing.title) if listing.title else None
    if names is None and listing.subtitle:
        names = split_title(listing.subtitle)
    sides: tuple[SideEvidence, SideEvidence] | None = None
    if names is not None:
        sources.append("title")
        sides = (SideEvidence((names[0],), side_codes[0]), SideEvidence((names[1],), side_codes[1]))
    elif side_codes[0]:
        sides = (SideEvidence((), side_codes[0]), SideEvidence((), side_codes[1]))

    yes_names = tuple(n for n in (listing.yes_outcome,) if n and n.strip())
    if normalize_name(listing.yes_outcome or "") in _GENERIC_YES:
        asked = title_yes(listing.title) if listing.title else None
        yes_names = (asked,) if asked else ()
    yes_is_draw = any(normalize_name(n) in DRAW_WORDS for n in yes_names) or any(c in ("TIE", "DRAW") for c in yes_codes)
    return SportsMarketView(
        league=league,
        game_day=next(iter(days.values()), None),
        start_hhmm=hhmm,
        sides=sides,
        code_blob=blob,
        yes=SideEvidence(yes_names, tuple(yes_codes)),
        yes_is_draw=yes_is_draw,
        ref_ts=listing.settle_ts if listing.settle_ts is not None else listing.close_ts,
        sources=tuple(sources),
    )

