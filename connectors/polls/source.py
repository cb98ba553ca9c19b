"""Where polls come from and how their columns read: configurable, FiveThirtyEight's 2016 layout built in.

A source names its URL, its format (CSV or a JSON list of objects) and the column
of each field; `candidates` maps each candidate's share column to the name and
party the poll is about. The race is the election the polls measure (e.g. the
2016 national popular vote), with its date.
"""

from __future__ import annotations

from dataclasses import dataclass


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
