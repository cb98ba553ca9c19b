"""Derive the football model parameters and write streams/probability/params/football.json.

From the real data in data/:
- final-margin sigma, market slope and home edge: the 4,258 NFL games with
  devigged moneylines (sports_pregame/nfl_moneyline_results.csv);
- the expected-points curve of a possession by field position, down and distance:
  a least-squares fit to nflfastR's expected-points table
  (sports_ingame/nflfastR_ep_cheatsheet.csv, nflfastR 2.1.0);
- a pregame prior from season-to-date records, for live games whose feed carries
  no odds (ESPN drops them once a game starts): final margin regressed on the
  difference of shrunk win percentages over 5,571 regular-season NFL games of
  FiveThirtyEight's file (sports_pregame/nfl_538_elo_1999_on.csv);
- the in-game sigma (how much a lead can still move, larger than the SD of final
  margins because leads revert within a game): one ratio to the final-margin
  sigma, chosen on a grid to minimise the mean absolute difference from ESPN's
  live win probabilities (data/espn/ scoreboards) and nflfastR's reference
  kickoff states. `python -m bench.models` scores the result (in-sample for
  this one parameter; said so in its output).

NCAA football has no games in data/: it reuses the NFL shape with the published
college home edge and a wider sigma (college spreads are larger and less sure),
both recorded as assumptions in the JSON.

Run: python -m ops.models.derive_football
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from ops.models.margins import DATA_DIR, fit_margin, load_pregame
from ops.models.reference_states import nfl_espn_live, nflfastr_kickoffs
from streams.probability.football import FootballModel, football_params

PARAMS_PATH = Path(__file__).resolve().parents[2] / "streams" / "probability" / "params" / "football.json"
EP_TABLE = DATA_DIR / "sports_ingame" / "nflfastR_ep_cheatsheet.csv"
ELO_FILE = DATA_DIR / "sports_pregame" / "nfl_538_elo_1999_on.csv"

#: Win-percentage shrinkage: k/2 phantom wins and k/2 phantom losses (chosen by residual SD; flat past 8).
RECORD_SHRINK_GAMES = 8.0
#: Game seconds a timeout saves the trailing team: the 40-second play clock less the ~5 s snap.
TIMEOUT_SECONDS = 35.0
#: Seconds before the end of a half under which a possession can no longer be fully cashed in.
EP_HORIZON_SECONDS = 120.0
NCAAF_HOME_EDGE = 3.0  # published college-football home-field average (points), not a fit
NCAAF_SIGMA_SCALE = 1.15  # college final margins spread wider around the line than the NFL's


def fit_expected_points(path: Path = EP_TABLE) -> dict[str, list[float]]:
    """EP(y) = c0 + c1 y + c2 y^2 + down offset + per-down slope * (10 - distance), y = yards to the end zone.

    Fourth down is not in the table; its offset and slope continue the
    first -> second -> third progression linearly (the offense is closer to losing the ball).
    """
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = [c for c in rows[0] if c != "yds_to_endzone"]
    design: list[list[float]] = []
    target: list[float] = []
    for r in rows:
        y = float(r["yds_to_endzone"])
        for c in cols:
            if not r[c]:
                continue
            down, dist = int(c[0]), float(c.split("d")[1])
            design.append(
                [1.0, y, y * y, float(down == 2), float(down == 3), (10 - dist) * (down == 2), (10 - dist) * (down == 3)]
            )
            target.append(float(r[c]))
    a = np.array(design)
    coef, *_ = np.linalg.lstsq(a, np.array(target), rcond=None)
    resid = np.array(target) - a @ coef
    c0, c1, c2, d2, d3, s2, s3 = (float(x) for x in coef)
    return {
        "poly": [c0, c1, c2],
        "down_offset": [0.0, d2, d3, 2 * d3 - d2],
        "distance_slope": [0.0, s2, s3, 2 * s3 - s2],
        "rmse": [float(np.sqrt(np.mean(resid**2)))],
    }


def fit_record_prior(path: Path = ELO_FILE, k: float = RECORD_SHRINK_GAMES) -> dict[str, float]:
    """margin = intercept + slope * (shrunk win% home - shrunk win% away), season-to-date records."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    record: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    diff: list[float] = []
    margin: list[float] = []
    for r in rows:
        season, home, away = r["season"], r["team1_home"], r["team2_away"]
        wh, gh = record[(season, home)]
        wa, ga = record[(season, away)]
        if r["playoff"] in ("0", "") and r["neutral"] == "0":
            diff.append((wh + k / 2) / (gh + k) - (wa + k / 2) / (ga + k))
            margin.append(float(r["score1"]) - float(r["score2"]))
        result = float(r["result1"])
        record[(season, home)][0] += result
        record[(season, home)][1] += 1
        record[(season, away)][0] += 1 - result
        record[(season, away)][1] += 1
    d = np.array(diff)
    m = np.array(margin)
    a = np.column_stack([np.ones_like(d), d])
    coef, *_ = np.linalg.lstsq(a, m, rcond=None)
    resid = m - a @ coef
    return {
        "intercept": float(coef[0]),
        "slope": float(coef[1]),
        "shrink_games": k,
        "residual_sd": float(np.std(resid, ddof=2)),
        "games": float(len(m)),
    }


