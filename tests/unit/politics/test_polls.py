"""Politics on the recorded FiveThirtyEight 2016 national polls: connector, race model, candidate matching."""

from __future__ import annotations

import dataclasses
import inspect
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


from connectors.polls.normalize import poll_states
from connectors.polls.pipeline import PollsPipeline
from connectors.polls.source import FTE_2016_NATIONAL
from connectors.rest import Fetched
from schemas.enums import MarketType
from streams.matching.politics import Candidate, names_candidate, yes_side
from streams.probability.polls import Poll, RaceConfig, forecast

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
CSV = (ROOT / "polls" / "president_general_polls_2016_us_polls_only_oct_nov.csv").read_text()
ELECTION = int(datetime(2016, 11, 8, tzinfo=timezone.utc).timestamp() * 1000)


class Sink:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, Any]] = []
        self.dead: list[str] = []

    def publish(self, topic: str, key: str, record: Any) -> None:
        self.published.append((topic, key, record))

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        self.dead.append(str(error))


def polls() -> list[Poll]:
    states, rejected = poll_states(FTE_2016_NATIONAL, CSV, 0)
    assert rejected == []
    return [Poll(s.name, s.ts, s.features["pct_a"], s.features["pct_b"], s.features["sample_size"], s.features["lv"] == 1.0) for s in states]


def test_recorded_polls_become_one_state_each() -> None:
    sink = Sink()
    raw = Fetched("polls", FTE_2016_NATIONAL.race, FTE_2016_NATIONAL.url, {}, 200, ELECTION, CSV).raw_feed()
    published, dead = PollsPipeline(sink, FTE_2016_NATIONAL).on_raw(raw)
    assert len(published) == 329 and dead == 0 and sink.published[0][0] == "raw.polls"
    abc = next(s for s in published if s.event_id == "polls:us-president-2016-popular-vote:48630")
    assert (abc.name, abc.features["pct_a"], abc.features["pct_b"], abc.features["sample_size"]) == ("ABC News/Washington Post", 47.0, 43.0, 2220.0)
    assert abc.market_type is MarketType.POLITICS and (abc.entity_a, abc.entity_b_abbr) == ("Hillary Clinton", "Republican")
    assert PollsPipeline(sink, FTE_2016_NATIONAL).on_raw(raw)[0] and PollsPipeline(sink, FTE_2016_NATIONAL, publish_raw=False)


def test_bad_rows_are_dead_lettered_one_by_one() -> None:
    lines = CSV.splitlines()
    broken = lines[1].replace(",47,43,", ",forty-seven,43,")  # made-up corruption of the first recorded row
    assert broken != lines[1]
    sink = Sink()
    raw = Fetched("polls", "x", FTE_2016_NATIONAL.url, {}, 200, 1, "\n".join([lines[0], broken, *lines[2:]])).raw_feed()
    published, dead = PollsPipeline(sink, FTE_2016_NATIONAL).on_raw(raw)
    assert dead == 1 and len(published) == 328 and "rawpoll_clinton" in sink.dead[0]


def test_json_sources_read_the_same() -> None:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(CSV)))[:20]
    src = dataclasses.replace(FTE_2016_NATIONAL, format="json")
    a, _ = poll_states(src, json.dumps(rows), 0)
    b, _ = poll_states(FTE_2016_NATIONAL, CSV, 0)
    assert [s.features for s in a] == [s.features for s in b[:20]]


def test_race_model_on_the_2016_polls() -> None:
    ps = polls()
    eve = forecast(ps, ELECTION, ELECTION)
    assert 1.5 < eve.average < 5.0  # Clinton ahead by a few points in the final national polls
    assert 0.6 < eve.p_a < 0.95
    # The LA Times/USC tracker leaned to Trump all autumn: its house effect is negative and the largest such.
    assert eve.house["USC Dornsife/LA Times"] < -2.0
    # A pollster that leans (made-up: every LA Times margin moved 5 points further to Trump) is mostly
    # absorbed by its house effect; with house effects switched off it drags the average.
    leaned = [dataclasses.replace(p, pct_b=p.pct_b + 5) if p.pollster == "USC Dornsife/LA Times" else p for p in ps]
    no_house = RaceConfig(house_prior_polls=1e12)
    shift_with = eve.average - forecast(leaned, ELECTION, ELECTION).average
    shift_without = forecast(ps, ELECTION, ELECTION, no_house).average - forecast(leaned, ELECTION, ELECTION, no_house).average
    assert 0 < shift_with < 0.5 * shift_without
    # Earlier, with the same information, the forecast is less certain (reversion + a wider spread).
    oct20 = int(datetime(2016, 10, 20, tzinfo=timezone.utc).timestamp() * 1000)
    early = forecast(ps, oct20, ELECTION)
    late_view_of_same = forecast([p for p in ps if p.end_ts <= oct20], oct20, oct20)
    assert abs(early.p_a - 0.5) < abs(late_view_of_same.p_a - 0.5) and early.sigma > late_view_of_same.sigma
    assert early.polls < eve.polls  # later polls are not known yet


