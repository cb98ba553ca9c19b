"""Derive the football model parameters and write streams/probability/params/football.json.

From the real data in data/, and nothing else (ESPN's live states are kept for
scoring: `python -m bench.models` evaluates these parameters on them, out of sample):
- final-margin sigma, market slope and home edge: the 4,258 NFL games with
  devigged moneylines (sports_pregame/nfl_moneyline_results.csv);
- the expected-points curve of a possession by field position, down and distance:
  a least-squares fit to nflfastR's expected-points table
  (sports_ingame/nflfastR_ep_cheatsheet.csv, nflfastR 2.1.0);
- a pregame prior from season-to-date records, for live games whose feed carries
  no odds (ESPN drops them once a game starts): the market-implied expected margin
  of the moneyline games (seasons 2009-2023) regressed on the difference of win
  percentages shrunk towards .500 by k phantom games, k chosen on a grid; the
  residual SD is how far the market sits from the record prior. Held out: the
  1999-2008 seasons of FiveThirtyEight's file (sports_pregame/nfl_538_elo_1999_on.csv),
  scored by Brier against the outcomes beside FiveThirtyEight's Elo;
- the in-game sigma (how much a lead can still move, as a ratio to the final-margin
  sigma): chosen on a grid against nflfastR's reference kickoff states
  (sports_ingame/nflfastR_calculate_win_probability_snapshot.csv), which come from
  a model fitted on 1999-2019 play-by-play. That objective is flat over a wide range;
  the range is recorded in the JSON.

NCAA football has no games in data/: it reuses the NFL shape with the published
college home edge and a wider sigma (college spreads are larger and less sure),
both recorded as assumptions in the JSON.

Run: python -m ops.models.derive_football
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from ops.models.margins import DATA_DIR, PREGAME_DIR, fit_margin, load_pregame
from ops.models.reference_states import nflfastr_kickoffs
from streams.probability.football import FootballModel, football_params

PARAMS_PATH = Path(__file__).resolve().parents[2] / "streams" / "probability" / "params" / "football.json"
EP_TABLE = DATA_DIR / "sports_ingame" / "nflfastR_ep_cheatsheet.csv"
ELO_FILE = PREGAME_DIR / "nfl_538_elo_1999_on.csv"
MONEYLINE_FILE = PREGAME_DIR / "nfl_moneyline_results.csv"

#: Seasons of the moneyline file that start after week 1 (2008 starts in October): running records would be wrong.
PARTIAL_SEASONS = frozenset({"NFL_2009"})
#: FiveThirtyEight seasons held out of every fit (the moneyline file starts in 2008).
HELDOUT_SEASONS = frozenset(str(y) for y in range(1999, 2009))
#: Grid of phantom .500 games searched for the record prior.
SHRINK_GRID = tuple(float(k) for k in range(1, 25))
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
    # 10 significant digits: least squares differs in the last bits between BLAS builds, and the
    # committed params file must be exactly what the derivation writes on any machine
    c0, c1, c2, d2, d3, s2, s3 = (float(f"{x:.10g}") for x in coef)
    return {
        "poly": [c0, c1, c2],
        "down_offset": [0.0, d2, d3, float(f"{2 * d3 - d2:.10g}")],
        "distance_slope": [0.0, s2, s3, float(f"{2 * s3 - s2:.10g}")],
        "rmse": [float(np.sqrt(np.mean(resid**2)))],
    }


@dataclass(frozen=True)
class Game:
    """One game in date order: enough to keep running records and to score a prior."""

    season: str
    home: str
    away: str
    margin: float  # final home margin
    counts: bool  # a regular-season game: it enters the records and the fit
    neutral: bool
    target: float  # the value the prior is fitted to or scored on (market margin or home win)
    reference: float  # a comparison forecast on the same game (FiveThirtyEight Elo), NaN if none


@dataclass(frozen=True)
class RecordRows:
    """Season-to-date records before each counted game: wins, losses, ties of home and away."""

    records: np.ndarray  # (n, 6): w_a, l_a, t_a, w_b, l_b, t_b
    games: tuple[Game, ...]

    def diff(self, k: float) -> np.ndarray:
        r = self.records
        pct_a = (r[:, 0] + r[:, 2] / 2 + k / 2) / (r[:, 0] + r[:, 1] + r[:, 2] + k)
        pct_b = (r[:, 3] + r[:, 5] / 2 + k / 2) / (r[:, 3] + r[:, 4] + r[:, 5] + k)
        return pct_a - pct_b


def running_records(games: Sequence[Game]) -> RecordRows:
    """Records of both teams before every counted game; only regular-season results count, as ESPN shows."""
    rec: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    rows: list[list[float]] = []
    kept: list[Game] = []
    for g in games:
        if not g.counts:
            continue
        rows.append([*rec[(g.season, g.home)], *rec[(g.season, g.away)]])
        kept.append(g)
        home, away = rec[(g.season, g.home)], rec[(g.season, g.away)]
        if g.margin > 0:
            home[0] += 1
            away[1] += 1
        elif g.margin < 0:
            home[1] += 1
            away[0] += 1
        else:
            home[2] += 1
            away[2] += 1
    return RecordRows(np.array(rows, dtype=float), tuple(kept))


def moneyline_games(market_slope: float, path: Path = MONEYLINE_FILE) -> list[Game]:
    """Moneyline games of complete seasons; target = market-implied expected home margin."""
    with path.open(newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["date"])
    return [
        Game(
            season=r["season_label"],
            home=r["home_team"],
            away=r["away_team"],
            margin=float(r["home_score"]) - float(r["away_score"]),
            counts=r["game_type"] == "regular_season",
            neutral=False,  # the file does not flag neutral sites (data/PROVENANCE.md)
            target=market_slope * float(ndtri(np.clip(float(r["p_home_devig"]), 1e-6, 1 - 1e-6))),
            reference=np.nan,
        )
        for r in rows
        if r["season_label"] not in PARTIAL_SEASONS
    ]


def elo_games(seasons: frozenset[str], path: Path = ELO_FILE) -> list[Game]:
    """FiveThirtyEight's games of the given seasons; target = home win (1, 0, 0.5), reference = Elo."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        Game(
            season=r["season"],
            home=r["team1_home"],
            away=r["team2_away"],
            margin=float(r["score1"]) - float(r["score2"]),
            counts=r["playoff"] in ("0", ""),
            neutral=r["neutral"] == "1",
            target=float(r["result1"]),
            reference=float(r["elo_prob1"]),
        )
        for r in rows
        if r["season"] in seasons
    ]


