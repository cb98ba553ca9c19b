"""A two-candidate race from its polls: house effects, a recency-weighted average, mean reversion
toward the fundamentals and a spread that grows with the time left. The market's price is not an
input anywhere here (STYLE.md: a model fed the price it is compared with reports a circular edge).

- Margin of a poll: share of candidate a minus share of b, in points.
- House effect of a pollster: how far its (weighted) polls sit from the house-adjusted
  average, shrunk toward zero by `house_prior_polls` average polls' weight so a pollster
  seen once moves little, solved jointly with the average (a prolific tracker's lean goes into its own
  effect, not into the yardstick). Each poll is corrected by its house's effect.
- Average: weights 0.5 ** (age / half-life) * sqrt(min(sample, cap) / cap), likely-voter
  polls preferred by `lv_weight` over the rest.
- Mean reversion: the expected final margin is F + (A - F) exp(-days_left / reversion_days),
  F the fundamentals' margin (a configured prior, 0 = a coin flip), A the adjusted average.
- Spread: sigma^2 = sigma_election_day^2 + drift_per_day * days_left (points^2): polling error
  on the day plus a random walk of opinion until then.
P(a wins) = Phi(mean / sigma). The constants are stated, not fitted: one recorded election
cannot fit them (the 2016 national sample in tests/fixtures/polls/ only exercises them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import ndtr

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Poll:
    pollster: str
    end_ts: int
    pct_a: float
    pct_b: float
    sample_size: float = 0.0
    likely_voters: bool = False

    @property
    def margin(self) -> float:
        return self.pct_a - self.pct_b


@dataclass(frozen=True)
class RaceConfig:
    half_life_days: float = 7.0
    sample_cap: float = 1500.0
    lv_weight: float = 1.5
    house_prior_polls: float = 3.0
    fundamentals_margin: float = 0.0
    reversion_days: float = 150.0
    sigma_election_day: float = 3.5
    drift_per_day: float = 0.08


@dataclass(frozen=True)
class RaceForecast:
    average: float  # house-adjusted polling average, points
    mean: float  # expected final margin
    sigma: float
    p_a: float
    polls: int
    house: dict[str, float]


def _weights(polls: Sequence[Poll], now_ts: int, cfg: RaceConfig) -> np.ndarray:
    age = np.array([max(0, now_ts - p.end_ts) / DAY_MS for p in polls])
    size = np.array([min(p.sample_size, cfg.sample_cap) if p.sample_size > 0 else cfg.sample_cap / 4 for p in polls])
    lv = np.array([cfg.lv_weight if p.likely_voters else 1.0 for p in polls])
    return 0.5 ** (age / cfg.half_life_days) * np.sqrt(size / cfg.sample_cap) * lv


def house_effects(polls: Sequence[Poll], weights: np.ndarray, cfg: RaceConfig, rounds: int = 200) -> dict[str, float]:
    """Each pollster's shrunk mean distance from the house-adjusted average, solved jointly.

    h_p = sum over p's polls of w (margin - A) / (W_p + prior * mean w) and A = the weighted
    average of margin - h, iterated to their fixed point: a prolific pollster's lean goes into
    its own h instead of the yardstick the others are measured against (in effect each
    pollster's weight in A saturates at `house_prior_polls` average polls).
    """
    margins = np.array([p.margin for p in polls])
    houses = [p.pollster for p in polls]
    names = sorted(set(houses))
    index = np.array([names.index(h) for h in houses])
    mass = np.bincount(index, weights=weights, minlength=len(names))
    prior = cfg.house_prior_polls * float(np.mean(weights))
    h = np.zeros(len(names))
    for _ in range(rounds):
        average = float(np.sum(weights * (margins - h[index])) / np.sum(weights))
        new = np.bincount(index, weights=weights * (margins - average), minlength=len(names)) / (mass + prior)
        if np.max(np.abs(new - h)) < 1e-10:
            h = new
            break
        h = new
    return {n: float(v) for n, v in zip(names, h)}


def forecast(polls: Sequence[Poll], now_ts: int, election_ts: int, cfg: RaceConfig = RaceConfig()) -> RaceForecast:
    """The race as of `now_ts` from the polls that ended by then (later ones are not known yet)."""
    known = [p for p in polls if p.end_ts <= now_ts]
    if not known:
        raise ValueError("no poll has ended by the forecast time")
    w = _weights(known, now_ts, cfg)
    house = house_effects(known, w, cfg)
    adjusted = np.array([p.margin - house[p.pollster] for p in known])
    average = float(np.sum(w * adjusted) / np.sum(w))
    days_left = max(0.0, (election_ts - now_ts) / DAY_MS)
    mean = cfg.fundamentals_margin + (average - cfg.fundamentals_margin) * math.exp(-days_left / cfg.reversion_days)
    sigma = math.sqrt(cfg.sigma_election_day**2 + cfg.drift_per_day * days_left)
    return RaceForecast(average, mean, sigma, float(ndtr(mean / sigma)), len(known), house)
