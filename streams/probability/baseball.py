"""Baseball: inning / outs / bases state model with exact run distributions.

A half-inning is an absorbing Markov chain over the 24 base-out states: each
plate appearance is a walk, single, double, triple, home run or out (with
sacrifice scoring, runner advances and double plays), at MLB per-PA rates scaled
to MLB's scoring level (params/baseball_params.json, fitted by
ops/models/fit_baseball.py). Solving the chain gives, from every base-out
state, the full distribution of runs to the end of the half-inning; its mean is
the 24-state run-expectancy (RE24) table, checked against a published empirical
table in the tests.

The rest of the game is then the sum of independent halves for each side:
the current half from its base-out state, full halves from empty bases, and
extra innings that start with a runner on second (the automatic runner, MLB
since 2020). Win probability = P(lead + home runs - away runs > 0) plus the tie
times the per-extra-inning home edge. Walk-offs do not change who wins, so the
halves can be summed as if always played out.

Team strength: hit rates of the home side are scaled by e^(s/2) and the away
side's by e^(-s/2); `s` is solved so the pregame home win probability equals
`features["p_pregame_a"]` (else the league's observed home win rate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Sequence

import numpy as np

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import StateNotModelable, UnknownLeague
from streams.probability.base import squeeze

PARAMS_FILE = Path(__file__).with_name("params") / "baseball_params.json"

RUNS = 40  # run-count support per team for the rest of a game (mass beyond is < 1e-9)
NONE = 24  # "no partial half in progress" start index: zero runs
GHOST = 2  # base-out index of 0 outs, runner on second (extra-inning start)
S_GRID = np.linspace(-0.8, 0.8, 41)
MAX_HALVES = 10


@dataclass(frozen=True)
class PAParams:
    """Per-plate-appearance event rates and runner-advance probabilities."""

    walk: float
    single: float
    double: float
    triple: float
    homer: float
    offense_scale: float  # fitted: multiplies all on-base events to match MLB run totals
    single_2nd_scores: float
    single_1st_to_3rd: float
    double_1st_scores: float
    out_3rd_scores: float  # sacrifice fly / productive out with fewer than 2 outs
    out_2nd_to_3rd: float
    double_play: float  # share of outs with a runner on first and < 2 outs that are DPs
    home_win_rate: float  # fitted: league home win rate, the prior without a market price
    scheduled_innings: int


@cache
def load_params() -> PAParams:
    raw = json.loads(PARAMS_FILE.read_text())
    return PAParams(**{k: raw[k] for k in PAParams.__dataclass_fields__})


# ---------------------------------------------------------------- the chain


def _advance_force(bases: int) -> tuple[int, int]:
    """Walk: batter to first, forced runners move up one. Returns (bases, runs)."""
    if bases & 1 == 0:
        return bases | 1, 0
    if bases & 2 == 0:
        return bases | 3, 0
    if bases & 4 == 0:
        return 7, 0
    return 7, 1


def transitions(
    outs: int, bases: int, prm: PAParams, scale: float
) -> list[tuple[float, int, int, int]]:
    """All (probability, new_outs, new_bases, runs) from one plate appearance."""
    on1, on2, on3 = bases & 1, (bases >> 1) & 1, (bases >> 2) & 1
    f = prm.offense_scale * scale
    p_bb, p_1b, p_2b = prm.walk * f, prm.single * f, prm.double * f
    p_3b, p_hr = prm.triple * f, prm.homer * f
    p_out = 1.0 - (p_bb + p_1b + p_2b + p_3b + p_hr)
    if p_out <= 0.05:
        raise ValueError(f"offense scale {f} leaves no outs")
    out: list[tuple[float, int, int, int]] = []
    nb, r = _advance_force(bases)
    out.append((p_bb, outs, nb, r))
    # Single: runner on third scores; second scores or stops at third; first to 2nd or 3rd.
    for s2, w2 in ((1, prm.single_2nd_scores), (0, 1 - prm.single_2nd_scores)) if on2 else ((0, 1.0),):
        third_free = not (on2 and not s2)
        for t1, w1 in (
            ((1, prm.single_1st_to_3rd), (0, 1 - prm.single_1st_to_3rd)) if on1 and third_free else ((0, 1.0),)
        ):
            runs = on3 + (on2 and s2)
            nb = 1
            if on2 and not s2:
                nb |= 4
            if on1:
                nb |= 4 if t1 else 2
            out.append((p_1b * w2 * w1, outs, nb, runs))
    # Double: runners on second and third score; first scores or stops at third.
    for s1, w1 in ((1, prm.double_1st_scores), (0, 1 - prm.double_1st_scores)) if on1 else ((0, 1.0),):
        runs = on2 + on3 + (on1 and s1)
        nb = 2 | (4 if on1 and not s1 else 0)
        out.append((p_2b * w1, outs, nb, runs))
    out.append((p_3b, outs, 4, on1 + on2 + on3))
    out.append((p_hr, outs, 0, on1 + on2 + on3 + 1))
    # Outs.
    if outs == 2:
        out.append((p_out, 3, 0, 0))
        return out
    dp = prm.double_play if on1 else 0.0
    if dp:
        # Batter and the runner from first out; others hold (a run scores only if outs < 3).
        new_outs = outs + 2
        if new_outs >= 3:
            out.append((p_out * dp, 3, 0, 0))
        else:
            out.append((p_out * dp, new_outs, bases & 6, 0))
    for s3, w3 in ((1, prm.out_3rd_scores), (0, 1 - prm.out_3rd_scores)) if on3 else ((0, 1.0),):
        third_after = on3 and not s3
        for a2, w2 in (
            ((1, prm.out_2nd_to_3rd), (0, 1 - prm.out_2nd_to_3rd)) if on2 and not third_after else ((0, 1.0),)
        ):
            nb = (bases & 1) | (4 if third_after or (on2 and a2) else 0) | (2 if on2 and not a2 else 0)
            out.append((p_out * (1 - dp) * w3 * w2, outs + 1, nb, int(s3 and on3)))
    return out


def half_inning_runs(prm: PAParams, scale: float, support: int = RUNS) -> np.ndarray:
    """Distribution of runs to the end of the half from each base-out state: (24, support)."""
    t = np.zeros((5, 24, 24))  # runs scored on the transition (0..4), from, to
    end = np.zeros(24)  # probability the PA ends the half
    for idx in range(24):
        outs, bases = divmod(idx, 8)
        for p, n_outs, n_bases, runs in transitions(outs, bases, prm, scale):
            if n_outs >= 3:
                end[idx] += p
            else:
                t[runs, idx, n_outs * 8 + n_bases] += p
    inv = np.linalg.inv(np.eye(24) - t[0])
    dist = np.zeros((24, support))
    for r in range(support):
        rhs = end.copy() if r == 0 else np.zeros(24)
        for k in range(1, 5):
            if r - k >= 0:
                rhs += t[k] @ dist[:, r - k]
        dist[:, r] = inv @ rhs
    return dist


def run_expectancy(prm: PAParams, scale: float = 1.0) -> np.ndarray:
    """The RE24 table (24 base-out states, index outs*8 + bases bitmask) the chain implies."""
    d = half_inning_runs(prm, scale)
    return d @ np.arange(d.shape[1])


def _conv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Convolve along the last axis, truncated to the support."""
    n = a.shape[-1]
    fa = np.fft.rfft(a, 2 * n)
    fb = np.fft.rfft(b, 2 * n)
    return np.clip(np.fft.irfft(fa * fb, 2 * n)[..., :n], 0.0, None)


