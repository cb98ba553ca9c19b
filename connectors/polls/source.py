"""Where polls come from and how their columns read: configurable, FiveThirtyEight's 2016 layout built in.

A source names its URL, its format (CSV or a JSON list of objects) and the column
of each field; `candidates` maps each candidate's share column to the name and
party the poll is about. The race is the election the polls measure (e.g. the
2016 national popular vote), with its date.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Candidate:
    column: str  # the share column, percent
    name: str
    party: str


@dataclass(frozen=True)
class PollSource:
    race: str  # event key, e.g. "us-president-2016-popular-vote"
    election_date: str  # YYYY-MM-DD
    url: str
    format: str  # "csv" or "json"
    candidates: tuple[Candidate, Candidate]  # entity a, entity b
    poll_id: str = "poll_id"
    pollster: str = "pollster"
    end_date: str = "enddate"  # M/D/YYYY or YYYY-MM-DD
    sample_size: str = "samplesize"
    population: str = "population"
    geography: str = "state"
    geography_value: str = "U.S."  # rows for other geographies belong to other races
    filter_column: str = "type"  # the 538 file repeats each poll per model; keep one
    filter_value: str = "polls-only"


FTE_2016_NATIONAL = PollSource(
    race="us-president-2016-popular-vote",
    election_date="2016-11-08",
    url="https://projects.fivethirtyeight.com/general-model/president_general_polls_2016.csv",
    format="csv",
    candidates=(Candidate("rawpoll_clinton", "Hillary Clinton", "Democratic"), Candidate("rawpoll_trump", "Donald Trump", "Republican")),
)


class SourceError(ValueError):
    """A polling-source file that cannot be used: the message names the file and what is wrong."""


def source_from_file(path: str | Path) -> PollSource:
    """A `PollSource` from a TOML file: `race`, `election_date`, `url`, `format` and two `[[candidates]]` tables
    (`column`, `name`, `party`), plus any column name to override (`poll_id`, `end_date`, ...)."""
    where = Path(path)
    try:
        doc = tomllib.loads(where.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(f"{where}: {exc}") from exc
    known = {f.name for f in fields(PollSource)}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise SourceError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    missing = sorted(k for k in ("race", "election_date", "url", "format", "candidates") if k not in doc)
    if missing:
        raise SourceError(f"{where}: missing {', '.join(missing)}")
    if doc["format"] not in ("csv", "json"):
        raise SourceError(f"{where}: format must be csv or json, got {doc['format']!r}")
    if not str(doc["url"]).startswith("https://"):
        raise SourceError(f"{where}: url must be https://, got {doc['url']!r}")
    cands = doc["candidates"]
    if not isinstance(cands, list) or len(cands) != 2 or not all(isinstance(c, dict) for c in cands):
        raise SourceError(f"{where}: candidates must be two [[candidates]] tables (column, name, party)")
    try:
        pair = tuple(Candidate(str(c["column"]), str(c["name"]), str(c["party"])) for c in cands)
    except KeyError as exc:
        raise SourceError(f"{where}: a candidate has no {exc.args[0]!r}") from exc
    return PollSource(**{k: str(v) for k, v in doc.items() if k != "candidates"}, candidates=pair)  # type: ignore[arg-type]
