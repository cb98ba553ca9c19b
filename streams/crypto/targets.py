"""Price-target events from venue listings and spot prices: `step(state, record) -> (state, outputs)`, pure.

One state per asset. A crypto listing adds the target it asks about (parsed by
`streams.crypto.parse`; equal targets from several venues are one event). A
spot EventState from the CoinGecko connector (source "coingecko", quoted in
USD) updates the asset's EWMA volatility and re-emits every open target as an
EventState carrying spot and sigma, stamped with the spot's event time, which
is what the shard prices. An Up/Down target learns its opening price from the
first spot observed at or after its window opens (CoinGecko as a proxy for the
venue's index: the basis between them is a known, accepted error). A target is
emitted FINAL once a spot at or after its resolution time arrives, then dropped.

Nothing here reads the clock: the same records replayed give the same states.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Union

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState, MarketListing
from streams.crypto.parse import NotATarget, parse_listing
from streams.crypto.target import CryptoTarget, TargetKind, to_state
from streams.probability.lognormal import EwmaVolatility

SPOT_SOURCE = "coingecko"
_HOUR_MS = 3_600_000

Record = Union[MarketListing, EventState]


@dataclass(frozen=True)
class TargetsConfig:
    #: Half-life of the EWMA volatility, event time (bench/models_macro.py reports the held-out fit).
    vol_half_life_ms: int = 7 * 24 * _HOUR_MS
    #: Prices seen before a volatility is trusted (a week of hourly history is 168).
    min_samples: int = 24


@dataclass(frozen=True)
class AssetState:
    asset: str
    vol: EwmaVolatility
    spot: float = 0.0
    spot_ts: int = 0
    targets: dict[str, CryptoTarget] = field(default_factory=dict)


def is_spot(state: EventState) -> bool:
    return state.market_type is MarketType.CRYPTO and state.source == SPOT_SOURCE and state.entity_b == "USD" and "price" in state.features


class TargetsProcessor:
    def __init__(self, config: TargetsConfig | None = None) -> None:
        self.config = config or TargetsConfig()

    def state_key(self, record: Record) -> str | None:
        """The asset a record concerns, or None when this processor has no use for it."""
        if isinstance(record, EventState):
            return record.league if is_spot(record) else None
        if record.market_type is not MarketType.CRYPTO:
            return None
        try:
            return parse_listing(record).asset
        except NotATarget:
            return None  # discovery reports unpriceable listings (one alert each)

    def initial(self, asset: str) -> AssetState:
        return AssetState(asset, EwmaVolatility(float(self.config.vol_half_life_ms)))

    def step(self, state: AssetState, record: Record) -> tuple[AssetState, list[EventState]]:
        if isinstance(record, EventState):
            if not is_spot(record) or record.league != state.asset:
                raise ValueError(f"{record.event_id} is not a USD spot state of {state.asset}")
            return self._on_spot(state, record)
        target = parse_listing(record)
        if target.asset != state.asset:
            raise ValueError(f"{record.listing_id} is about {target.asset}, not {state.asset}")
        if target.event_id in state.targets or (state.spot_ts and target.expiry_ts < state.spot_ts):
            return state, []  # known already, or resolved before anything we can price
        target = self._opened(target, state)
        new = replace(state, targets={**state.targets, target.event_id: target})
        return new, [s for s in (self._emit(new, target),) if s is not None]

    def _opened(self, target: CryptoTarget, state: AssetState) -> CryptoTarget:
        """An Up/Down target whose window opened at or before the current spot takes that spot as its strike."""
        if target.kind is TargetKind.UP and target.strike is None and state.spot_ts and state.spot_ts >= target.window_start_ts:  # type: ignore[operator]
            return replace(target, strike=state.spot)
        return target

    def _on_spot(self, state: AssetState, spot: EventState) -> tuple[AssetState, list[EventState]]:
        price = float(spot.features["price"])
        if spot.ts <= state.spot_ts:
            return state, []  # replayed or out-of-order: the newer spot stands
        state = replace(state, vol=state.vol.update(spot.ts, price), spot=price, spot_ts=spot.ts)
        targets = {k: self._opened(t, state) for k, t in state.targets.items()}
        outputs = []
        keep = {}
        for eid, t in sorted(targets.items()):
            out = self._emit(replace(state, targets=targets), t)
            if out is not None:
                outputs.append(out)
            if spot.ts < t.expiry_ts:
                keep[eid] = t
        return replace(state, targets=keep), outputs

    def _emit(self, state: AssetState, target: CryptoTarget) -> EventState | None:
        if not state.spot_ts or state.vol.samples < self.config.min_samples:
            return None
        status = EventStatus.FINAL if state.spot_ts >= target.expiry_ts else EventStatus.LIVE
        return to_state(
            target,
            spot=state.spot,
            sigma=state.vol.sigma,
            ts=state.spot_ts,
            state_id=f"{target.event_id}@{state.spot_ts}",
            status=status,
        )
