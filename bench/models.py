"""Model benchmark (`make bench-models`): our win probabilities against the published anchors.

Every ESPN figure measures the path the live pipeline takes: the recorded ESPN
responses go through the connector (`FileReplay` -> `play_states` /
`scoreboard_states`, the same normalizer and pregame prior as live), and the
models price the EventStates it wrote; the bench adds no feature.

(a) per-play mean absolute difference from ESPN's published win probability:
    the recorded NBA game (every play) and MLB game (every plate appearance),
    the live NFL scoreboard states (plus nflfastR's reference kickoff states,
    a reference outside ESPN), with charts of both curves; every NFL figure
    says whether its parameters saw the states it is scored on;
(b) NBA, NFL, NHL, MLB: final-margin sigma from the pregame data, and the
    tip-off probability of our in-game model started from the prior the ESPN
    normalizer derives from a moneyline (`connectors.espn.pregame.line_prior`
    on each historical game's average line), scored (Brier, log loss,
    calibration by decile) beside the market;
(c) Polymarket's pregame NBA prices of 2024-25 scored the same way, the venue anchor.
Keys merge into bench/results.json (names in DESIGN.md "Benchmarks").
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from connectors.espn.leagues import league as espn_league  # noqa: E402
from connectors.espn.normalize import parse_body, scoreboard_states  # noqa: E402
from connectors.espn.pipeline import league_of  # noqa: E402
from connectors.espn.plays import play_states  # noqa: E402
from connectors.espn.pregame import line_prior  # noqa: E402
from connectors.espn.replay import FileReplay  # noqa: E402
from ops.models.derive_football import SIGMA_RATIOS, score_record_prior_heldout  # noqa: E402
from ops.models.margins import DATA_DIR, PregameGames, fit_margin, load_pregame  # noqa: E402
from ops.models.reference_states import NFL_SCOREBOARDS, ReferenceState, nflfastr_kickoffs  # noqa: E402
from schemas.enums import EventStatus, MarketType  # noqa: E402
from schemas.records import EventState, RawFeed  # noqa: E402
from streams.probability.base import WinProbabilityModel  # noqa: E402
from streams.probability.basketball import BasketballModel  # noqa: E402
from streams.probability.football import FootballModel  # noqa: E402
from streams.probability.football import load_football_params  # noqa: E402
from streams.probability.registry import model_for  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"
POLYMARKET = DATA_DIR / "polymarket" / "nba_2024_25_pregame_price_vs_final.csv"
#: The recorded ESPN responses the connector replays (tests/fixtures/espn/PROVENANCE.md).
ESPN_MANIFEST = BENCH_DIR.parent / "tests" / "fixtures" / "espn" / "replay_manifest.json"
TARGET_MAE = {"nba": 0.03, "nfl": 0.05, "mlb": 0.05}
EPS = 1e-6


@dataclass(frozen=True)
class Score:
    brier: float
    logloss: float


def score(p: np.ndarray, y: np.ndarray) -> Score:
    q = np.clip(p, EPS, 1 - EPS)
    return Score(float(np.mean((p - y) ** 2)), float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))))


# ------------------------------------------------------------------ (a) ESPN


@dataclass(frozen=True)
class EspnGame:
    """States the ESPN connector read from one recorded game package, with ESPN's published probability."""

    title: str
    states: list[EventState]
    espn: np.ndarray  # ESPN's home win probability for each state
    x: np.ndarray  # chart axis: game minutes (NBA) or plate appearance (MLB)


def recorded_summaries(manifest: Path = ESPN_MANIFEST) -> dict[str, RawFeed]:
    """The recorded ESPN summaries of the replay manifest, as the connector's replay yields them, by league."""
    return {league_of(raw).key: raw for raw in FileReplay(manifest) if raw.endpoint == "summary"}


