"""Crypto end to end through the real broker and one Faust worker (discovery, crypto targets, router, shard).

In: the recorded CoinGecko BTC hourly chart as a RawFeed through the connector pipeline
(raw.coingecko, then spot states on events.state), the recorded Kalshi crypto tickers as
listings (markets.catalog) and their recorded top of book as quotes (markets.quotes), and a
malformed CoinGecko answer. Out, read back from offsets taken before the run: the target
state, the link of KXBTCD-26FEB1217-T72749.99 to it, probabilities and a signal equal to
what the pure processors make of the inputs the shard actually received, and the
malformed answer in `deadletter` with its reason.

Time shift (stated, as in tests/unit/crypto/test_targets.py): the chart is from October 2023,
the Kalshi frames from February 2026; the chart's timestamps are moved so it ends a minute
before the frames, prices untouched. BTC near $27k against a $72,749.99 strike makes NO
near-certain while the recorded book asks 0.98: the worker runs with a 1% edge threshold
(its own ARBEES_CONFIG) so that this small, real-book edge shows as a signal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from connectors.rest import Fetched
from connectors.coingecko.pipeline import CoinGeckoPipeline
from connectors.publisher import Publisher
from ops import demo
from schemas.records import DeadLetter, EventState, MarketLink, Signal
from streams.crypto.parse import parse_listing

from tests.integration.target_worker import settled_outputs, target_worker
from tests.unit.crypto.venues import KALSHI_FRAME_TS, kalshi_frames, kalshi_listing, kalshi_quote

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "tests" / "fixtures" / "coingecko" / "market_chart_bitcoin_usd_7d_hourly.json"
BTC = "KXBTCD-26FEB1217-T72749.99"


def shifted_chart() -> str:
    """The recorded body with every timestamp moved by one constant (prices and shape unchanged)."""
    body = json.loads(CHART.read_text())
    shift = KALSHI_FRAME_TS - 60_000 - body["prices"][-1][0]
    for series in body.values():
        for point in series:
            point[0] += shift
    return json.dumps(body)


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[demo.Child, demo.LogReader]]:
    with target_worker(kafka_bootstrap, tmp_path, "crypto", config="[shard]\nmin_edge = 0.01\n") as pair:
        yield pair


def test_recorded_coingecko_and_kalshi_crypto_through_one_worker(kafka_bootstrap: str, worker: tuple[demo.Child, demo.LogReader]) -> None:
    child, reader = worker
    child.start()
    demo.wait_ready(child, 120)
    pub = Publisher(kafka_bootstrap, service="crypto-it")
    frames = {m["market_ticker"]: m for m in kalshi_frames()}
    for ticker in frames:
        lst = kalshi_listing(ticker)
        pub.publish("markets.catalog", lst.listing_id, lst)
    pipe = CoinGeckoPipeline(pub)
    url = "https://api.coingecko.com/api/v3/coins/bitcoin/market_chart"
    good = pipe.on_raw(Fetched("coingecko", "market_chart", url, {"vs_currency": "usd", "days": "7"}, 200, KALSHI_FRAME_TS - 30_000, shifted_chart()).raw_feed())
    bad = pipe.on_raw(Fetched("coingecko", "market_chart", url, {"vs_currency": "usd", "days": "7"}, 200, KALSHI_FRAME_TS - 20_000, '{"prices": [[1, "x"]]}').raw_feed())
    assert len(good.states) == 169 and bad.dead_letters == 1
    pub.flush()
    target_id = parse_listing(kalshi_listing(BTC)).event_id

    def linked(r: demo.LogReader) -> bool:
        return any(lk.market_id == BTC for lk in r.of("markets.links", MarketLink))

    assert demo.wait_for(reader, linked, 120, alive=child.alive), f"no link; counts {reader.counts()}\n{child.tail()}"
    last_spot = good.states[-1]
    for ticker, msg in frames.items():
        q = kalshi_quote(msg, ts=last_spot.ts + 1_000)
        pub.publish("markets.quotes", f"KALSHI:{ticker}", q)
    pub.flush()

    def signalled(r: demo.LogReader) -> bool:
        return any(s.event_id == target_id for s in r.of("signals", Signal))

    assert demo.wait_for(reader, signalled, 120, alive=child.alive), f"no signal; counts {reader.counts()}\n{child.tail()}"
    reader.poll(3.0)

    # events.state: the target priced at every spot once the volatility had its samples.
    targets = [s for s in reader.of("events.state", EventState) if s.event_id == target_id]
    assert targets and targets[-1].ts == last_spot.ts and targets[-1].features["strike"] == 72_749.99
    (link,) = [lk for lk in reader.of("markets.links", MarketLink) if lk.market_id == BTC]
    assert (link.event_id, link.yes_role, link.method) == (target_id, "a", "kalshi_ticker")
    assert not [lk for lk in reader.of("markets.links", MarketLink) if lk.market_id in frames and lk.market_id != BTC]

    # The shard's outputs are exactly the pure processor's on the inputs it received, in log order.
    got_probs, got_sigs, want_probs, want_sigs = settled_outputs(child, reader, target_id)
    assert got_probs == want_probs and got_sigs == want_sigs and got_sigs
    assert got_probs[-1].model == "crypto-lognormal" and got_probs[-1].outcomes["a"] < 0.001
    assert got_sigs[0].legs[0].market_id == BTC and got_sigs[0].legs[0].price_micros == 980_000

    # The malformed answer: dead-lettered by the connector with the JSON path at fault.
    dead = [d for d in reader.of("deadletter", DeadLetter) if d.topic == "raw.coingecko" and bad.raw_id in d.error]
    assert dead and "market_chart.prices[0][1]" in dead[0].error
