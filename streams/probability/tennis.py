"""Tennis: a point-level Markov chain up to the match.

Each point is won by the server with a fixed probability (`p_serve_a` when a
serves, `p_serve_b` when b serves). That i.i.d. point model is the standard
hierarchical one (Newton & Keller 2005; Barnett & Clarke 2005): exact game
probabilities with deuce, sets with the 6-6 tiebreak (serve order ABBAAB...),
and matches of best of 3 or 5 with the serve order carried across sets (the
player who received first in a tiebreak serves first in the next set). All of
it is dynamic programming over small score grids, done on numpy arrays with one
lane per state, so a batch costs the same Python loop as one state.

Serve strengths come from `features["p_serve_a"]`/`["p_serve_b"]`; without
them, from the pre-match price `features["p_pregame_a"]`: the two players are
placed around the tour's average serve-point win rate, apart by the gap that
reproduces that price before the first point. A state with neither raises:
there is no honest default for two unknown players.
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

PARAMS_FILE = Path(__file__).with_name("params") / "tennis_params.json"
_GAP_GRID = np.linspace(-0.5, 0.5, 401)


@dataclass(frozen=True)
class TourParams:
    league: str
    serve_win: float  # tour-average share of service points won
    source: str


@cache
def load_params() -> dict[str, TourParams]:
    raw = json.loads(PARAMS_FILE.read_text())
    return {
        k: TourParams(league=k, serve_win=float(v["serve_win"]), source=str(v["source"]))
        for k, v in raw["leagues"].items()
    }


# ------------------------------------------------------------------ pieces


def game_table(p: np.ndarray) -> np.ndarray:
    """P(server wins the game) from points (i, j) = (server, receiver), i, j in 0..3; (3,3) is deuce."""
    q = 1.0 - p
    deuce = p * p / (p * p + q * q)
    t = np.zeros((5, 5) + p.shape)
    t[4, :3] = 1.0
    for i in range(3, -1, -1):
        for j in range(3, -1, -1):
            t[i, j] = deuce if (i, j) == (3, 3) else p * t[i + 1, j] + q * t[i, j + 1]
    return t[:4, :4]


def game_from(table: np.ndarray, p: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """P(server wins the game) from any legal point score, advantages included."""
    lane = np.arange(p.shape[0])
    both = (i >= 3) & (j >= 3)
    d = i - j
    deuce = table[3, 3, lane]
    adv = np.where(d > 0, p + (1 - p) * deuce, np.where(d < 0, p * deuce, deuce))
    plain = table[np.minimum(i, 3), np.minimum(j, 3), lane]
    return np.where(both, adv, plain)


def tiebreak_table(pa: np.ndarray, pb: np.ndarray, target: int) -> np.ndarray:
    """P(a wins the tiebreak) from (a points, b points), for starter a (0) and b (1).

    Shape (2, target + 2, target + 2, N). The server of point k is the starter
    when ((k + 1) // 2) is even.
    """
    n = target + 2
    tie = pa * (1 - pb) / (pa * (1 - pb) + (1 - pa) * pb)
    out = np.zeros((2, n, n) + pa.shape)
    for starter in (0, 1):
        t = out[starter]
        for i in range(n - 1, -1, -1):
            for j in range(n - 1, -1, -1):
                if i >= target and i - j >= 2:
                    t[i, j] = 1.0
                elif j >= target and j - i >= 2:
                    t[i, j] = 0.0
                elif i >= target and j >= target:
                    t[i, j] = tie
                else:
                    k = i + j
                    a_serves = (((k + 1) // 2) % 2 == 0) == (starter == 0)
                    w = pa if a_serves else 1 - pb
                    t[i, j] = w * t[i + 1, j] + (1 - w) * t[i, j + 1]
    return out


def tiebreak_index(i: np.ndarray, j: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold long tiebreaks back into the table: minus 2 points each keeps the serve pattern."""
    m = np.maximum(np.minimum(i, j) - (target - 1), 0)
    m = (m + 1) // 2 * 2
    return i - m, j - m


def set_table(hold_a: np.ndarray, hold_b: np.ndarray, tb: np.ndarray) -> np.ndarray:
    """Joint P(set winner, next set's first server) from games (i, j) with `srv` to serve.

    Shape (8, 8, 2 srv, 2 winner, 2 next server, N); winner/next server 0 = a, 1 = b.
    """
    out = np.zeros((8, 8, 2, 2, 2) + hold_a.shape)
    for i in range(7, -1, -1):
        for j in range(7, -1, -1):
            for srv in (0, 1):
                cell = out[i, j, srv]
                if i >= 6 and i - j >= 2 or i == 7:
                    cell[0, srv] = 1.0
                elif j >= 6 and j - i >= 2 or j == 7:
                    cell[1, srv] = 1.0
                elif i == 6 and j == 6:
                    p = tb[srv, 0, 0]
                    cell[0, 1 - srv] = p
                    cell[1, 1 - srv] = 1 - p
                else:
                    g = hold_a if srv == 0 else 1 - hold_b
                    cell[:] = g * out[i + 1, j, 1 - srv] + (1 - g) * out[i, j + 1, 1 - srv]
    return out


def match_table(first: np.ndarray, decider: np.ndarray, to_win: int) -> np.ndarray:
    """P(a wins the match) from sets (sa, sb) with `srv` to serve first in the next set.

    Shape (to_win + 1, to_win + 1, 2, N). `first` is the 0-0 slice of an ordinary
    set table, `decider` of the final set's (its tiebreak may be longer).
    """
    out = np.zeros((to_win + 1, to_win + 1, 2) + first.shape[-1:])
    out[to_win, :to_win] = 1.0
    for sa in range(to_win - 1, -1, -1):
        for sb in range(to_win - 1, -1, -1):
            joint = decider if sa == sb == to_win - 1 else first
            for srv in (0, 1):
                out[sa, sb, srv] = sum(
                    joint[srv, 0, nxt] * out[sa + 1, sb, nxt] + joint[srv, 1, nxt] * out[sa, sb + 1, nxt]
                    for nxt in (0, 1)
                )
    return out


# ------------------------------------------------------------------ the model


@dataclass(frozen=True)
class _Score:
    sets_a: int
    sets_b: int
    games_a: int
    games_b: int
    points_a: int
    points_b: int
    server: int  # 0 = a, 1 = b
    best_of: int
    final_tb: int


class TennisModel:
    """ATP/WTA match win probability from the live score and serve strengths."""

    name = "tennis-markov"
    version = "1"

    def __init__(self, league: str) -> None:
        params = load_params()
        if league not in params:
            raise UnknownLeague(f"no tennis parameters for league {league!r}")
        self.league = league
        self.params = params[league]

    def outcomes(self, state: EventState) -> tuple[str, ...]:
        return ("a", "b")

    def probabilities(self, state: EventState) -> dict[str, float]:
        row = self.probabilities_batch([state])[0]
        return {"a": float(row[0]), "b": float(row[1])}

    def probabilities_batch(self, states: Sequence[EventState]) -> np.ndarray:
        out = np.empty((len(states), 2))
        live: list[int] = []
        scores: list[_Score] = []
        serve: list[tuple[float, float]] = []
        for i, st in enumerate(states):
            sc = self._score(st)
            decided = self._decided(st, sc)
            if decided is not None:
                out[i] = decided
                continue
            live.append(i)
            scores.append(sc)
            serve.append(self._serve(st, sc.best_of))
        if live:
            pa = np.array([x[0] for x in serve])
            pb = np.array([x[1] for x in serve])
            p = match_win(pa, pb, scores)
            out[live] = squeeze(np.stack([p, 1 - p], axis=1))
        return out

    # ------------------------------------------------------------- helpers

    def pregame_curve(self, best_of: int) -> np.ndarray:
        """Pre-match P(a wins) over the serve-gap grid (first server a coin toss)."""
        return _pregame_curve(self.params.serve_win, best_of)

    def _serve(self, st: EventState, best_of: int) -> tuple[float, float]:
        f = st.features
        if "p_serve_a" in f and "p_serve_b" in f:
            pa, pb = float(f["p_serve_a"]), float(f["p_serve_b"])
        elif "p_pregame_a" in f:
            gap = float(np.interp(f["p_pregame_a"], self.pregame_curve(best_of), _GAP_GRID))
            pa, pb = self.params.serve_win + gap / 2, self.params.serve_win - gap / 2
        else:
            raise StateNotModelable(
                f"{self.league} state {st.state_id}: needs p_serve_a/p_serve_b or p_pregame_a"
            )
        if not (0.05 <= pa <= 0.98 and 0.05 <= pb <= 0.98):
            raise StateNotModelable(f"{self.league} state {st.state_id}: serve probabilities {pa}, {pb}")
        return pa, pb

    def _score(self, st: EventState) -> _Score:
        f = st.features
        best_of = int(f.get("best_of", 3))
        if best_of not in (3, 5):
            raise StateNotModelable(f"{self.league} state {st.state_id}: best_of {best_of}")
        server = int(f.get("server", 0))
        if st.status not in (EventStatus.SCHEDULED, EventStatus.FINAL) and "server" not in f:
            raise StateNotModelable(f"{self.league} state {st.state_id}: live state without server")
        final_tb = int(f.get("final_set_tb_points", 10 if best_of == 5 else 7))
        sc = _Score(
            sets_a=int(f.get("sets_a", 0)),
            sets_b=int(f.get("sets_b", 0)),
            games_a=int(f.get("games_a", 0)),
            games_b=int(f.get("games_b", 0)),
            points_a=int(f.get("points_a", 0)),
            points_b=int(f.get("points_b", 0)),
            server=server,
            best_of=best_of,
            final_tb=final_tb,
        )
        if max(sc.games_a, sc.games_b) > 7 or min(sc.sets_a, sc.sets_b) < 0:
            raise StateNotModelable(f"{self.league} state {st.state_id}: impossible score {sc}")
        return sc

    def _decided(self, st: EventState, sc: _Score) -> np.ndarray | None:
        to_win = (sc.best_of + 1) // 2
        if st.status == EventStatus.FINAL:
            if st.winner in ("a", "b"):
                return np.array([1.0, 0.0]) if st.winner == "a" else np.array([0.0, 1.0])
            if sc.sets_a == to_win or sc.sets_b == to_win:
                return np.array([1.0, 0.0]) if sc.sets_a == to_win else np.array([0.0, 1.0])
            raise StateNotModelable(f"{self.league} final {st.state_id} without a winner")
        if sc.sets_a >= to_win or sc.sets_b >= to_win:
            return np.array([1.0, 0.0]) if sc.sets_a >= to_win else np.array([0.0, 1.0])
        return None


@cache
def _pregame_curve(serve_win: float, best_of: int) -> np.ndarray:
    pa = serve_win + _GAP_GRID / 2
    pb = serve_win - _GAP_GRID / 2
    tables = _tables(pa, pb, best_of, 10 if best_of == 5 else 7)
    m = tables[2]
    # m[0, 0, srv]: P(a wins) from 0-0 with `srv` serving first; before the toss either is as likely
    return 0.5 * (m[0, 0, 0] + m[0, 0, 1])


def _tables(
    pa: np.ndarray, pb: np.ndarray, best_of: int, final_tb: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(set table, decider set table, match table, tiebreak 7, final tiebreak) for lanes pa, pb."""
    hold_a = game_table(pa)[0, 0]
    hold_b = game_table(pb)[0, 0]
    tb7 = tiebreak_table(pa, pb, 7)
    tbf = tb7 if final_tb == 7 else tiebreak_table(pa, pb, final_tb)
    sets = set_table(hold_a, hold_b, tb7)
    decider = sets if final_tb == 7 else set_table(hold_a, hold_b, tbf)
    match = match_table(sets[0, 0], decider[0, 0], (best_of + 1) // 2)
    return sets, decider, match, tb7, tbf


def match_win(pa: np.ndarray, pb: np.ndarray, scores: list[_Score]) -> np.ndarray:
    """P(a wins the match) for each lane's live score."""
    result = np.zeros(len(scores))
    keys = sorted({(s.best_of, s.final_tb) for s in scores})
    for best_of, final_tb in keys:
        idx = np.array([i for i, s in enumerate(scores) if (s.best_of, s.final_tb) == (best_of, final_tb)])
        sub = [scores[i] for i in idx]
        result[idx] = _match_win_group(pa[idx], pb[idx], sub, best_of, final_tb)
    return result


def _match_win_group(
    pa: np.ndarray, pb: np.ndarray, sc: list[_Score], best_of: int, final_tb: int
) -> np.ndarray:
    sets, decider, match, tb7, tbf = _tables(pa, pb, best_of, final_tb)
    lane = np.arange(len(sc))
    to_win = (best_of + 1) // 2
    col = lambda name: np.array([getattr(s, name) for s in sc])  # noqa: E731
    sa, sb, ga, gb = col("sets_a"), col("sets_b"), col("games_a"), col("games_b")
    pta, ptb, srv = col("points_a"), col("points_b"), col("server")
    is_decider = (sa == to_win - 1) & (sb == to_win - 1)
    in_tb = (ga == 6) & (gb == 6)

    # Regular game in progress: P(a wins it), then the set from the next game score.
    g_a = game_from(game_table(pa), pa, pta, ptb)
    g_b = 1 - game_from(game_table(pb), pb, ptb, pta)
    win_game = np.where(srv == 0, g_a, g_b)
    nxt_srv = 1 - srv
    dec = is_decider[:, None, None]
    ia, ib = np.minimum(ga + 1, 7), np.minimum(gb + 1, 7)
    up_a = np.where(dec, decider[ia, gb, nxt_srv, :, :, lane], sets[ia, gb, nxt_srv, :, :, lane])  # (N, winner, next)
    up_b = np.where(dec, decider[ga, ib, nxt_srv, :, :, lane], sets[ga, ib, nxt_srv, :, :, lane])
    joint_game = win_game[:, None, None] * up_a + (1 - win_game)[:, None, None] * up_b

    # Tiebreak in progress: the starter follows from the point count and who serves now.
    k = pta + ptb
    starter = np.where(((k + 1) // 2) % 2 == 0, srv, 1 - srv)
    p_tb = np.empty(len(sc))
    for target, table in ((7, tb7), (final_tb, tbf)):
        use = in_tb & ((is_decider & (final_tb == target)) | (~is_decider & (target == 7)))
        i, j = tiebreak_index(pta, ptb, target)
        vals = table[starter, np.clip(i, 0, target + 1), np.clip(j, 0, target + 1), lane]
        p_tb = np.where(use, vals, p_tb)
    joint_tb = np.zeros((len(sc), 2, 2))
    joint_tb[lane, 0, 1 - starter] = p_tb
    joint_tb[lane, 1, 1 - starter] = 1 - p_tb
    joint = np.where(in_tb[:, None, None], joint_tb, joint_game)

    # Match from the set result.
    after_a = match[np.minimum(sa + 1, to_win)[:, None], sb[:, None], np.arange(2)[None, :], lane[:, None]]
    after_b = match[sa[:, None], np.minimum(sb + 1, to_win)[:, None], np.arange(2)[None, :], lane[:, None]]
    return np.sum(joint[:, 0, :] * after_a + joint[:, 1, :] * after_b, axis=1)
