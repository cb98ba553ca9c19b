"""The alias table: coverage of every league, provenance on every row, exact-then-fuzzy lookup."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from streams.matching import AliasTableError, canonical_league, default_alias_table, load_alias_table
from streams.matching.aliases import DEFAULT_PATH

SOURCES = {"knowledge", "seed-repo", "espn-fixture", "kalshi-fixture", "polymarket-csv", "sports-pregame"}


def _rows() -> list[dict[str, str]]:
    with DEFAULT_PATH.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_table_size_and_provenance() -> None:
    rows = _rows()
    assert len(rows) >= 2000
    assert all(r["source"] and set(r["source"].split("+")) <= SOURCES for r in rows)
    from_data = [r for r in rows if r["source"] != "knowledge"]
    assert len(from_data) >= 300  # every team code/name the recorded data uses is in the table


def test_every_league_has_all_its_teams() -> None:
    teams: dict[str, set[str]] = defaultdict(set)
    for r in _rows():
        teams[r["league"]].add(r["team_key"])
    # NHL keeps the Arizona Coyotes of the historical data beside Utah; EPL keeps recently relegated clubs.
    assert {lg: len(k) for lg, k in teams.items() if lg != "college"} == {
        "nfl": 32, "nba": 30, "wnba": 15, "nhl": 33, "mlb": 30, "mls": 30, "epl": 25,
    }
    assert len(teams["college"]) >= 250


@pytest.mark.parametrize(
    ("league", "name", "team"),
    [
        ("nba", "Knicks", "NY"),
        ("nba", "LA Clippers", "LAC"),
        ("nba", "Los Angeles C", "LAC"),
        ("nfl", "Green Bay", "GB"),
        ("nfl", "Washington Football Team", "WSH"),
        ("nhl", "Montréal Canadiens", "MTL"),
        ("epl", "Brighton and Hove Albion", "BHA"),
        ("ncaaf", "Ohio St.", "OSU"),
        ("ncaab", "St Johns", "SJU"),
    ],
)
def test_exact_names(league: str, name: str, team: str) -> None:
    hit = default_alias_table().resolve_name(league, name)
    assert hit.teams == frozenset({team}) and hit.score == 1.0


def test_fuzzy_names_absorb_typos_but_not_other_teams() -> None:
    table = default_alias_table()
    typo = table.resolve_name("nba", "Celitcs")
    assert typo.teams == frozenset({"BOS"}) and 0.93 <= typo.score < 1.0
    assert table.resolve_name("ncaab", "Iowa Sta").teams == frozenset({"ISU"})
    assert not table.resolve_name("nfl", "Nets").found  # "Jets" is 0.83 away: not a typo
    assert table.resolve_name("nba", "Los Angeles").teams == frozenset({"LAL", "LAC"})  # ambiguous, said so


def test_codes_are_separate_from_names() -> None:
    table = default_alias_table()
    assert table.resolve_code("nba", "NYK").teams == frozenset({"NY"})
    assert table.resolve_code("nfl", "JAC").teams == frozenset({"JAX"})
    assert not table.resolve_name("nfl", "NO").found  # a code is never fuzzy-matched as a name
    assert not table.resolve_code("nfl", "Saints").found


def test_league_spellings() -> None:
    assert canonical_league("football/college-football") == "ncaaf"
    assert canonical_league("eng.1") == "epl"
    assert canonical_league("NFL") == "nfl"
    assert canonical_league("counter-strike") is None


def test_missing_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AliasTableError):
        load_alias_table(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("league,team_key,alias,kind,source\n")
    with pytest.raises(AliasTableError):
        load_alias_table(empty)
