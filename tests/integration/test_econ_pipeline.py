"""Economics end to end through the real broker and one Faust worker (discovery, targets, router, shard).

In: the recorded FRED UNRATE answer (realtime 2020-05-20, last print April 2020 at 14.7 %) as a RawFeed
through the connector pipeline (raw.fred, then one observation state per month on events.state); two
listings for May 2020 unemployment, a Kalshi market (the recorded Kalshi market object with the economics
ticker and wording put in, through the Kalshi normalizer) and a Polymarket title (constructed: no recorded
economics listing exists in this project) which must share one event on opposite sides; a Kalshi book
in the venue's ladder shape (constructed prices); and an answer with a malformed value.
Out: the release target with its forecast, both links, and probabilities and signals equal to the pure
processors' on the inputs the shard received; the malformed answer in `deadletter` with its reason.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest

from connectors.rest import Fetched
from connectors.fred.pipeline import FredPipeline
from connectors.publisher import Publisher
from ops import demo
from schemas import depth
from schemas.enums import Venue
from schemas.records import DeadLetter, EventState, MarketLink, Probability, Quote, ShardInput

from tests.integration.target_worker import settled_outputs, target_worker
from tests.unit.economics.test_release_targets import FETCHED, kalshi, polymarket

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "tests" / "fixtures" / "fred" / "series_observations_UNRATE.json"
EVENT = "econ:unrate:2020-05-01:ge-14.1"
TICKER = "KXU3-20MAY-T14.0"


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[demo.Child, demo.LogReader]]:
    with target_worker(kafka_bootstrap, tmp_path, "econ") as pair:
        yield pair


def test_recorded_fred_unrate_to_linked_release_target_probabilities_and_signals(
    kafka_bootstrap: str, worker: tuple[demo.Child, demo.LogReader]
) -> None:
    child, reader = worker
    child.start()
    demo.wait_ready(child, 120)
    pub = Publisher(kafka_bootstrap, service="econ-it")
    k, pm = kalshi(TICKER), polymarket("Will the US unemployment rate be below 14.1% in May 2020?", f"0xecon{uuid.uuid4().hex[:8]}")
    for lst in (k, pm):
        pub.publish("markets.catalog", lst.listing_id, lst)
    pipe = FredPipeline(pub)
    url = "https://api.stlouisfed.org/fred/series/observations"
    good = pipe.on_raw(Fetched("fred", "series_observations", url, {"series_id": "UNRATE"}, 200, FETCHED, OBS.read_text()).raw_feed())
    bad = pipe.on_raw(Fetched("fred", "series_observations", url, {"series_id": "UNRATE"}, 200, FETCHED + 1,
                              '{"observations": [{"date": "2020-05-01", "value": "n/a", "realtime_start": "2020-06-05"}]}').raw_feed())
    assert len(good.states) == 868 and bad.dead_letters == 1
    pub.flush()

    def linked(r: demo.LogReader) -> bool:
        got = {(lk.venue, lk.market_id) for lk in r.of("markets.links", MarketLink)}
        return {(Venue.KALSHI, TICKER), (Venue.POLYMARKET, pm.market_id)} <= got

    assert demo.wait_for(reader, linked, 120, alive=child.alive), f"links missing; counts {reader.counts()}\n{child.tail()}"
    target = [s for s in reader.of("events.state", EventState) if s.event_id == EVENT][-1]
    # The Kalshi book: YES asks at 0.05 (constructed), far below what the forecast gives a jobless rate of 14.1 %+;
    # quoted three days after the forecast, as a live book is (the forecast holds until the next print).
    q = Quote(quote_id=f"KALSHI:{TICKER}:it", venue=Venue.KALSHI, market_id=TICKER, ts=target.ts + 3 * 86_400_000, seq=1,
              yes_ask_micros=50_000, yes_ask_size=100.0, no_ask_micros=960_000, no_ask_size=100.0,
              yes_ask_depth=depth.pack_levels([(50_000, 100.0)]), no_ask_depth=depth.pack_levels([(960_000, 100.0)]), yes_bid_depth=depth.pack_levels([(40_000, 100.0)]),
              no_bid_depth=depth.pack_levels([(950_000, 100.0)]), yes_bid_micros=40_000, yes_bid_size=100.0, no_bid_micros=950_000, no_bid_size=100.0)
    pub.publish("markets.quotes", f"KALSHI:{TICKER}", q)
    pub.flush()

    def priced(r: demo.LogReader) -> bool:
        return any(i.record.event_id == EVENT and i.record.quote is not None for i in r.records["shard.inputs"] if isinstance(i.record, ShardInput)) \
            and any(p.event_id == EVENT for p in r.of("model.probabilities", Probability))

    assert demo.wait_for(reader, priced, 120, alive=child.alive), f"not priced; counts {reader.counts()}\n{child.tail()}"
    reader.poll(3.0)

    links = {lk.venue: lk for lk in reader.of("markets.links", MarketLink) if lk.event_id == EVENT}
    assert links[Venue.KALSHI].yes_role == "a" and links[Venue.POLYMARKET].yes_role == "b"
    assert target.features["threshold"] == 14.1 and "mean" in target.features and "published" not in target.features

    got_probs, got_sigs, want_probs, want_sigs = settled_outputs(child, reader, EVENT)
    assert got_probs == want_probs and got_probs[-1].model == "econ-ar1-empirical"
    assert got_sigs == want_sigs
    assert got_probs[-1].outcomes["a"] > 0.5  # after 14.7 % in April, >= 14.1 % in May is likely to the model
    assert got_sigs and (got_sigs[0].legs[0].market_id, got_sigs[0].legs[0].side.value) == (TICKER, "YES")

    dead = [d for d in reader.of("deadletter", DeadLetter) if d.topic == "raw.fred" and bad.raw_id in d.error]
    assert dead and "observations[0].value" in dead[0].error