def espn_game(raw: RawFeed) -> EspnGame:
    """The state after every play with an ESPN probability, read by the connector (`play_states`).

    Nothing is added here: the pregame line, its devigged prior, the situation
    and possession are what the connector's normalizer put on each state.
    Basketball: every play carries ESPN's number. Baseball: ESPN publishes one
    per plate appearance (on its result); the state paired with it is the one
    after that at-bat ends (`End Batter/Pitcher`), the first moment the connector
    knows the at-bat's outs and runners.
    """
    lg = league_of(raw)
    played = play_states(lg, parse_body(raw.body), raw.fetched_at)
    states: list[EventState] = []
    espn: list[float] = []
    if lg.family == "baseball":
        pending: float | None = None
        for ps in played:
            if ps.play.source_home_win_prob is not None:
                pending = ps.play.source_home_win_prob
            elif ps.play.play_type == "End Batter/Pitcher" and pending is not None:
                states.append(ps.state)
                espn.append(pending)
                pending = None
        x = np.arange(len(states), dtype=float)
    else:
        for ps in played:
            if ps.play.source_home_win_prob is not None:
                states.append(ps.state)
                espn.append(ps.play.source_home_win_prob)
        x = np.array([_game_minutes(s) for s in states])
    first = played[0].state
    title = f"{lg.key.upper()} {first.event_id.rsplit(':', 1)[1]} ({first.entity_b_abbr} @ {first.entity_a_abbr})"
    return EspnGame(title, states, np.array(espn), x)


def _game_minutes(s: EventState) -> float:
    """Minutes played in an NBA game (12-minute quarters, 5-minute overtimes)."""
    left = s.clock_seconds or 0.0
    if s.period <= 4:
        return ((s.period - 1) * 720.0 + 720.0 - left) / 60
    return (2880.0 + (s.period - 5) * 300.0 + 300.0 - left) / 60


def nfl_espn_live(paths: Sequence[Path] = NFL_SCOREBOARDS) -> list[ReferenceState]:
    """Live NFL states of the recorded scoreboards with ESPN's lastPlay.probability, read by our normalizer.

    The scoreboards carry no fetch time of their own and the model does not use
    one, so every state gets ts 0. Records, timeouts and the neutral-site flag
    come through EventState.features as in production; live games have no odds.
    """
    out: list[ReferenceState] = []
    nfl = espn_league("nfl")
    for path in paths:
        result = scoreboard_states(nfl, json.loads(path.read_text()), 0)
        if result.rejected:
            raise ValueError(f"{path.name}: normalizer rejected {[r.where for r in result.rejected]}")
        for s in result.states:
            if s.status is EventStatus.LIVE and "espn_home_wp" in s.features:
                elapsed = (s.period - 1) * 900.0 + (900.0 - (s.clock_seconds or 0.0))
                out.append(ReferenceState(s, float(s.features["espn_home_wp"]), f"{s.entity_b_abbr} @ {s.entity_a_abbr}", elapsed))
    return out


def insample_ratio(refs: Sequence[ReferenceState]) -> tuple[float, float]:
    """Best in-game sigma ratio tuned on the scored states themselves: an in-sample reference, never shipped."""
    base = load_football_params()["nfl"]
    target = np.array([r.home_prob for r in refs])
    best = (float("inf"), 0.0)
    for ratio in SIGMA_RATIOS:
        model = FootballModel("nfl", dataclasses.replace(base, ingame_sigma=base.sigma * ratio))
        ours = model.probabilities_batch([r.state for r in refs])[:, 0]
        best = min(best, (float(np.mean(np.abs(ours - target))), ratio))
    return best


def compare(model: WinProbabilityModel, refs: Sequence[ReferenceState]) -> tuple[np.ndarray, np.ndarray]:
    ours = model.probabilities_batch([r.state for r in refs])[:, 0]
    return ours, np.array([r.home_prob for r in refs])


def chart_curves(path: Path, title: str, x: np.ndarray, ours: np.ndarray, ref: np.ndarray, ref_name: str, xlabel: str) -> None:
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(x, ref, label=ref_name, color="tab:gray", lw=1.6)
    ax.plot(x, ours, label="Arbees", color="tab:blue", lw=1.2)
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("home win probability")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart_points(path: Path, title: str, labels: list[str], ours: np.ndarray, ref: np.ndarray) -> None:
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ref, 0.4, label="ESPN / nflfastR", color="tab:gray")
    ax.bar(x + 0.2, ours, 0.4, label="Arbees", color="tab:blue")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("home win probability")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------- (b) tip-off


def tipoff_states(league: str, games: PregameGames) -> list[EventState]:
    """Scheduled states carrying the features the ESPN normalizer writes for a moneyline.

    The historical games have moneylines (averaged over books) but no ESPN
    payload, so each state gets exactly what `connectors.espn.pregame.line_prior`
    makes of a line (moneylines, the devigged `p_pregame_a`, its source) and no
    spread: every model, basketball and football too, starts from the prior the
    way a live state with a line and no spread does.
    """
    return [
        EventState(
            state_id=f"{league}:{i}",
            event_id=f"{league}:{i}",
            ts=0,
            league=league,
            status=EventStatus.SCHEDULED,
            features={"moneyline_a": float(h), "moneyline_b": float(a),
                      **line_prior({"moneyline_a": float(h), "moneyline_b": float(a)}, "oddsportal-average", three_way=False)},
        )
        for i, (h, a) in enumerate(zip(games.ml_home, games.ml_away))
    ]