def test_the_market_price_is_never_an_input() -> None:
    # Nothing that carries a price reaches the model: its inputs are polls, times and stated constants.
    params = set(inspect.signature(forecast).parameters) | {f.name for f in dataclasses.fields(RaceConfig)} | {f.name for f in dataclasses.fields(Poll)}
    assert not {p for p in params if "price" in p or "market" in p or "quote" in p}
    ps = polls()
    base = forecast(ps, ELECTION, ELECTION)
    for market_p in (0.05, 0.5, 0.95):  # whatever a venue quotes, the same polls give the same answer
        assert forecast(ps, ELECTION, ELECTION) == base, market_p


def test_candidates_and_parties_as_venues_write_them() -> None:
    clinton, trump = Candidate("Hillary Clinton", "Democratic"), Candidate("Donald Trump", "Republican")
    assert yes_side("Will Hillary win the popular vote?", "", clinton, trump) == "a"
    assert yes_side("Who wins the 2016 popular vote?", "Trump", clinton, trump) == "b"
    assert yes_side("Which party wins the popular vote?", "Dem", clinton, trump) == "a"
    assert yes_side("Which party wins the popular vote?", "GOP", clinton, trump) == "b"
    assert yes_side("Clinton or Trump?", "", clinton, trump) is None
    # Recorded Polymarket titles (gamma_events_dem_nominee_2028_trimmed.json): the named candidate wins over the party word.
    raw = json.loads((ROOT / "polymarket" / "gamma_events_dem_nominee_2028_trimmed.json").read_text())
    titles = [m["question"] for e in raw for m in e["markets"]]
    whitmer, smith = Candidate("Gretchen Whitmer", "Democratic"), Candidate("Stephen A. Smith", "Democratic")
    sides = [yes_side(t, "Yes", whitmer, smith) for t in titles]
    assert sides == ["b", "a"]
    assert names_candidate("Bernie wins Iowa", Candidate("Bernard Sanders", "Democratic"))


SOURCE_TOML = """
race = "us-president-2016-popular-vote"
election_date = "2016-11-08"
url = "https://projects.fivethirtyeight.com/general-model/president_general_polls_2016.csv"
format = "csv"
end_date = "enddate"

[[candidates]]
column = "rawpoll_clinton"
name = "Hillary Clinton"
party = "Democratic"

[[candidates]]
column = "rawpoll_trump"
name = "Donald Trump"
party = "Republican"
"""


def test_a_source_named_in_a_file_is_fetched_over_http_and_read(tmp_path: Path) -> None:
    """`python -m connectors.polls live --source FILE` (what `arbees run` starts, ARBEES_POLLS_SOURCE): the file
    names the source; its URL answered with the recorded FiveThirtyEight file gives the recorded polls."""
    import asyncio

    import httpx

    from connectors.polls.pipeline import client, fetch
    from connectors.polls.source import source_from_file

    path = tmp_path / "polls.toml"
    path.write_text(SOURCE_TOML)
    src = source_from_file(path)
    assert src == FTE_2016_NATIONAL  # the file spells out the built-in source, so the outputs must agree
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, text=CSV)

    async def once() -> Fetched:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            return await fetch(client(http), src)

    fetched = asyncio.run(once())
    published, dead = PollsPipeline(Sink(), src).on_raw(fetched.raw_feed())
    assert asked == [src.url] and dead == 0 and len(published) == 329
    assert {s.event_id for s in published} == {s.event_id for s in poll_states(FTE_2016_NATIONAL, CSV, 0)[0]}


def test_a_source_file_that_cannot_be_used_says_why(tmp_path: Path) -> None:
    import pytest

    from connectors.polls.source import SourceError, source_from_file

    cases = {
        "typo": (SOURCE_TOML.replace("end_date", "enddate_col"), "unknown key(s) enddate_col"),
        "no url": (SOURCE_TOML.replace('url = "https', 'link = "https'), "unknown key(s) link"),
        "http": (SOURCE_TOML.replace("https://", "http://"), "url must be https://"),
        "xml": (SOURCE_TOML.replace('format = "csv"', 'format = "xml"'), "format must be csv or json"),
        "one candidate": (SOURCE_TOML.split("[[candidates]]")[0] + "[[candidates]]" + SOURCE_TOML.split("[[candidates]]")[1],
                          "candidates must be two"),
        "not toml": ("race = ", "polls.toml"),
    }
    for name, (text, why) in cases.items():
        path = tmp_path / "polls.toml"
        path.write_text(text)
        with pytest.raises(SourceError, match=why.replace("(", r"\(").replace(")", r"\)")):
            source_from_file(path)
