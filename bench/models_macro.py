"""Crypto and economics model benchmarks (part of `make bench-models`), held-out data only.

Crypto (`models.crypto.*`): "BTC above K at T" for T = 1 hour (hourly closes of the
January 2022 BTC perpetual), 1 day and 7 days (Coinbase daily closes 2019-2024,
FRED CBBTCUSD), strikes at fixed log-moneyness around spot, K = S exp(m 0.7 sqrt(T)),
m in {-1.5, -1, -0.5, 0, 0.5, 1, 1.5} (0.7: BTC's long-run annual volatility; the grid
is the same for every forecaster). The first 60% of each series is the training part:
it picks the EWMA half-life (streams.probability.lognormal) from a grid and fits the
fixed-volatility anchor; every figure is scored on the last 40% only, with each
forecast using prices up to its own time. Anchors in the same run: 50/50 (a coin flip
at every strike) and the same digital with the training part's fixed volatility.

Economics (`models.economics.*`): CPI-U month-over-month % (published to 0.1) and the
unemployment rate (to 0.1), thresholds "published >= X" at the last print and +-0.1,
+-0.2. Forecasts are made from the previous release: the AR(1) with its empirical
forecast errors of streams.probability.economics, fitted on the 120 months before (CPI
m/m on itself, the unemployment rate on its monthly change). Held out: 2010-01 onward. Anchors: no change
(the last print as a certainty) and a random walk (the last print plus a normal
change with the sd of the same window's monthly changes). FRED's latest vintage, not
first prints (data/PROVENANCE.md).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from streams.probability.economics import NormalForecast, at_least_level
from streams.probability.lognormal import YEAR_MS, EwmaVolatility, p_above_batch

#: The recorded series, copied from shared/data with their provenance (bench/data/PROVENANCE.md).
DATA = Path(__file__).resolve().parent / "data"
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
MONEYNESS = np.array([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
HALF_LIVES_DAYS = (1.0, 3.0, 7.0, 14.0, 30.0, 60.0)
TRAIN_FRAC = 0.6
EPS = 1e-6


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def logloss(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


# ------------------------------------------------------------------- crypto


def _ms(text: str, fmt: str) -> int:
    return int(datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp() * 1000)


def btc_daily() -> tuple[np.ndarray, np.ndarray]:
    ts, px = [], []
    with (DATA / "crypto" / "btc_usd_daily_coinbase_fred_CBBTCUSD_2019-02-09_2024-02-09.csv").open() as f:
        for row in csv.DictReader(f):
            if row["cbbtcusd_close"]:
                ts.append(_ms(row["date"], "%Y-%m-%d"))
                px.append(float(row["cbbtcusd_close"]))
    return np.array(ts, np.int64), np.array(px)


def btc_hourly() -> tuple[np.ndarray, np.ndarray]:
    ts, px = [], []
    with (DATA / "crypto" / "btc_perp_1h_close_2022-01.csv").open() as f:
        for row in csv.DictReader(f):
            ts.append(_ms(row["hour_utc"], "%Y-%m-%dT%H:%MZ"))
            px.append(float(row["close_last_1m_bar"]))
    return np.array(ts, np.int64), np.array(px)


def ewma_sigmas(ts: np.ndarray, px: np.ndarray, half_life_ms: float) -> np.ndarray:
    """sigma known at each time from prices up to and including it (nan until two prices)."""
    vol, out = EwmaVolatility(half_life_ms), np.full(len(ts), np.nan)
    for i, (t, p) in enumerate(zip(ts.tolist(), px.tolist())):
        vol = vol.update(t, p)
        if vol.samples >= 2:
            out[i] = vol.sigma
    return out


@dataclass(frozen=True)
class Digitals:
    spot: np.ndarray  # per row (forecast time x strike)
    strike: np.ndarray
    outcome: np.ndarray
    start: np.ndarray  # forecast time index per row


def digitals(ts: np.ndarray, px: np.ndarray, horizon_ms: int, warmup: int, rows: range) -> Digitals:
    """Every forecast time in `rows` whose horizon lands on a sample, at every strike of the grid."""
    where = {t: i for i, t in enumerate(ts.tolist())}
    t_years = horizon_ms / YEAR_MS
    idx, end = [], []
    for i in rows:
        j = where.get(int(ts[i]) + horizon_ms)
        if i >= warmup and j is not None:
            idx.append(i)
            end.append(j)
    i_arr, j_arr = np.array(idx), np.array(end)
    spot = np.repeat(px[i_arr], len(MONEYNESS))
    strike = spot * np.exp(np.tile(MONEYNESS, len(i_arr)) * 0.7 * math.sqrt(t_years))
    outcome = (np.repeat(px[j_arr], len(MONEYNESS)) > strike).astype(np.float64)
    return Digitals(spot, strike, outcome, np.repeat(i_arr, len(MONEYNESS)))


def crypto_horizon(name: str, ts: np.ndarray, px: np.ndarray, horizon_ms: int, warmup: int) -> dict[str, float | int]:
    n_train = int(len(ts) * TRAIN_FRAC)
    train = digitals(ts, px, horizon_ms, warmup, range(0, n_train))
    test = digitals(ts, px, horizon_ms, warmup, range(n_train, len(ts)))
    t_years = horizon_ms / YEAR_MS
    best: tuple[float, float, np.ndarray] | None = None
    for hl in HALF_LIVES_DAYS:
        sig = ewma_sigmas(ts, px, hl * DAY_MS)
        b = brier(p_above_batch(train.spot, train.strike, sig[train.start], t_years), train.outcome)
        if best is None or b < best[0]:
            best = (b, hl, sig)
    assert best is not None
    _, half_life, sig = best
    r = np.diff(np.log(px[: n_train]))
    dt = np.diff(ts[: n_train]) / YEAR_MS
    fixed = math.sqrt(float(np.sum(r * r) / np.sum(dt)))
    ours = p_above_batch(test.spot, test.strike, sig[test.start], t_years)
    flat = p_above_batch(test.spot, test.strike, np.full(len(test.spot), fixed), t_years)
    coin = np.full(len(test.spot), 0.5)
    y = test.outcome
    return {
        f"models.crypto.{name}.brier": brier(ours, y),
        f"models.crypto.{name}.logloss": logloss(ours, y),
        f"models.crypto.{name}.coin_brier": brier(coin, y),
        f"models.crypto.{name}.fixed_vol_brier": brier(flat, y),
        f"models.crypto.{name}.fixed_vol_logloss": logloss(flat, y),
        f"models.crypto.{name}.fixed_sigma": fixed,
        f"models.crypto.{name}.half_life_days": half_life,
        f"models.crypto.{name}.forecasts": int(len(y)),
    }


# ---------------------------------------------------------------- economics


def fred(series: str) -> tuple[list[str], np.ndarray]:
    dates, values = [], []
    with (DATA / "fred" / f"{series}.csv").open() as f:
        for row in csv.DictReader(f):
            dates.append(row["date"])
            values.append(float(row["value"]) if row["value"] else np.nan)
    return dates, np.array(values)


def _published(x: float) -> float:
    """Round half up to 0.1, as both series are published."""
    return math.floor(x * 10 + 0.5 + 1e-9) / 10


@dataclass(frozen=True)
class Indicator:
    name: str
    dates: list[str]
    level: np.ndarray  # what the AR(1) is fitted on
    published: np.ndarray  # the settled figure, on the 0.1 grid
    as_change: bool  # the AR(1) models the month's change and the figure is the level


def cpi_mom() -> Indicator:
    dates, idx = fred("CPIAUCSL")
    mom = np.r_[np.nan, 100 * (idx[1:] / idx[:-1] - 1)]
    return Indicator("cpi_mom", dates, mom, np.array([_published(x) if x == x else np.nan for x in mom]), False)


def unrate() -> Indicator:
    dates, u = fred("UNRATE")
    return Indicator("unrate", dates, u, u, True)


def econ_forecasts(ind: Indicator, held_out_from: str = "2010-01-01", window: int = 120) -> dict[str, float | int]:
    ps: dict[str, list[float]] = {"ours": [], "no_change": [], "random_walk": []}
    ys: list[float] = []
    for t in range(1, len(ind.dates) - 1):
        if ind.dates[t + 1] < held_out_from:
            continue
        last, nxt = ind.published[t], ind.published[t + 1]
        if last != last or nxt != nxt:
            continue  # a missing print (October 2025): nothing to forecast from or settle on
        hist = ind.level[: t + 1]
        hist = hist[~np.isnan(hist)]
        changes = np.diff(hist)[-window:]
        walk = NormalForecast(hist[-1], float(np.std(changes, ddof=1)))
        for dx in (-0.2, -0.1, 0.0, 0.1, 0.2):
            x = round(last + dx, 1)
            ps["ours"].append(at_least_level(hist, x, 0.1, on_changes=ind.as_change, window=window))
            ps["random_walk"].append(walk.p_at_least(x, 0.1))
            ps["no_change"].append(1.0 if last >= x - 1e-9 else 0.0)
            ys.append(1.0 if nxt >= x - 1e-9 else 0.0)
    y = np.array(ys)
    out: dict[str, float | int] = {f"models.economics.{ind.name}.forecasts": len(ys)}
    for key, p in ps.items():
        prefix = f"models.economics.{ind.name}" + ("" if key == "ours" else f".{key}")
        out[f"{prefix}.brier"] = brier(np.array(p), y)
    return out


# ---------------------------------------------------------------------- run


def run(console: Console) -> dict[str, float | int | str]:
    figures: dict[str, float | int | str] = {}
    hts, hpx = btc_hourly()
    dts, dpx = btc_daily()
    figures.update(crypto_horizon("1h", hts, hpx, HOUR_MS, warmup=24))
    figures.update(crypto_horizon("1d", dts, dpx, DAY_MS, warmup=30))
    figures.update(crypto_horizon("7d", dts, dpx, 7 * DAY_MS, warmup=30))
    for h in ("1h", "1d", "7d"):
        figures[f"models.crypto.brier.{h}"] = figures[f"models.crypto.{h}.brier"]
    figures["models.crypto.brier"] = float(np.mean([figures[f"models.crypto.{h}.brier"] for h in ("1h", "1d", "7d")]))
    for ind in (cpi_mom(), unrate()):
        figures.update(econ_forecasts(ind))
    figures["models.economics.brier"] = float(
        np.mean([figures["models.economics.cpi_mom.brier"], figures["models.economics.unrate.brier"]])
    )

    table = Table(title="crypto 'above K at T' and economics '>= X', held-out Brier (lower is better)")
    for col in ("market", "forecasts", "ours", "anchor 1", "anchor 2", "fit"):
        table.add_column(col)
    for h in ("1h", "1d", "7d"):
        k = f"models.crypto.{h}"
        table.add_row(
            f"BTC above K, {h}", str(figures[f"{k}.forecasts"]), f"{figures[f'{k}.brier']:.4f}",
            f"50/50 {figures[f'{k}.coin_brier']:.4f}", f"fixed vol {figures[f'{k}.fixed_vol_brier']:.4f}",
            f"half-life {figures[f'{k}.half_life_days']:g} d, fixed sigma {figures[f'{k}.fixed_sigma']:.2f}",
        )
    for name, label in (("cpi_mom", "CPI m/m >= X"), ("unrate", "unemployment >= X")):
        k = f"models.economics.{name}"
        table.add_row(
            label, str(figures[f"{k}.forecasts"]), f"{figures[f'{k}.brier']:.4f}",
            f"no change {figures[f'{k}.no_change.brier']:.4f}", f"random walk {figures[f'{k}.random_walk.brier']:.4f}",
            "AR(1) + its errors, 120 months",
        )
    console.print(table)
    return figures
