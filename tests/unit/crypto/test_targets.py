"""Targets processor, then the whole crypto path in process: recorded CoinGecko chart -> spot states ->
price-target states -> discovery links for the recorded Kalshi tickers -> shard probability and signal.

The chart (BTC, October 2023) and the Kalshi frames (February 2026) are from different years; the
chart's timestamps are shifted so it ends a minute before the frames. Prices are left as recorded,
so BTC sits near $27k against a $72,749.99 strike: the model's NO is near-certain while the book
asks 0.98 for it. That proves the mechanics end to end, not a real mispricing.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.coingecko.pipeline import CoinGeckoPipeline
from schemas.enums import EventStatus, MarketType, Side, SignalKind
from schemas.records import EventState, MarketLink, ShardInput, Signal, Probability
from streams.topology import stage
from streams import router
from streams.crypto.parse import parse_listing
from streams.crypto.targets import AssetState, TargetsConfig, TargetsProcessor
from streams.discovery import DiscoveryProcessor, DiscoveryState
from streams.shard.config import ShardConfig
from streams.shard.processor import ShardProcessor
from streams.shard.state import ShardState

from tests.unit.coingecko.test_connector import Sink, chart_raw
from tests.unit.crypto.venues import KALSHI_FRAME_TS, kalshi_frames, kalshi_listing, kalshi_quote, polymarket_listings


def spots(end_ts: int = KALSHI_FRAME_TS - 60_000) -> list[EventState]:
    sink = Sink()
    states = list(CoinGeckoPipeline(sink).on_raw(chart_raw()).states)
    shift = end_ts - states[-1].ts
    return [replace(s, ts=s.ts + shift, state_id=f"{s.state_id}+{shift}") for s in states]


def test_targets_from_listings_and_spots() -> None:
    proc = TargetsProcessor()
    k = kalshi_listing("KXBTCD-26FEB1217-T72749.99")
    st = proc.initial("btc")
    st, out = proc.step(st, k)
    assert out == []  # no spot yet
    emitted = []
    for s in spots():
        st, out = proc.step(st, s)
        emitted += out
    # One state per spot once the volatility has its minimum sample count.
    assert len(emitted) == 169 - TargetsConfig().min_samples + 1
    last = emitted[-1]
    assert last.event_id == parse_listing(k).event_id and last.status is EventStatus.LIVE
    assert last.features["strike"] == 72_749.99 and 0.05 < last.features["sigma"] < 2.0
    # Replaying a spot changes nothing; the state survives its table encoding.
    again, out = proc.step(st, spots()[-1])
    assert out == [] and again == st
    assert (codec := stage("crypto-targets").tables[0].codec).decode(codec.encode(st)) == st
    # At the resolution time the target is emitted FINAL, then forgotten.
    final_spot = replace(spots()[-1], ts=last.features["expiry_ts"], state_id="final")
    st, out = proc.step(st, final_spot)
    assert [o.status for o in out] == [EventStatus.FINAL] and st.targets == {}


def test_up_down_learns_its_opening_price() -> None:
    pm = next(x for x in polymarket_listings() if x.title == "Bitcoin Up or Down - January 5, 2:15PM-2:20PM ET")
    start = parse_listing(pm).window_start_ts
    proc = TargetsProcessor()
    st, _ = proc.step(proc.initial("btc"), pm)
    outs = []
    for s in spots(end_ts=start + 60_000):
        st, out = proc.step(st, s)
        outs += out
    before = [o for o in outs if o.ts < start]
    after = [o for o in outs if o.ts >= start]
    assert "strike" not in before[-1].features
    assert after[0].features["strike"] == after[0].features["spot"]  # the first spot inside the window


def test_state_of_another_asset_or_source_is_refused() -> None:
    proc = TargetsProcessor()
    s = spots()[0]
    with pytest.raises(ValueError):
        proc.step(proc.initial("eth"), s)
    assert proc.state_key(replace(s, source="crypto-targets")) is None
    assert proc.state_key(kalshi_listing("KXETHMINMON-ETH-26FEB28-175000")) is None


def test_recorded_chart_to_links_probabilities_and_signals() -> None:
    proc, disc = TargetsProcessor(), DiscoveryProcessor()
    frames = {m["market_ticker"]: m for m in kalshi_frames()}
    listings = [kalshi_listing(t) for t in frames]
    t_states: dict[str, AssetState] = {}
    d_state, links, alerts = DiscoveryState(), [], []
    targets_out: list[EventState] = []

    def targets(record: object) -> None:
        key = proc.state_key(record)  # type: ignore[arg-type]
        if key is None:
            return
        st, out = proc.step(t_states.get(key) or proc.initial(key), record)  # type: ignore[arg-type]
        t_states[key] = st
        targets_out.extend(out)

    def discover(record: object) -> None:
        nonlocal d_state
        d_state, out = disc.step(d_state, record)  # type: ignore[arg-type]
        links.extend(o for o in out if isinstance(o, MarketLink))
        alerts.extend(o for o in out if not isinstance(o, MarketLink))

    for lst in listings:
        targets(lst)
        discover(lst)
    for s in spots():
        targets(s)
        discover(s)
    for t in list(targets_out):
        discover(t)
    assert [lk.market_id for lk in links] == ["KXBTCD-26FEB1217-T72749.99"]  # ETH/SOL have no spot feed here
    assert any("KXETHMINMON" in a.message for a in alerts)  # refused with its reason, not silently
    link = links[0]
    listing = next(x for x in listings if x.market_id == link.market_id)

    routes, inputs = {}, []
    latest = [t for t in targets_out if t.event_id == link.event_id][-1]
    inputs.append(router.route_state(latest)[1])
    for rec in (listing, link, kalshi_quote(frames[link.market_id], ts=latest.ts + 1_000)):
        key = f"{rec.venue.value}:{rec.market_id}"
        routes[key], out = router.step(routes.get(key, router.MarketRoute()), rec)
        inputs += [v for _, v in out]
    shard = ShardProcessor(ShardConfig(min_edge=0.01))
    st, outputs = ShardState(link.event_id), []
    for rec in inputs:
        st, out = shard.step(st, rec)
        outputs += out
    probs = [o for o in outputs if isinstance(o, Probability)]
    sigs = [o for o in outputs if isinstance(o, Signal)]
    assert probs and probs[0].outcomes["a"] < 0.001 and probs[0].model == "crypto-lognormal"
    assert len(sigs) == 1 and sigs[0].kind is SignalKind.MODEL_EDGE
    leg = sigs[0].legs[0]
    assert (leg.side, leg.price_micros, leg.size) == (Side.NO, 980_000, 2.0)  # NO at 1 - the recorded 0.02 bid
    # With the shipped 15% threshold the same book gives no signal.
    st2, outs2 = ShardState(link.event_id), []
    for rec in inputs:
        st2, out = ShardProcessor(ShardConfig()).step(st2, rec)
        outs2 += out
    assert not any(isinstance(o, Signal) for o in outs2)
    assert all(isinstance(r, ShardInput) for r in inputs) and MarketType.CRYPTO is latest.market_type
    # The quote overtakes the latest state (the router's state and quote stages are two agents): it meets the
    # previous hour's state, stale, and the latest state, whose probability has not moved, prices it.
    before = [t for t in targets_out if t.event_id == link.event_id][-2]
    overtaken = [router.route_state(before)[1], *inputs[1:], inputs[0]]
    st3, outs3 = ShardState(link.event_id), []
    for rec in overtaken:
        st3, out = shard.step(st3, rec)
        outs3 += out
    assert [o.legs[0].price_micros for o in outs3 if isinstance(o, Signal)] == [980_000]
