"""Final-margin statistics of pregame data: the fits every sports prior starts from.

Regressing the final home margin on probit(market home probability) gives two
numbers per league: the slope (how many points of expected margin one probit
unit of market belief is worth, i.e. the market-implied spread) and the
residual standard deviation (how far games land from that expectation). The
in-game normal models use the residual SD as the full-game sigma and the slope
to turn a pregame probability into an expected margin.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import ndtri

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
PREGAME_DIR = DATA_DIR / "sports_pregame"


@dataclass(frozen=True)
class PregameGames:
    """Games with a devigged market home probability and the final result."""

    league: str
    p_home: np.ndarray  # market (devigged) home win probability
    margin: np.ndarray  # final home score minus away score
    home_win: np.ndarray  # 1/0
    total: np.ndarray  # final combined score
    ml_home: np.ndarray  # average American moneylines the devigged probability was made from
    ml_away: np.ndarray


@dataclass(frozen=True)
class MarginFit:
    """Linear fit margin = intercept + slope * probit(p_home) + residual."""

    league: str
    games: int
    intercept: float
    slope: float
    sigma: float  # residual SD of the final margin
    home_edge: float  # mean final home margin
    mean_total: float

    def expected_margin(self, p_home: np.ndarray) -> np.ndarray:
        """Market-implied expected home margin (minus the market-derived spread)."""
        return self.slope * ndtri(np.clip(p_home, 1e-6, 1 - 1e-6))


def load_pregame(league: str, path: Path | None = None) -> PregameGames:
    """Read data/sports_pregame/<league>_moneyline_results.csv."""
    src = path or PREGAME_DIR / f"{league}_moneyline_results.csv"
    with src.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    home = np.array([float(r["home_score"]) for r in rows])
    away = np.array([float(r["away_score"]) for r in rows])
    return PregameGames(
        league=league,
        p_home=np.array([float(r["p_home_devig"]) for r in rows]),
        margin=home - away,
        home_win=np.array([int(r["home_win"]) for r in rows], dtype=float),
        total=home + away,
        ml_home=np.array([float(r["ml_home_avg"]) for r in rows]),
        ml_away=np.array([float(r["ml_away_avg"]) for r in rows]),
    )


def fit_margin(games: PregameGames) -> MarginFit:
    """Least-squares fit of the final margin on probit(p_home)."""
    z = ndtri(np.clip(games.p_home, 1e-6, 1 - 1e-6))
    design = np.column_stack([np.ones_like(z), z])
    coef, *_ = np.linalg.lstsq(design, games.margin, rcond=None)
    resid = games.margin - design @ coef
    return MarginFit(
        league=games.league,
        games=int(len(z)),
        intercept=float(coef[0]),
        slope=float(coef[1]),
        sigma=float(np.std(resid, ddof=2)),
        home_edge=float(np.mean(games.margin)),
        mean_total=float(np.mean(games.total)),
    )