@dataclass(frozen=True)
class _Tables:
    reg: np.ndarray  # (S, team, 25 start, MAX_HALVES + 1 full empty halves, RUNS)
    ghost: np.ndarray  # (S, team, 25 start, 2 ghost halves, RUNS)
    extra_home: np.ndarray  # (S,) P(home wins an extra inning | one is decided)
    pregame: np.ndarray  # (S,) pregame P(home wins)


@cache
def _tables() -> _Tables:
    prm = load_params()
    n_s = len(S_GRID)
    reg = np.zeros((n_s, 2, 25, MAX_HALVES + 1, RUNS))
    ghost = np.zeros((n_s, 2, 25, 2, RUNS))
    extra = np.zeros(n_s)
    delta = np.zeros(RUNS)
    delta[0] = 1.0
    for i, s in enumerate(S_GRID):
        for team, sign in ((0, 1.0), (1, -1.0)):  # team 0 = home, 1 = away
            half = half_inning_runs(prm, float(np.exp(sign * s / 2)))
            start = np.vstack([half, delta])  # 25 starts
            full = [delta]
            for _ in range(MAX_HALVES):
                full.append(_conv(full[-1], half[0]))
            reg[i, team] = _conv(start[:, None, :], np.array(full)[None, :, :])
            ghost[i, team] = _conv(start[:, None, :], np.array([delta, half[GHOST]])[None, :, :])
        h, a = ghost[i, 0, NONE, 1], ghost[i, 1, NONE, 1]
        p_gt, p_tie = _compare(h[None], a[None], np.zeros(1))
        extra[i] = p_gt[0] / (1.0 - p_tie[0])
    tab = _Tables(reg=reg, ghost=ghost, extra_home=extra, pregame=np.zeros(n_s))
    n = prm.scheduled_innings
    for i in range(n_s):
        p_gt, p_tie = _compare(reg[i, 0, NONE, n][None], reg[i, 1, NONE, n][None], np.zeros(1))
        tab.pregame[i] = p_gt[0] + p_tie[0] * extra[i]
    return tab


