"""Fit the baseball half-inning chain; write streams/probability/params/baseball_params.json.

Data: ../shared/data/sports_pregame/mlb_moneyline_results.csv (38,546 MLB games
2006-2023, final runs and de-vigged moneylines).

Fitted here:
- offense_scale: multiplies the per-PA on-base rates so the chain's expected
  away runs per game (9 halves plus extra innings) equals the observed mean of
  away runs (the away side always bats its full nine);
- home_win_rate: observed home win share, the prior when no market price exists.

Cited, not fitted (no play-by-play in ../shared/data): MLB per-PA event rates
and runner-advance shares (league totals 2010-2019, Baseball-Reference league
batting pages: BB+HBP ~9.3%, 1B ~15.2%, 2B ~4.6%, 3B ~0.5%, HR ~2.9% of PA;
advance shares from Retrosheet-based summaries). The reference RE24 table is the
empirical Retrosheet matrix published in "Run Expectancy and Markov Chains"
(Sobchak, 2011); the fit prints the chain's RE24 beside it.

Run: .venv/bin/python -m ops.models.fit_baseball [path/to/mlb.csv]
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from streams.probability import baseball
from streams.probability.baseball import PAParams, half_inning_runs

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sports_pregame" / "mlb_moneyline_results.csv"
OUT = baseball.PARAMS_FILE

BASE = PAParams(
    walk=0.093,
    single=0.152,
    double=0.046,
    triple=0.005,
    homer=0.029,
    offense_scale=1.0,
    single_2nd_scores=0.60,
    single_1st_to_3rd=0.28,
    double_1st_scores=0.40,
    out_3rd_scores=0.33,
    out_2nd_to_3rd=0.25,
    double_play=0.13,
    home_win_rate=0.5,
    scheduled_innings=9,
)

#: Empirical RE24 (Retrosheet), rows = bases (empty, 1__, _2_, __3, 12_, 1_3, _23, 123), cols = outs.
RE24_REFERENCE = {
    "source": "Sobchak, 'Run Expectancy and Markov Chains' (2011), empirical Retrosheet run expectancy matrix",
    "bases_order": ["___", "1__", "_2_", "__3", "12_", "1_3", "_23", "123"],
    "table": [
        [0.539, 0.289, 0.111],
        [0.929, 0.555, 0.240],
        [1.172, 0.714, 0.342],
        [1.444, 0.984, 0.373],
        [1.542, 0.948, 0.464],
        [1.844, 1.204, 0.512],
        [2.047, 1.438, 0.604],
        [2.381, 1.620, 0.798],
    ],
}
#: Bitmask (bit0 first, bit1 second, bit2 third) of each reference row.
REFERENCE_MASKS = [0, 1, 2, 4, 3, 5, 6, 7]


def away_runs_mean(prm: PAParams) -> tuple[float, float]:
    """Expected away runs per game and the variance over nine halves, at equal strength."""
    dist = half_inning_runs(prm, 1.0)[0]
    runs = np.arange(dist.size)
    mean, var = float(dist @ runs), float(dist @ runs**2 - (dist @ runs) ** 2)
    nine = np.array([1.0])
    for _ in range(9):
        nine = np.convolve(nine, dist)
    p_tie = float(np.sum(nine**2))
    tie_inning = float(np.sum(dist**2))
    extra_innings = p_tie / (1.0 - tie_inning)  # expected extra innings batted by the away side
    return mean * (9 + extra_innings), var * 9


def fit(path: Path) -> PAParams:
    home, away, home_win = [], [], []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            home.append(int(row["home_score"]))
            away.append(int(row["away_score"]))
            home_win.append(int(row["home_win"]))
    a = np.array(away, float)
    target = float(a.mean())
    scale = brentq(lambda x: away_runs_mean(replace(BASE, offense_scale=x))[0] - target, 0.6, 1.6)
    prm = replace(BASE, offense_scale=round(float(scale), 5), home_win_rate=round(float(np.mean(home_win)), 4))
    mean, var = away_runs_mean(prm)
    print(f"MLB games {len(a)}: away runs mean {target:.3f} var {a.var():.2f}; home win {np.mean(home_win):.4f}")
    print(f"offense_scale {prm.offense_scale}: model away mean {mean:.3f}, var over 9 innings {var:.2f}")
    re = baseball.run_expectancy(prm)
    ref = np.array(RE24_REFERENCE["table"])
    print("RE24 model vs reference (outs 0/1/2):")
    for name, mask, ref_row in zip(RE24_REFERENCE["bases_order"], REFERENCE_MASKS, ref):
        model_row = [re[o * 8 + mask] for o in range(3)]
        print(f"  {name}: " + "  ".join(f"{m:.3f}/{r:.3f}" for m, r in zip(model_row, ref_row)))
    return prm


def main(argv: list[str]) -> None:
    prm = fit(Path(argv[0]) if argv else DATA)
    body = {
        **asdict(prm),
        "source": (
            "offense_scale and home_win_rate fitted by ops/models/fit_baseball.py on "
            "shared/data/sports_pregame/mlb_moneyline_results.csv (MLB 2006-2023); per-PA rates and "
            "advance shares cited (MLB 2010-2019 league totals)"
        ),
        "re24_reference": RE24_REFERENCE,
    }
    OUT.write_text(json.dumps(body, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
