"""Derive the basketball model parameters and write streams/probability/params/basketball.json.

NBA: sigma (residual SD of the final margin around the market expectation),
the market slope (points per probit unit) and the home edge are fitted on the
20,361 NBA games with devigged moneylines in data/sports_pregame/.

WNBA and NCAA men's basketball have no results in data/, so their sigma is
scaled from the NBA fit by scoring volume: a final margin is the sum of many
scoring increments, so its variance grows with the points scored
(sigma_league = sigma_NBA * sqrt(total_league / total_NBA)). Their league
average totals and home edges are published season averages, recorded as such
in the JSON so nobody mistakes them for fits.

Run: python -m ops.models.derive_basketball
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ops.models.margins import fit_margin, load_pregame

PARAMS_PATH = Path(__file__).resolve().parents[2] / "streams" / "probability" / "params" / "basketball.json"

#: Published league averages used where data/ holds no games (points per game, both teams).
WNBA_MEAN_TOTAL = 163.0  # WNBA 2024 regular season: about 81.5 points per team
NCAAB_MEAN_TOTAL = 144.0  # NCAA Division I men 2023-24: about 72 points per team
WNBA_HOME_EDGE = 2.0
NCAAB_HOME_EDGE = 3.0
#: In-game Brownian sigma of the NBA score difference, points per 48 minutes: Stern (1994),
#: "A Brownian Motion Model for the Progress of Sports Scores", JASA 89(427):1128-1134, fitted on
#: quarter-by-quarter scores of 493 NBA games. It exceeds the full-game residual SD because leads
#: revert within a game (trailing teams push, leading teams coast), so a lead is less safe mid-game
#: than a random walk calibrated to final margins would say.
STERN_NBA_SIGMA = 15.82
#: Points per possession (league offensive rating / 100), used for the value of holding the ball.
PPP = {"nba": 1.12, "wnba": 1.00, "ncaab": 1.03}


def derive() -> dict[str, dict[str, object]]:
    nba = fit_margin(load_pregame("nba"))
    params: dict[str, dict[str, object]] = {
        "nba": {
            "periods": 4,
            "period_seconds": 720,
            "overtime_seconds": 300,
            "shot_clock": 24,
            "sigma": round(nba.sigma, 4),
            "ingame_sigma": STERN_NBA_SIGMA,
            "spread_slope": round(nba.slope, 4),
            "home_edge": round(nba.home_edge, 4),
            # Holding the ball is worth about half a possession more than the opponent over the
            # rest of the game (possessions alternate), i.e. PPP/2 points of expected margin.
            "possession_value": round(PPP["nba"] / 2, 4),
            "source": f"fitted on {nba.games} NBA games (data/sports_pregame/nba_moneyline_results.csv); "
            f"mean total {nba.mean_total:.1f}",
        }
    }
    for league, total, edge, periods, period_s in (
        ("wnba", WNBA_MEAN_TOTAL, WNBA_HOME_EDGE, 4, 600),
        ("ncaab", NCAAB_MEAN_TOTAL, NCAAB_HOME_EDGE, 2, 1200),
    ):
        scale = math.sqrt(total / nba.mean_total)
        params[league] = {
            "periods": periods,
            "period_seconds": period_s,
            "overtime_seconds": 300,
            "shot_clock": 24 if league == "wnba" else 30,
            "sigma": round(nba.sigma * scale, 4),
            "ingame_sigma": round(STERN_NBA_SIGMA * scale, 4),
            "spread_slope": round(nba.slope * scale, 4),
            "home_edge": edge,
            "possession_value": round(PPP[league] / 2, 4),
            "source": f"sigma and slope scaled from the NBA fit by sqrt(mean total {total:.0f} / "
            f"{nba.mean_total:.1f}); mean total and home edge are published league averages, not fits",
        }
    return params


def main() -> None:
    params = derive()
    PARAMS_PATH.parent.mkdir(parents=True, exist_ok=True)
    PARAMS_PATH.write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    for league, p in params.items():
        print(f"{league}: sigma={p['sigma']} slope={p['spread_slope']} home_edge={p['home_edge']}")


if __name__ == "__main__":
    main()