def fit_record_prior(market_slope: float, grid: Sequence[float] = SHRINK_GRID) -> dict[str, float]:
    """market margin = intercept + slope * (shrunk win% home - shrunk win% away); k by least squares."""
    rows = running_records(moneyline_games(market_slope))
    target = np.array([g.target for g in rows.games])
    best: tuple[float, float, float, float] | None = None
    for k in grid:
        design = np.column_stack([np.ones(len(target)), rows.diff(k)])
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        sd = float(np.std(target - design @ coef, ddof=2))
        if best is None or sd < best[0]:
            best = (sd, k, float(coef[0]), float(coef[1]))
    assert best is not None
    sd, k, intercept, slope = best
    return {
        "intercept": intercept,
        "slope": slope,
        "shrink_games": k,
        "prior_sd": sd,
        "home_edge_prior_sd": float(np.std(target)),
        "games": float(len(target)),
    }


def score_record_prior_heldout(record: dict[str, float], sigma: float) -> dict[str, float]:
    """Brier of the record prior on the held-out seasons, beside FiveThirtyEight's Elo and the base rate."""
    rows = running_records(elo_games(HELDOUT_SEASONS))
    neutral = np.array([g.neutral for g in rows.games])
    mu = np.where(neutral, 0.0, record["intercept"]) + record["slope"] * rows.diff(record["shrink_games"])
    p = ndtr(mu / np.hypot(sigma, record["prior_sd"]))
    y = np.array([g.target for g in rows.games])
    elo = np.array([g.reference for g in rows.games])
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "elo_brier": float(np.mean((elo - y) ** 2)),
        "base_brier": float(np.mean((np.mean(y) - y) ** 2)),
        "games": float(len(y)),
    }


#: Grid of in-game / final-margin sigma ratios searched.
SIGMA_RATIOS = tuple(round(1.0 + 0.05 * i, 2) for i in range(31))
#: A ratio whose error is within this of the best counts as equally good (reported as the flat range).
FLAT_TOLERANCE = 0.0005