#: Grid of in-game / final-margin sigma ratios searched.
SIGMA_RATIOS = tuple(round(1.0 + 0.05 * i, 2) for i in range(21))


def fit_ingame_ratio(nfl: dict[str, object]) -> tuple[float, float]:
    """Ratio of in-game to final-margin sigma closest to the published reference probabilities."""
    refs = nfl_espn_live() + nflfastr_kickoffs()
    target = np.array([r.home_prob for r in refs])
    best = (float("inf"), 1.0)
    for ratio in SIGMA_RATIOS:
        params = football_params({**nfl, "ingame_sigma": float(nfl["sigma"]) * ratio})  # type: ignore[arg-type]
        p = FootballModel("nfl", params).probabilities_batch([r.state for r in refs])[:, 0]
        best = min(best, (float(np.mean(np.abs(p - target))), ratio))
    return best[1], best[0]


def derive() -> dict[str, dict[str, object]]:
    nfl = fit_margin(load_pregame("nfl"))
    ep = fit_expected_points()
    record = fit_record_prior()
    common: dict[str, object] = {
        "periods": 4,
        "period_seconds": 900,
        "timeout_seconds": TIMEOUT_SECONDS,
        "ep_horizon_seconds": EP_HORIZON_SECONDS,
        "ep_poly": ep["poly"],
        "ep_down_offset": ep["down_offset"],
        "ep_distance_slope": ep["distance_slope"],
        "ep_fit_rmse": round(ep["rmse"][0], 4),
        "record_intercept": round(record["intercept"], 4),
        "record_slope": round(record["slope"], 4),
        "record_shrink_games": record["shrink_games"],
    }
    nfl_params: dict[str, object] = {
        **common,
        "overtime_seconds": 600,
        "sigma": round(nfl.sigma, 4),
        "spread_slope": round(nfl.slope, 4),
        "home_edge": round(nfl.home_edge, 4),
    }
    ratio, mae = fit_ingame_ratio({**nfl_params, "ingame_sigma": nfl_params["sigma"]})
    return {
        "nfl": {
            **common,
            "ingame_sigma_ratio": ratio,
            "ingame_fit_mae": round(mae, 4),
            "overtime_seconds": 600,
            "sigma": round(nfl.sigma, 4),
            "ingame_sigma": round(nfl.sigma * ratio, 4),
            "spread_slope": round(nfl.slope, 4),
            "home_edge": round(nfl.home_edge, 4),
            "source": f"sigma/slope/home edge fitted on {nfl.games} NFL games with market odds; EP curve fitted on "
            f"nflfastR's EP table (rmse {ep['rmse'][0]:.2f} pts); record prior fitted on {int(record['games'])} "
            f"regular-season games 1999-2020 (residual SD {record['residual_sd']:.2f}); in-game sigma ratio "
            f"{ratio} fitted on ESPN live states and nflfastR kickoff states (MAE {mae:.3f})",
        },
        "ncaaf": {
            **common,
            # College overtime is untimed (alternating possessions from the 25): priced as this many seconds of play.
            "overtime_seconds": 600,
            "sigma": round(nfl.sigma * NCAAF_SIGMA_SCALE, 4),
            "ingame_sigma": round(nfl.sigma * NCAAF_SIGMA_SCALE * ratio, 4),
            "ingame_sigma_ratio": ratio,
            "spread_slope": round(nfl.slope * NCAAF_SIGMA_SCALE, 4),
            "home_edge": NCAAF_HOME_EDGE,
            "source": "NFL shape; sigma and slope scaled by an assumed 1.15 and a published home edge: "
            "no college games in data/",
        },
    }


def main() -> None:
    params = derive()
    PARAMS_PATH.parent.mkdir(parents=True, exist_ok=True)
    PARAMS_PATH.write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    for league, p in params.items():
        print(f"{league}: sigma={p['sigma']} slope={p['spread_slope']} home_edge={p['home_edge']} ep={p['ep_poly']}")


if __name__ == "__main__":
    main()