def _compare(home: np.ndarray, away: np.ndarray, lead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise P(lead + H - A > 0) and P(lead + H - A == 0) for run distributions (N, R)."""
    n = home.shape[1]
    surv = 1.0 - np.cumsum(home, axis=1)  # P(H > j)
    j = np.arange(n)[None, :] - lead[:, None].astype(int)  # H must exceed a - lead
    sf = np.where(j < 0, 1.0, np.take_along_axis(surv, np.clip(j, 0, n - 1), axis=1))
    pmf = np.where((j >= 0) & (j < n), np.take_along_axis(home, np.clip(j, 0, n - 1), axis=1), 0.0)
    return np.sum(away * sf, axis=1), np.sum(away * pmf, axis=1)


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class _Situation:
    """Where the game stands, reduced to what the run tables index."""

    lead: int
    home_start: int  # base-out index of home's half in progress, NONE if away is batting
    away_start: int
    home_full: int  # full halves still to come
    away_full: int
    extras: bool  # full halves start with the automatic runner


class BaseballModel:
    """MLB in-game win probability from inning, half, outs, bases and score."""

    name = "baseball-markov"
    version = "1"

    def __init__(self, league: str = "mlb") -> None:
        if league != "mlb":
            raise UnknownLeague(f"the baseball model is fitted to MLB only, not {league!r}")
        self.league = league
        self.params = load_params()

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        return ("a", "b")

    def probabilities(self, state: EventState) -> dict[str, float]:
        row = self.probabilities_batch([state])[0]
        return {"a": float(row[0]), "b": float(row[1])}

    def strength(self, p_pregame: np.ndarray) -> np.ndarray:
        """The s whose pregame home win probability equals p (NaN -> league home rate)."""
        tab = _tables()
        p = np.asarray(p_pregame, dtype=float)
        p = np.where(np.isnan(p), self.params.home_win_rate, p)
        if np.any((p < tab.pregame[0]) | (p > tab.pregame[-1])):
            raise StateNotModelable(
                f"mlb pregame probability outside the strength grid [{tab.pregame[0]:.3f}, {tab.pregame[-1]:.3f}]"
            )
        return np.interp(p, tab.pregame, S_GRID)

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        out = np.empty((len(states), 2))
        live: list[int] = []
        sits: list[_Situation] = []
        p_pre: list[float] = []
        for i, st in enumerate(states):
            if st.status == EventStatus.FINAL:
                out[i] = self._final_row(st)
                continue
            live.append(i)
            sits.append(self._situation(st))
            p_pre.append(st.features.get("p_pregame_a", np.nan))
        if live:
            p_home = self._win_home(sits, np.array(p_pre, dtype=float))
            out[live] = squeeze(np.stack([p_home, 1.0 - p_home], axis=1))
        return out

    def _win_home(self, sits: list[_Situation], p_pre: np.ndarray) -> np.ndarray:
        tab = _tables()
        s = self.strength(p_pre)
        pos = np.clip(np.interp(s, S_GRID, np.arange(len(S_GRID))), 0, len(S_GRID) - 1)
        lo = np.minimum(np.floor(pos).astype(int), len(S_GRID) - 2)
        w = pos - lo
        lead = np.array([x.lead for x in sits])
        hs = np.array([x.home_start for x in sits])
        as_ = np.array([x.away_start for x in sits])
        hf = np.array([x.home_full for x in sits])
        af = np.array([x.away_full for x in sits])
        ex = np.array([x.extras for x in sits])
        result = np.zeros(len(sits))
        for idx, weight in ((lo, 1.0 - w), (lo + 1, w)):
            home = np.where(
                ex[:, None],
                tab.ghost[idx, 0, hs, np.minimum(hf, 1)],
                tab.reg[idx, 0, hs, np.minimum(hf, MAX_HALVES)],
            )
            away = np.where(
                ex[:, None],
                tab.ghost[idx, 1, as_, np.minimum(af, 1)],
                tab.reg[idx, 1, as_, np.minimum(af, MAX_HALVES)],
            )
            p_gt, p_tie = _compare(home, away, lead)
            result += weight * (p_gt + p_tie * tab.extra_home[idx])
        return result

    def _situation(self, st: EventState) -> _Situation:
        n = self.params.scheduled_innings
        lead = st.score_a - st.score_b
        if st.status == EventStatus.SCHEDULED or st.period <= 0:
            return _Situation(lead, NONE, 0, n, n - 1, False)  # away's first half from empty bases
        f = st.features
        missing = [k for k in ("half", "outs") if k not in f]
        if missing:
            raise StateNotModelable(f"mlb state {st.state_id} lacks {missing}")
        inning, half, outs = st.period, int(f["half"]), int(f["outs"])
        bases = int(f.get("on_first", 0)) | int(f.get("on_second", 0)) << 1 | int(f.get("on_third", 0)) << 2
        if outs >= 3:  # the half just ended: move to the next half, nobody on
            half, outs = (1, 0) if half == 0 else (0, 0)
            inning += 0 if half == 1 else 1
            bases = GHOST if inning > n else 0
        start = outs * 8 + bases
        last = max(n, inning)
        extras = inning > n
        if half == 0:
            return _Situation(lead, NONE, start, last - inning + 1, last - inning, extras)
        return _Situation(lead, start, NONE, last - inning, last - inning, extras)

    def _final_row(self, st: EventState) -> np.ndarray:
        if st.score_a != st.score_b:
            return np.array([1.0, 0.0]) if st.score_a > st.score_b else np.array([0.0, 1.0])
        if st.winner in ("a", "b"):
            return np.array([1.0, 0.0]) if st.winner == "a" else np.array([0.0, 1.0])
        raise StateNotModelable(f"mlb final {st.state_id} is tied with no winner")