def calibration(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.quantile(p, np.linspace(0, 1, 11))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
    return np.array([p[idx == k].mean() for k in range(10)]), np.array([y[idx == k].mean() for k in range(10)])


def chart_calibration(path: Path, panels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (name, (ours, market, y)) in zip(axes[0], panels.items()):
        for p, label, color in ((market, "market", "tab:gray"), (ours, "Arbees", "tab:blue")):
            px, py = calibration(p, y)
            ax.plot(px, py, "o-", label=label, color=color, ms=4)
        ax.plot([0, 1], [0, 1], ":", color="black", lw=0.8)
        ax.set_title(f"{name} by decile")
        ax.set_xlabel("forecast")
        ax.set_ylabel("observed home win rate")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------ runner


def run(console: Console) -> dict[str, float | int | str]:
    out: dict[str, float | int | str] = {}
    notes: list[str] = []
    rows: list[tuple[str, str, str, str]] = []

    summaries = recorded_summaries()
    nba = espn_game(summaries["nba"])
    ours = BasketballModel("nba").probabilities_batch(nba.states)[:, 0]
    out["models.nba.espn_mae"], out["models.nba.espn_plays"] = float(np.mean(np.abs(ours - nba.espn))), len(nba.espn)
    chart_curves(BENCH_DIR / "models_nba_espn.png", f"{nba.title}: Arbees vs ESPN", nba.x, ours, nba.espn, "ESPN", "game minutes")

    nfl_refs = nfl_espn_live()
    ours_nfl, espn_nfl = compare(FootballModel("nfl"), nfl_refs)
    err = np.abs(ours_nfl - espn_nfl)
    out["models.nfl.espn_mae"], out["models.nfl.espn_plays"] = float(np.mean(err)), len(espn_nfl)
    out["models.nfl.espn_mae_se"] = float(np.std(err, ddof=1) / np.sqrt(len(err)))
    out["models.nfl.espn_mae_insample"], out["models.nfl.espn_insample_ratio"] = insample_ratio(nfl_refs)
    kick = nflfastr_kickoffs()
    ours_k, vegas = compare(FootballModel("nfl"), kick)
    out["models.nfl.nflfastr_mae"], out["models.nfl.nflfastr_states"] = float(np.mean(np.abs(ours_k - vegas))), len(kick)
    nfl_p = load_football_params()["nfl"]
    heldout = score_record_prior_heldout(
        {"intercept": nfl_p.record_intercept, "slope": nfl_p.record_slope, "shrink_games": nfl_p.record_shrink_games,
         "prior_sd": nfl_p.record_prior_sd}, nfl_p.sigma)
    out["models.nfl.record_heldout_brier"], out["models.nfl.record_heldout_elo_brier"] = heldout["brier"], heldout["elo_brier"]
    out["models.nfl.record_heldout_games"] = int(heldout["games"])
    chart_points(BENCH_DIR / "models_nfl_espn.png", "NFL live states (ESPN) and nflfastR kickoff states",
                 [r.label for r in nfl_refs] + [f"nflfastR {r.label}" for r in kick],
                 np.concatenate([ours_nfl, ours_k]), np.concatenate([espn_nfl, vegas]))
    for ref, o, e in zip(nfl_refs, ours_nfl, espn_nfl):
        notes.append(f"nfl {ref.label:10s} P{ref.state.period} {ref.state.clock_seconds:4.0f}s {ref.state.score_a}-{ref.state.score_b}: "
                     f"ours {o:.3f}, ESPN {e:.3f}, |diff| {abs(o - e):.3f}")

    mlb_model = model_for(MarketType.SPORT, "mlb")
    mlb = espn_game(summaries["mlb"])
    ours_mlb = mlb_model.probabilities_batch(mlb.states)[:, 0]
    out["models.mlb.espn_mae"], out["models.mlb.espn_plays"] = float(np.mean(np.abs(ours_mlb - mlb.espn))), len(mlb.espn)
    chart_curves(BENCH_DIR / "models_mlb_espn.png", f"{mlb.title}: Arbees vs ESPN", mlb.x, ours_mlb, mlb.espn, "ESPN", "plate appearance")

    for league in ("nba", "nfl", "mlb"):
        if f"models.{league}.espn_mae" in out:
            mae = float(out[f"models.{league}.espn_mae"])
            ok = "ok" if mae <= TARGET_MAE[league] else "MISS"
            name = f"{league} ESPN per-play MAE" + (" (OUT-OF-SAMPLE)" if league == "nfl" else "")
            extra = f", SE {out['models.nfl.espn_mae_se']:.3f}; no ESPN state in any fit" if league == "nfl" else ""
            rows.append((name, f"{mae:.4f}", f"<= {TARGET_MAE[league]}", f"{ok} ({out[f'models.{league}.espn_plays']} plays{extra})"))
    rows.append(("nfl ESPN per-play MAE (IN-SAMPLE)", f"{out['models.nfl.espn_mae_insample']:.4f}", "reference only",
                 f"in-game sigma ratio {out['models.nfl.espn_insample_ratio']} tuned on these same states (shipped: "
                 f"{nfl_p.ingame_sigma / nfl_p.sigma:.2f} from nflfastR)"))
    rows.append(("nfl nflfastR kickoff MAE (in-sample)", f"{out['models.nfl.nflfastr_mae']:.4f}", "-",
                 f"{len(kick)} states; the in-game sigma ratio is fitted on them"))
    rows.append(("nfl record prior Brier (held-out 1999-2008)", f"{heldout['brier']:.4f}", f"538 Elo {heldout['elo_brier']:.4f}",
                 f"{int(heldout['games'])} games; prior fitted on the 2009-2023 market"))

    panels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for league in ("nba", "nfl", "nhl", "mlb"):
        games = load_pregame(league)
        fit = fit_margin(games)
        out[f"models.{league}.sigma"] = fit.sigma
        model = model_for(MarketType.SPORT, league)
        market = score(games.p_home, games.home_win)
        out[f"models.{league}.market_brier"], out[f"models.{league}.market_logloss"] = market.brier, market.logloss
        out[f"models.{league}.games"] = fit.games
        p = model.probabilities_batch(tipoff_states(league, games))[:, 0]
        ours_s = score(p, games.home_win)
        out[f"models.{league}.brier"], out[f"models.{league}.logloss"] = ours_s.brier, ours_s.logloss
        panels[league] = (p, games.p_home, games.home_win)
        gap = ours_s.brier - market.brier
        rows.append((f"{league} tip-off Brier (market)", f"{ours_s.brier:.4f} ({market.brier:.4f})", "gap <= 0.002",
                     f"{'ok' if abs(gap) <= 0.002 else 'MISS'} gap {gap:+.4f}, logloss {ours_s.logloss:.4f} ({market.logloss:.4f}), sigma {fit.sigma:.2f}, {fit.games} games"))
    chart_calibration(BENCH_DIR / "models_calibration.png", panels)

    with POLYMARKET.open(newline="") as fh:
        poly = [r for r in csv.DictReader(fh) if r["resolution"] in ("team_a_won", "team_b_won")]
    p_home = 1.0 - np.array([float(r["price_team_a_pregame"]) for r in poly])  # team_a is the away side
    y_home = np.array([r["resolution"] == "team_b_won" for r in poly], dtype=float)
    venue = score(p_home, y_home)
    out["models.nba_polymarket.market_brier"], out["models.nba_polymarket.market_logloss"] = venue.brier, venue.logloss
    out["models.nba_polymarket.games"] = len(poly)
    rows.append(("Polymarket NBA 2024-25 pregame", f"{venue.brier:.4f}", "venue anchor", f"logloss {venue.logloss:.4f}, {len(poly)} games"))

    table = Table(title="bench-models")
    for col in ("figure", "value", "target", "note"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    console.print(table)
    for n in notes:
        console.print(f"note: {n}")
    return out


def merge_results(figures: dict[str, float | int | str], path: Path = RESULTS) -> None:
    """Read the existing flat JSON, update our keys, write it back."""
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update({k: round(v, 6) if isinstance(v, float) else v for k, v in figures.items()})
    path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def main() -> None:
    console = Console(width=150)
    started = time.perf_counter()
    figures = run(console)
    from bench import models_macro  # crypto and economics: their own module

    figures.update(models_macro.run(console))
    merge_results(figures)
    parts = [f"{lg} mae {figures[f'models.{lg}.espn_mae']:.3f}" for lg in ("nba", "nfl", "mlb") if f"models.{lg}.espn_mae" in figures]
    console.print(f"bench-models: {', '.join(parts)}; wrote {len(figures)} keys to {RESULTS.name} in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