def fit_ingame_ratio(nfl: dict[str, object]) -> tuple[float, float, tuple[float, float]]:
    """Ratio of in-game to final-margin sigma closest to nflfastR's reference states (never ESPN's).

    Returns the ratio, its mean absolute difference, and the range of ratios within FLAT_TOLERANCE of it.
    """
    refs = nflfastr_kickoffs()
    target = np.array([r.home_prob for r in refs])
    errors: list[tuple[float, float]] = []
    for ratio in SIGMA_RATIOS:
        params = football_params({**nfl, "ingame_sigma": float(nfl["sigma"]) * ratio})  # type: ignore[arg-type]
        p = FootballModel("nfl", params).probabilities_batch([r.state for r in refs])[:, 0]
        errors.append((float(np.mean(np.abs(p - target))), ratio))
    mae, ratio = min(errors)
    flat = [r for e, r in errors if e <= mae + FLAT_TOLERANCE]
    return ratio, mae, (min(flat), max(flat))


def derive() -> dict[str, dict[str, object]]:
    nfl = fit_margin(load_pregame("nfl"))
    ep = fit_expected_points()
    record = fit_record_prior(nfl.slope)
    heldout = score_record_prior_heldout(record, nfl.sigma)
    common: dict[str, object] = {
        "periods": 4,
        "period_seconds": 900,
        "overtime_seconds": 600,
        "timeout_seconds": TIMEOUT_SECONDS,
        "ep_horizon_seconds": EP_HORIZON_SECONDS,
        "ep_poly": ep["poly"],
        "ep_down_offset": ep["down_offset"],
        "ep_distance_slope": ep["distance_slope"],
        "ep_fit_rmse": round(ep["rmse"][0], 4),
        "record_shrink_games": record["shrink_games"],
    }
    nfl_params: dict[str, object] = {
        **common,
        "sigma": round(nfl.sigma, 4),
        "spread_slope": round(nfl.slope, 4),
        "home_edge": round(nfl.home_edge, 4),
        "record_intercept": round(record["intercept"], 4),
        "record_slope": round(record["slope"], 4),
        "record_prior_sd": round(record["prior_sd"], 4),
        "home_edge_prior_sd": round(record["home_edge_prior_sd"], 4),
    }
    ratio, mae, flat = fit_ingame_ratio({**nfl_params, "ingame_sigma": nfl_params["sigma"]})
    s = NCAAF_SIGMA_SCALE
    return {
        "nfl": {
            **nfl_params,
            "ingame_sigma_ratio": ratio,
            "ingame_sigma": round(nfl.sigma * ratio, 4),
            "ingame_fit": "nflfastR reference kickoff states (out of sample for ESPN)",
            "ingame_fit_mae": round(mae, 4),
            "ingame_ratio_flat_range": list(flat),
            "record_heldout_brier": round(heldout["brier"], 4),
            "record_heldout_elo_brier": round(heldout["elo_brier"], 4),
            "record_heldout_base_brier": round(heldout["base_brier"], 4),
            "record_heldout_games": int(heldout["games"]),
            "source": f"sigma/slope/home edge fitted on {nfl.games} NFL games with market odds; EP curve fitted on "
            f"nflfastR's EP table (rmse {ep['rmse'][0]:.2f} pts); record prior fitted to the market-implied margin "
            f"of {int(record['games'])} regular-season games 2009-2023 (k={record['shrink_games']:g}, market SD around "
            f"it {record['prior_sd']:.2f}), held-out Brier {heldout['brier']:.4f} on {int(heldout['games'])} games "
            f"1999-2008 (538 Elo {heldout['elo_brier']:.4f}); in-game sigma ratio {ratio} fitted on nflfastR's "
            f"kickoff states only (MAE {mae:.4f}, flat from {flat[0]} to {flat[1]}); no ESPN state is used",
        },
        "ncaaf": {
            **common,
            # College overtime is untimed (alternating possessions from the 25): priced as this many seconds of play.
            "sigma": round(nfl.sigma * s, 4),
            "ingame_sigma": round(nfl.sigma * s * ratio, 4),
            "ingame_sigma_ratio": ratio,
            "spread_slope": round(nfl.slope * s, 4),
            "home_edge": NCAAF_HOME_EDGE,
            "record_intercept": NCAAF_HOME_EDGE,
            "record_slope": round(record["slope"] * s, 4),
            "record_prior_sd": round(record["prior_sd"] * s, 4),
            "home_edge_prior_sd": round(record["home_edge_prior_sd"] * s, 4),
            "source": "NFL shape; sigma, slopes and prior SDs scaled by an assumed 1.15 and a published home edge: "
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
