"""FRED connector on recorded answers: "." as missing, the release calendar, the key kept out of records."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.espn.client import HostRateLimiter, RetryPolicy
from connectors.fred.client import FredClient, api_key
from connectors.fred.errors import FatalFredError
from connectors.fred.pipeline import FredPipeline
from connectors.rest import Fetched
from schemas.enums import EventStatus, MarketType

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fred"
URL = "https://api.stlouisfed.org/fred"


class Sink:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, Any]] = []
        self.dead: list[tuple[str, str]] = []

    def publish(self, topic: str, key: str, record: Any) -> None:
        self.published.append((topic, key, record))

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        self.dead.append((topic, str(error)))


def fetched(endpoint: str, path: str, name: str, params: dict[str, str], at: int = 1_590_000_000_000) -> Fetched:
    return Fetched("fred", endpoint, URL + path, params, 200, at, (FIXTURES / name).read_text())


def test_recorded_unrate_observations_become_states() -> None:
    sink = Sink()
    out = FredPipeline(sink).on_raw(fetched("series_observations", "/series/observations", "series_observations_UNRATE.json", {"series_id": "UNRATE"}).raw_feed())
    assert len(out.states) == 868 and out.missing == () and out.dead_letters == 0
    last = out.states[-1]
    assert (last.event_id, last.features["value"], last.league) == ("fred:unrate:2020-04-01", 14.7, "unrate")
    assert last.market_type is MarketType.ECONOMICS and last.status is EventStatus.FINAL
    assert [t for t, _, _ in sink.published][:2] == ["raw.fred", "events.state"]


def test_dot_is_missing_not_a_number() -> None:
    sink = Sink()
    out = FredPipeline(sink).on_raw(fetched("series_observations", "/series/observations", "series_observations_OILPRICE_missing_value_dot.json", {"series_id": "OILPRICE"}).raw_feed())
    assert out.missing == ("2013-07-01",) and len(out.states) == 270
    assert all(s.features["value"] > 0 for s in out.states) and out.dead_letters == 0


def test_release_calendar_states_at_the_publisher_hour() -> None:
    sink = Sink()
    at = 1_588_291_200_000  # 2020-05-01 00:00 UTC
    out = FredPipeline(sink).on_raw(fetched("releases_dates", "/releases/dates", "releases_dates_since_2020-01-01.json", {}, at).raw_feed())
    cpi = {s.event_id: s for s in out.states if s.league == "cpi"}
    may = cpi["fred:cpi:release:2020-05-12"]
    assert may.start_ts == 1_589_286_600_000  # 2020-05-12 08:30 EDT
    assert may.status is EventStatus.SCHEDULED and cpi["fred:cpi:release:2020-04-10"].status is EventStatus.FINAL
    assert {"fred:unrate:release:2020-05-08", "fred:payrolls:release:2020-05-08"} <= {s.event_id for s in out.states}
    # Employment Cost Index (release 11) is no followed series: its own calendar gives no state.
    assert FredPipeline(Sink()).on_raw(fetched("release_dates", "/release/dates", "release_dates_release_id_11.json", {"release_id": "11"}).raw_feed()).states == ()


@pytest.mark.parametrize(
    ("body", "where"),
    [("not json", "body"), ('{"observations": [{"date": "2020-01-01", "value": "n/a", "realtime_start": "2020-01-01"}]}', "observations[0].value"),
     ('{"observations": [{"date": "January", "value": "1", "realtime_start": "2020-01-01"}]}', "observations[0].date")],
)
def test_malformed_answers_are_dead_lettered(body: str, where: str) -> None:
    sink = Sink()
    out = FredPipeline(sink).on_raw(Fetched("fred", "series_observations", URL + "/series/observations", {"series_id": "UNRATE"}, 200, 1, body).raw_feed())
    assert out.dead_letters == 1 and sink.dead[0][0] == "raw.fred" and where in sink.dead[0][1]


def test_the_key_is_sent_but_never_recorded() -> None:
    seen: list[httpx.Request] = []
    recorded: list[Fetched] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=(FIXTURES / "series_observations_UNRATE.json").read_text())

    async def nosleep(s: float) -> None:
        return None

    async def run() -> Fetched:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        client = FredClient(http, key=api_key({"FRED_API_KEY": "abc123secret"}), limiter=HostRateLimiter(0.0, sleep=nosleep),
                            policy=RetryPolicy(max_attempts=1), sleep=nosleep, observer=recorded.append)
        return await client.observations("UNRATE")

    got = asyncio.run(run())
    assert seen[0].url.params["api_key"] == "abc123secret" and seen[0].url.params["file_type"] == "json"
    raw = got.raw_feed()
    assert "abc123secret" not in json.dumps([raw.url, raw.params, raw.raw_id]) and raw.params["series_id"] == "UNRATE"
    assert "abc123secret" not in repr(FredClient(httpx.AsyncClient(), key="abc123secret"))
    with pytest.raises(FatalFredError):
        api_key({})
