"""Fit NHL regulation goal rates; write streams/probability/params/poisson_params.json.

Data: ../shared/data/sports_pregame/nhl_moneyline_results.csv (final scores incl.
overtime and the shootout's +1). Seasons NHL_2021..NHL_2024 (2020-21 on, today's
scoring level), regular season only (playoff overtime is untimed 5-on-5, a
different game). A final score counts one extra goal for the overtime/shootout
winner, so the regulation rates solve

    mean_final_home = lam_h + P(tie after 60 min) * q,   q = lam_h / (lam_h + lam_a)
    mean_final_away = lam_a + P(tie after 60 min) * (1 - q)

Soccer (MLS, EPL) has no data set in ../shared/data; its rates are league
averages cited in the file's `source` field, not fitted here.

Run: .venv/bin/python -m ops.models.fit_poisson [path/to/nhl.csv]
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import fsolve
from scipy.stats import skellam

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sports_pregame" / "nhl_moneyline_results.csv"
OUT = Path(__file__).resolve().parents[2] / "streams" / "probability" / "params" / "poisson_params.json"
SEASONS = {"NHL_2021", "NHL_2022", "NHL_2023", "NHL_2024"}

SOCCER = {
    "epl": {
        "sport": "soccer",
        "home_rate": 1.53,
        "away_rate": 1.21,
        "periods": 2,
        "period_seconds": 2700.0,
        "source": (
            "cited, not fitted: Premier League goals per match 2010-11..2018-19, home 1.53 / "
            "away 1.21 (football-data.co.uk season files E0.csv, FTHG/FTAG averages)"
        ),
    },
    "mls": {
        "sport": "soccer",
        "home_rate": 1.66,
        "away_rate": 1.19,
        "periods": 2,
        "period_seconds": 2700.0,
        "source": (
            "cited, not fitted: MLS regular-season goals per match 2015-2019, home 1.66 / "
            "away 1.19 (league averages; MLS has one of the largest home edges)"
        ),
    },
}


def fit_nhl(path: Path) -> dict[str, object]:
    home, away, home_win = [], [], []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if row["season_label"] in SEASONS and row["game_type"] == "regular_season":
                home.append(int(row["home_score"]))
                away.append(int(row["away_score"]))
                home_win.append(int(row["home_win"]))
    h, a = np.array(home, float), np.array(away, float)
    m_h, m_a = h.mean(), a.mean()

    def equations(x: np.ndarray) -> list[float]:
        lam_h, lam_a = x
        p_tie = float(skellam.pmf(0, lam_h, lam_a))
        q = lam_h / (lam_h + lam_a)
        return [lam_h + p_tie * q - m_h, lam_a + p_tie * (1 - q) - m_a]

    lam_h, lam_a = fsolve(equations, x0=[m_h, m_a])
    p_tie = float(skellam.pmf(0, lam_h, lam_a))
    q = lam_h / (lam_h + lam_a)
    model_home_win = float(skellam.sf(0, lam_h, lam_a) + p_tie * q)
    print(f"NHL games {len(h)}: mean final goals home {m_h:.3f} away {m_a:.3f}")
    print(f"regulation rates home {lam_h:.4f} away {lam_a:.4f}; P(tie after 60) {p_tie:.3f}")
    print(f"home win rate observed {np.mean(home_win):.4f}, model at s=0 {model_home_win:.4f}")
    return {
        "sport": "hockey",
        "home_rate": round(float(lam_h), 4),
        "away_rate": round(float(lam_a), 4),
        "periods": 3,
        "period_seconds": 1200.0,
        "source": (
            f"fitted by ops/models/fit_poisson.py on {len(h)} NHL regular-season games "
            f"2020-21..2023-24 (shared/data/sports_pregame/nhl_moneyline_results.csv): final-score means "
            f"home {m_h:.3f} / away {m_a:.3f} with the overtime/shootout goal removed; "
            f"observed home win rate {np.mean(home_win):.4f}, model {model_home_win:.4f}"
        ),
    }


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else DATA
    leagues = {"nhl": fit_nhl(path), **SOCCER}
    OUT.write_text(json.dumps({"leagues": leagues}, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
