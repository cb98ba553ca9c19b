"""The sports alias table: every known spelling of every team, per league.

The table is data (`data/aliases.csv`, built by ops/models/build_aliases.py),
not code, so a new spelling seen at a venue is one CSV row. Names and codes
live in separate indexes: a code like "NO" or "SEA" must never be compared
with a name like "Nets" by Jaro-Winkler, and names are fuzzy-matched only when
no exact alias exists.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from streams.matching.errors import AliasTableError
from streams.matching.normalize import normalize_code, normalize_name

DEFAULT_PATH = Path(__file__).with_name("data") / "aliases.csv"

#: Alias kinds that are codes (compared exactly, never fuzzily).
CODE_KINDS = frozenset({"abbr", "kalshi_code", "polymarket_code"})

#: Spellings of league names used by ESPN paths, venues and our own topics.
_LEAGUE_SYNONYMS: dict[str, str] = {
    "nfl": "nfl",
    "football/nfl": "nfl",
    "ncaaf": "ncaaf",
    "ncaafb": "ncaaf",
    "cfb": "ncaaf",
    "college-football": "ncaaf",
    "college football": "ncaaf",
    "football/college-football": "ncaaf",
    "nba": "nba",
    "basketball/nba": "nba",
    "wnba": "wnba",
    "basketball/wnba": "wnba",
    "ncaab": "ncaab",
    "ncaam": "ncaab",
    "ncaamb": "ncaab",
    "cbb": "ncaab",
    "mens-college-basketball": "ncaab",
    "basketball/mens-college-basketball": "ncaab",
    "nhl": "nhl",
    "hockey/nhl": "nhl",
    "mlb": "mlb",
    "baseball/mlb": "mlb",
    "mls": "mls",
    "usa.1": "mls",
    "soccer/usa.1": "mls",
    "epl": "epl",
    "eng.1": "epl",
    "soccer/eng.1": "epl",
    "premier league": "epl",
    "premier-league": "epl",
    "atp": "atp",
    "tennis/atp": "atp",
    "wta": "wta",
    "tennis/wta": "wta",
    "ufc": "ufc",
    "mma/ufc": "ufc",
}

#: Leagues of individual athletes: no alias table; a player is matched by full name or surname, and by
#: the first three letters of the surname (Kalshi's ticker codes, "KXATPMATCH-26OCT01SINALC-SIN").
INDIVIDUAL_LEAGUES = frozenset({"atp", "wta", "ufc"})

#: Leagues whose alias rows are shared ("college" rows serve football and basketball).
_TABLE_LEAGUE = {"ncaaf": "college", "ncaab": "college"}

#: Leagues where a game can end level, so markets have a draw outcome.
THREE_WAY_LEAGUES = frozenset({"mls", "epl"})

#: Jaro-Winkler similarity a fuzzy name needs to count as the alias it resembles.
FUZZY_THRESHOLD = 0.93
#: Fuzzy hits within this distance of the best are kept (the name is then ambiguous).
FUZZY_TIE = 0.01


def canonical_league(league: str | None) -> str | None:
    """Our league name for any known spelling, or None when it is not a sports league we know."""
    if not league:
        return None
    return _LEAGUE_SYNONYMS.get(league.strip().lower())


@dataclass(frozen=True)
class Resolution:
    """The teams a name or code may denote, and how sure the lookup is (1.0 = exact alias)."""

    teams: frozenset[str]
    score: float

    @property
    def found(self) -> bool:
        return bool(self.teams)


NOT_FOUND = Resolution(frozenset(), 0.0)


class AliasTable:
    """Per-league name and code indexes over the alias rows."""

    def __init__(self, rows: list[tuple[str, str, str, str]]) -> None:
        """`rows` are (league, team_key, alias, kind) as in aliases.csv."""
        names: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        codes: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        team_codes: dict[tuple[str, str], set[str]] = defaultdict(set)
        team_names: dict[tuple[str, str], set[str]] = defaultdict(set)
        for league, key, alias, kind in rows:
            if kind in CODE_KINDS:
                code = normalize_code(alias)
                codes[league][code].add(key)
                team_codes[(league, key)].add(code)
            else:
                name = normalize_name(alias)
                names[league][name].add(key)
                team_names[(league, key)].add(name)
        self._names = {lg: {n: frozenset(k) for n, k in d.items()} for lg, d in names.items()}
        self._codes = {lg: {c: frozenset(k) for c, k in d.items()} for lg, d in codes.items()}
        self._name_lists = {lg: list(d) for lg, d in self._names.items()}
        self._team_codes = {k: frozenset(v) for k, v in team_codes.items()}
        self._team_names = {k: frozenset(v) for k, v in team_names.items()}
        self.size = len(rows)

    @staticmethod
    def _table_league(league: str) -> str:
        return _TABLE_LEAGUE.get(league, league)

    def covers(self, league: str) -> bool:
        return self._table_league(league) in self._names

    def codes_of(self, league: str, team: str) -> frozenset[str]:
        return self._team_codes.get((self._table_league(league), team), frozenset())

    def names_of(self, league: str, team: str) -> frozenset[str]:
        return self._team_names.get((self._table_league(league), team), frozenset())

    def resolve_code(self, league: str, code: str) -> Resolution:
        hit = self._codes.get(self._table_league(league), {}).get(normalize_code(code))
        return Resolution(hit, 1.0) if hit else NOT_FOUND

    def resolve_name(self, league: str, name: str) -> Resolution:
        """Exact alias first; otherwise Jaro-Winkler over the league's names."""
        return self._resolve_name(self._table_league(league), normalize_name(name))

    @lru_cache(maxsize=65536)
    def _resolve_name(self, table_league: str, norm: str) -> Resolution:
        index = self._names.get(table_league)
        if not index or not norm:
            return NOT_FOUND
        exact = index.get(norm)
        if exact:
            return Resolution(exact, 1.0)
        raw = process.extract(
            norm,
            self._name_lists[table_league],
            scorer=JaroWinkler.normalized_similarity,
            score_cutoff=FUZZY_THRESHOLD,
            limit=12,
        )
        hits = [(alias, float(score)) for alias, score, _ in raw if not token_extension(norm, alias)]
        if not hits:
            return NOT_FOUND
        best = max(score for _, score in hits)
        teams = frozenset(k for alias, score in hits if score >= best - FUZZY_TIE for k in index[alias])
        return Resolution(teams, float(best))


def token_extension(a: str, b: str) -> bool:
    """True when one name is the other plus whole words ("iowa" / "iowa st"): a different team, not a typo."""
    short, long_ = sorted((a, b), key=len)
    return long_.startswith(short + " ") or long_.endswith(" " + short)


def load_alias_table(path: Path = DEFAULT_PATH) -> AliasTable:
    """Read aliases.csv; a missing or malformed file is an AliasTableError, never an empty table."""
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [(r["league"], r["team_key"], r["alias"], r["kind"]) for r in reader]
    except (OSError, KeyError, csv.Error) as exc:
        raise AliasTableError(f"cannot read alias table {path}: {exc}") from exc
    if not rows:
        raise AliasTableError(f"alias table {path} has no rows")
    return AliasTable(rows)


@lru_cache(maxsize=1)
def default_alias_table() -> AliasTable:
    """The packaged table, loaded once per process."""
    return load_alias_table(DEFAULT_PATH)
