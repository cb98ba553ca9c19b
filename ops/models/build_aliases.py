"""Build streams/matching/data/aliases.csv, the sports alias table, from real data.

Every alias row says where it came from (`source`, several joined by "+"):

- `knowledge`: streams/matching/data/teams_knowledge.csv, the hand-written team
  list (every NFL/NBA/WNBA/NHL/MLB/MLS/EPL team and the college programs),
- `seed-repo`: ../shared/data/seed-repo/team_cache_abbrev_to_name.json,
- `espn-fixture`: team fields of the recorded ESPN scoreboards and game summary,
- `kalshi-fixture`: team codes and names in recorded Kalshi KX*GAME markets,
- `polymarket-csv`: slug codes and question names of the 2024-25 Polymarket NBA games,
- `sports-pregame`: team codes in ../shared/data/sports_pregame/*.csv.

A name or code found in the data that no team in the knowledge list claims
stops the build: the table must cover what the data says, not the reverse.

Run: .venv/bin/python ops/models/build_aliases.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from streams.matching.normalize import normalize_code, normalize_name  # noqa: E402

DATA_DIR = REPO / "streams" / "matching" / "data"
KNOWLEDGE = DATA_DIR / "teams_knowledge.csv"
OUTPUT = DATA_DIR / "aliases.csv"

#: Kalshi series prefix -> our league name.
KALSHI_LEAGUES = {"KXNFLGAME": "nfl", "KXNBAGAME": "nba", "KXNHLGAME": "nhl", "KXMLBGAME": "mlb"}
#: Polymarket All-Star tournament teams of Feb 2025: not franchises, so not aliases.
POLYMARKET_EXHIBITION = {"CGS", "CRS", "KYS", "SOG"}

CODE_KINDS = frozenset({"abbr", "kalshi_code", "polymarket_code"})


class BuildError(Exception):
    """The data names a team the knowledge list does not have."""


@dataclass(frozen=True)
class Team:
    league: str
    key: str
    full_name: str
    location: str
    nickname: str
    abbrs: tuple[str, ...]
    alt_names: tuple[str, ...]


@dataclass
class _Row:
    alias: str  # first spelling seen
    kind: str
    sources: list[str]


class Table:
    """Alias rows keyed by (league, team, kind class, normalized alias); sources accumulate."""

    def __init__(self, teams: list[Team]) -> None:
        self.teams = teams
        self.rows: dict[tuple[str, str, bool, str], _Row] = {}

    def add(self, team: Team, alias: str, kind: str, source: str) -> None:
        alias = alias.strip()
        if not alias:
            return
        is_code = kind in CODE_KINDS
        norm = normalize_code(alias) if is_code else normalize_name(alias)
        if not norm:
            return
        key = (team.league, team.key, is_code, norm)
        row = self.rows.get(key)
        if row is None:
            self.rows[key] = _Row(alias, kind, [source])
        elif source not in row.sources:
            row.sources.append(source)

    def find(self, league: str, *, name: str | None = None, code: str | None = None) -> Team:
        """The one team of `league` whose knowledge names/codes contain `name` or `code`."""
        hits = []
        for t in self.teams:
            if t.league != league:
                continue
            if code is not None and normalize_code(code) in {normalize_code(a) for a in t.abbrs}:
                hits.append(t)
            elif name is not None:
                names = {normalize_name(n) for n in (t.full_name, t.location, t.nickname, *t.alt_names) if n}
                if normalize_name(name) in names:
                    hits.append(t)
        if len(hits) != 1:
            raise BuildError(f"{league}: {name or code!r} names {len(hits)} teams in the knowledge list")
        return hits[0]

    def write(self, path: Path) -> int:
        ordered = sorted(self.rows.items(), key=lambda kv: kv[0])
        with path.open("w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["league", "team_key", "alias", "kind", "source"])
            for (league, key, _is_code, _norm), row in ordered:
                w.writerow([league, key, row.alias, row.kind, "+".join(row.sources)])
        return len(ordered)


def load_knowledge(path: Path) -> list[Team]:
    with path.open(newline="") as fh:
        return [
            Team(
                league=r["league"],
                key=r["key"],
                full_name=r["full_name"],
                location=r["location"],
                nickname=r["nickname"],
                abbrs=tuple(a for a in r["abbrs"].split("|") if a),
                alt_names=tuple(a for a in r["alt_names"].split("|") if a),
            )
            for r in csv.DictReader(fh)
        ]


def add_knowledge(table: Table) -> None:
    for t in table.teams:
        table.add(t, t.full_name, "full", "knowledge")
        table.add(t, t.location, "location", "knowledge")
        table.add(t, t.nickname, "nickname", "knowledge")
        for a in t.abbrs:
            table.add(t, a, "abbr", "knowledge")
        for a in t.alt_names:
            table.add(t, a, "alt", "knowledge")
        # ESPN and Kalshi shorten "State" to "St" ("Ohio St", "Michigan St.").
        if t.location.endswith(" State"):
            table.add(t, t.location[: -len("State")] + "St", "short", "knowledge")


def add_seed_repo(table: Table, shared: Path) -> None:
    data = json.loads((shared / "data/seed-repo/team_cache_abbrev_to_name.json").read_text())
    for league, teams in data.items():
        for abbr, name in teams.items():
            team = table.find(league, name=name)
            table.add(team, abbr, "abbr", "seed-repo")
            table.add(team, name, "full", "seed-repo")


def _espn_competitors(payload: dict) -> list[dict]:
    if "events" in payload:
        return [c["team"] for e in payload["events"] for comp in e["competitions"] for c in comp["competitors"]]
    header = payload["gamepackageJSON"]["header"]
    return [c["team"] for comp in header["competitions"] for c in comp["competitors"]]


def add_espn(table: Table, shared: Path) -> None:
    for path in sorted((shared / "fixtures/espn").glob("*.json")):
        league = path.name.split("_")[0]
        for t in _espn_competitors(json.loads(path.read_text())):
            team = table.find(league, code=t["abbreviation"])
            table.add(team, t["abbreviation"], "abbr", "espn-fixture")
            for field, kind in (("displayName", "full"), ("shortDisplayName", "short"), ("location", "location"), ("name", "nickname")):
                if t.get(field):
                    table.add(team, t[field], kind, "espn-fixture")


def add_kalshi(table: Table, shared: Path) -> None:
    for path in sorted((shared / "fixtures/kalshi").glob("markets_list_*.json")):
        for m in json.loads(path.read_text())["markets"]:
            series = m["event_ticker"].split("-")[0]
            league = KALSHI_LEAGUES.get(series)
            if league is None:
                continue
            team = table.find(league, name=m["yes_sub_title"])
            table.add(team, m["ticker"].rsplit("-", 1)[1], "kalshi_code", "kalshi-fixture")
            table.add(team, m["yes_sub_title"], "kalshi_name", "kalshi-fixture")


def add_polymarket(table: Table, shared: Path) -> None:
    path = shared / "data/polymarket/nba_2024_25_pregame_price_vs_final.csv"
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            names = r["question"].split(" vs. ")
            for code, name in ((r["team_a_slug"], names[0]), (r["team_b_slug"], names[1])):
                if code in POLYMARKET_EXHIBITION:
                    continue
                team = table.find("nba", name=name)
                table.add(team, code, "polymarket_code", "polymarket-csv")
                table.add(team, name, "nickname", "polymarket-csv")


def add_pregame(table: Table, shared: Path) -> None:
    for path in sorted((shared / "data/sports_pregame").glob("*.csv")):
        league = path.name.split("_")[0]
        with path.open(newline="") as fh:
            codes = {r[c] for r in csv.DictReader(fh) for c in ("home_team", "away_team", "team1_home", "team2_away") if c in r}
        for code in sorted(codes):
            table.add(table.find(league, code=code), code, "abbr", "sports-pregame")


def build(shared: Path, output: Path = OUTPUT) -> dict[str, int]:
    table = Table(load_knowledge(KNOWLEDGE))
    add_knowledge(table)
    add_seed_repo(table, shared)
    add_espn(table, shared)
    add_kalshi(table, shared)
    add_polymarket(table, shared)
    add_pregame(table, shared)
    total = table.write(output)
    per_league: dict[str, int] = defaultdict(int)
    for league, *_ in table.rows:
        per_league[league] += 1
    return {"total": total, **dict(sorted(per_league.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    counts = build(args.shared)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
