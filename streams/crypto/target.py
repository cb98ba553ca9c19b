"""A crypto price-target event: what is asked of which price, when, and by which index.

Two venue markets are the same bet only when everything here is equal,
including the resolution rule (which index, how it is averaged): Kalshi's
daily Bitcoin markets settle on the 60-second average of CF Benchmarks' BRTI
before 5 pm ET, Polymarket's Up/Down markets on one Chainlink data-stream
print. The event id is built from every field, so listings that resolve
differently land on different events and are never paired as an arbitrage.

A target travels on `events.state` as an EventState (market_type CRYPTO,
league = the asset symbol) whose `features` carry the numbers; `to_state` and
`from_state` are the only code that reads or writes those keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState


#: `source` of every target EventState (spot states come from "coingecko").
TARGET_SOURCE = "crypto-targets"


class TargetKind(str, Enum):
    ABOVE = "above"  # S_T > strike
    BELOW = "below"  # S_T < strike
    BETWEEN = "between"  # strike <= S_T <= strike_high
    TOUCH = "touch"  # the price reaches strike at any time before T
    UP = "up"  # S_T >= S at window start (the strike is fixed when the window opens)


_KIND_CODE = {k: i for i, k in enumerate(TargetKind, start=1)}
_CODE_KIND = {i: k for k, i in _KIND_CODE.items()}


@dataclass(frozen=True)
class ResolutionRule:
    """Which index settles the market and how it is sampled."""

    index: str  # e.g. "cfbenchmarks:BRTI", "chainlink:btc-usd", "binance:BTCUSDT"
    window_s: int  # averaging window before the resolution time (0 = a single print)

    def key(self) -> str:
        return f"{self.index}/{self.window_s}s"


@dataclass(frozen=True)
class CryptoTarget:
    asset: str  # canonical symbol, lower case: "btc", "eth", "sol", "xrp"
    kind: TargetKind
    expiry_ts: int  # resolution time, epoch ms UTC
    rule: ResolutionRule
    strike: float | None = None  # None only for UP before its window opens
    strike_high: float | None = None  # BETWEEN only
    window_start_ts: int | None = None  # UP only

    def __post_init__(self) -> None:
        if self.kind is TargetKind.BETWEEN and (self.strike is None or self.strike_high is None or not self.strike < self.strike_high):
            raise ValueError(f"a range needs strike < strike_high, got {self.strike}, {self.strike_high}")
        if self.kind is TargetKind.UP and self.window_start_ts is None:
            raise ValueError("an up/down target needs its window start")
        if self.kind not in (TargetKind.UP,) and self.strike is None:
            raise ValueError(f"a {self.kind.value} target needs a strike")

    @property
    def event_id(self) -> str:
        """Stable across venues and replays; the UP strike is not part of it (it is learned later)."""
        when = datetime.fromtimestamp(self.expiry_ts / 1000, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        if self.kind is TargetKind.UP:
            start = datetime.fromtimestamp(self.window_start_ts / 1000, timezone.utc).strftime("%Y%m%dT%H%M%SZ")  # type: ignore[operator]
            what = f"up-from-{start}"
        elif self.kind is TargetKind.BETWEEN:
            what = f"between-{_num(self.strike)}-{_num(self.strike_high)}"
        else:
            what = f"{self.kind.value}-{_num(self.strike)}"
        return f"crypto:{self.asset}:{what}:{when}:{self.rule.key()}"

    @property
    def day(self) -> str:
        return datetime.fromtimestamp(self.expiry_ts / 1000, timezone.utc).date().isoformat()

    def describe(self) -> str:
        """The YES side in words, e.g. "BTC above 72749.99"."""
        a = self.asset.upper()
        if self.kind is TargetKind.BETWEEN:
            return f"{a} between {_num(self.strike)} and {_num(self.strike_high)}"
        if self.kind is TargetKind.UP:
            return f"{a} up" + (f" from {_num(self.strike)}" if self.strike is not None else "")
        return f"{a} {self.kind.value} {_num(self.strike)}"


def _num(x: float | None) -> str:
    return "?" if x is None else f"{x:.10g}"


def to_state(
    target: CryptoTarget, *, spot: float, sigma: float, ts: int, state_id: str, status: EventStatus
) -> EventState:
    """The target priced at `spot`/`sigma` as of `ts` (event time of the spot observation)."""
    features = {
        "kind": float(_KIND_CODE[target.kind]),
        "spot": spot,
        "sigma": sigma,
        "expiry_ts": float(target.expiry_ts),
        "window_s": float(target.rule.window_s),
    }
    if target.strike is not None:
        features["strike"] = target.strike
    if target.strike_high is not None:
        features["strike_high"] = target.strike_high
    if target.window_start_ts is not None:
        features["window_start_ts"] = float(target.window_start_ts)
    return EventState(
        state_id=state_id,
        event_id=target.event_id,
        ts=ts,
        source=TARGET_SOURCE,
        market_type=MarketType.CRYPTO,
        league=target.asset,
        name=f"{target.describe()} at {datetime.fromtimestamp(target.expiry_ts / 1000, timezone.utc).isoformat()} ({target.rule.key()})",
        status=status,
        start_ts=target.expiry_ts,
        entity_a=target.describe(),
        entity_b="not " + target.describe(),
        features=features,
    )


@dataclass(frozen=True)
class PricedTarget:
    """What a model needs from a target state."""

    kind: TargetKind
    spot: float
    sigma: float
    expiry_ts: int
    strike: float | None
    strike_high: float | None
    window_start_ts: int | None
    window_s: int


def from_state(state: EventState) -> PricedTarget:
    """Read a target state's features back; KeyError/ValueError when it is not one."""
    f = state.features
    code = int(f["kind"])
    if code not in _CODE_KIND:
        raise ValueError(f"unknown target kind code {code}")
    return PricedTarget(
        kind=_CODE_KIND[code],
        spot=float(f["spot"]),
        sigma=float(f["sigma"]),
        expiry_ts=int(f["expiry_ts"]),
        strike=f.get("strike"),
        strike_high=f.get("strike_high"),
        window_start_ts=int(f["window_start_ts"]) if "window_start_ts" in f else None,
        window_s=int(f.get("window_s", 0.0)),
    )
