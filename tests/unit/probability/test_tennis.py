"""Tennis Markov chain: closed forms, an independent recursive oracle, limits, properties."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.enums import EventStatus
from schemas.records import EventState
from streams.probability.base import P_MAX, P_MIN, StateNotModelable, UnknownLeague
from streams.probability.tennis import TennisModel, game_table

ATP = TennisModel("atp")
WTA = TennisModel("wta")


def state(status: EventStatus = EventStatus.LIVE, winner: str | None = None, **features: float) -> EventState:
    f = {"server": 0.0, **features}
    return EventState(state_id="s", event_id="e", ts=0, league="atp", status=status, winner=winner, features=f)


# --------------------------------------------------------------- the oracle


def oracle(pa: float, pb: float, best_of: int, final_tb: int, score: tuple[int, ...]) -> float:
    """P(a wins) by plain recursion over the rules, written independently of the model's tables."""
    n = (best_of + 1) // 2
    tie = pa * (1 - pb) / (pa * (1 - pb) + (1 - pa) * pb)

    @lru_cache(maxsize=None)
    def win(sa: int, sb: int, ga: int, gb: int, xa: int, xb: int, srv: int, starter: int) -> float:
        if sa == n:
            return 1.0
        if sb == n:
            return 0.0
        after_a = lambda nxt: win(sa + 1, sb, 0, 0, 0, 0, nxt, -1)  # noqa: E731
        after_b = lambda nxt: win(sa, sb + 1, 0, 0, 0, 0, nxt, -1)  # noqa: E731
        if ga == 6 and gb == 6:  # tiebreak to t, won by two
            t = final_tb if sa == sb == n - 1 else 7
            if starter < 0:
                starter = srv
            if xa >= t and xa - xb >= 2:
                return after_a(1 - starter)
            if xb >= t and xb - xa >= 2:
                return after_b(1 - starter)
            if xa == xb and xa >= t - 1:
                return tie * after_a(1 - starter) + (1 - tie) * after_b(1 - starter)
            k = xa + xb
            point_server = starter if ((k + 1) // 2) % 2 == 0 else 1 - starter
            w = pa if point_server == 0 else 1 - pb
            return w * win(sa, sb, ga, gb, xa + 1, xb, srv, starter) + (1 - w) * win(sa, sb, ga, gb, xa, xb + 1, srv, starter)
        if (ga >= 6 and ga - gb >= 2) or ga == 7:
            return after_a(srv)
        if (gb >= 6 and gb - ga >= 2) or gb == 7:
            return after_b(srv)
        game_a = lambda: win(sa, sb, ga + 1, gb, 0, 0, 1 - srv, -1)  # noqa: E731
        game_b = lambda: win(sa, sb, ga, gb + 1, 0, 0, 1 - srv, -1)  # noqa: E731
        if xa >= 4 and xa - xb >= 2:
            return game_a()
        if xb >= 4 and xb - xa >= 2:
            return game_b()
        w = pa if srv == 0 else 1 - pb  # P(a wins this point)
        if xa >= 3 and xb >= 3 and xa == xb:
            # Deuce: a wins the game by two points in a row before b does.
            d = w * w / (w * w + (1 - w) * (1 - w))
            return d * game_a() + (1 - d) * game_b()
        return w * win(sa, sb, ga, gb, xa + 1, xb, srv, starter) + (1 - w) * win(sa, sb, ga, gb, xa, xb + 1, srv, starter)

    sa, sb, ga, gb, xa, xb, srv = score
    starter = -1
    if ga == 6 and gb == 6:
        k = xa + xb
        starter = srv if ((k + 1) // 2) % 2 == 0 else 1 - srv
    return win(sa, sb, ga, gb, xa, xb, srv, starter)


@st.composite
def live_scores(draw: st.DrawFn) -> tuple[int, int, tuple[int, ...]]:
    best_of = draw(st.sampled_from([3, 5]))
    n = (best_of + 1) // 2
    final_tb = 10 if best_of == 5 else 7
    sa, sb = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
    ga = draw(st.integers(0, 6))
    gb = draw(st.integers(0, 6 if ga >= 5 else 5 if ga == 6 else 6))
    if ga == 6 and gb < 5:
        gb = 5
    if gb == 6 and ga < 5:
        ga = 5
    srv = draw(st.integers(0, 1))
    if ga == 6 and gb == 6:
        t = final_tb if sa == sb == n - 1 else 7
        xa = draw(st.integers(0, t + 3))
        xb = draw(st.integers(max(0, xa - 1) if xa >= t else 0, xa + 1 if xa >= t - 1 else t - 1))
    else:
        xa = draw(st.integers(0, 6))
        xb = draw(st.integers(max(0, xa - 1), xa + 1) if xa >= 4 else st.integers(0, 3 if xa < 3 else 4))
    return best_of, final_tb, (sa, sb, ga, gb, xa, xb, srv)


def to_state(best_of: int, score: tuple[int, ...], pa: float, pb: float) -> EventState:
    sa, sb, ga, gb, xa, xb, srv = score
    return state(
        sets_a=sa, sets_b=sb, games_a=ga, games_b=gb, points_a=xa, points_b=xb, server=srv,
        best_of=best_of, p_serve_a=pa, p_serve_b=pb,
    )


@settings(max_examples=80, deadline=None)
@given(live_scores(), st.floats(0.45, 0.8), st.floats(0.45, 0.8))
def test_model_equals_oracle(score: tuple[int, int, tuple[int, ...]], pa: float, pb: float) -> None:
    best_of, final_tb, sc = score
    expected = oracle(pa, pb, best_of, final_tb, sc)
    got = ATP.probabilities(to_state(best_of, sc, pa, pb))["a"]
    assert got == pytest.approx(min(max(P_MIN + (1 - 2 * P_MIN) * expected, P_MIN), P_MAX), abs=1e-9)


# ------------------------------------------------------------ closed forms


def test_hold_probability_closed_form() -> None:
    p = np.array([0.5, 0.64, 0.75])
    q = 1 - p
    closed = p**4 * (1 + 4 * q + 10 * q**2) + 20 * p**3 * q**3 * p**2 / (1 - 2 * p * q)
    np.testing.assert_allclose(game_table(p)[0, 0], closed, atol=1e-12)


def test_equal_players_are_even_and_serve_matters_within_a_game() -> None:
    assert ATP.probabilities(state(p_serve_a=0.64, p_serve_b=0.64))["a"] == pytest.approx(0.5, abs=1e-12)
    # 0-40 on a's serve, 6-6 in sets... a single game down 0-40 is a big hole but not the match.
    p = ATP.probabilities(state(p_serve_a=0.64, p_serve_b=0.64, points_a=0, points_b=3))["a"]
    assert 0.35 < p < 0.5


def test_tied_at_start_equals_prior() -> None:
    for model in (ATP, WTA):
        for best_of in (3, 5):
            for p0 in (0.2, 0.5, 0.65, 0.9):
                s = state(status=EventStatus.SCHEDULED, p_pregame_a=p0, best_of=best_of)
                assert model.probabilities(s)["a"] == pytest.approx(p0, abs=1e-3)


def test_final_and_decided() -> None:
    assert ATP.probabilities(state(EventStatus.FINAL, winner="b", sets_a=1, sets_b=1)) == {"a": 0.0, "b": 1.0}
    assert ATP.probabilities(state(EventStatus.FINAL, sets_a=2, sets_b=1)) == {"a": 1.0, "b": 0.0}
    with pytest.raises(StateNotModelable):
        ATP.probabilities(state(EventStatus.FINAL, sets_a=1, sets_b=1))


def test_match_point_in_decider_tiebreak() -> None:
    # Best of five, 2-2 in sets, 6-6, first to 10: 9-8 with a serving the next point.
    s = state(sets_a=2, sets_b=2, games_a=6, games_b=6, points_a=9, points_b=8, server=0, best_of=5, p_serve_a=0.64, p_serve_b=0.64)
    tie = 0.5
    assert ATP.probabilities(s)["a"] == pytest.approx(P_MIN + (1 - 2 * P_MIN) * (0.64 + 0.36 * tie), abs=1e-9)


def test_errors_are_explicit() -> None:
    with pytest.raises(UnknownLeague):
        TennisModel("itf")
    with pytest.raises(StateNotModelable):
        ATP.probabilities(state())  # no serve strengths, no price
    with pytest.raises(StateNotModelable):
        ATP.probabilities(state(p_pregame_a=0.5, best_of=4))


# -------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(live_scores(), st.floats(0.45, 0.8), st.floats(0.45, 0.8))
def test_bounds_sum_and_monotone_in_score(score: tuple[int, int, tuple[int, ...]], pa: float, pb: float) -> None:
    best_of, final_tb, sc = score
    row = ATP.probabilities_batch([to_state(best_of, sc, pa, pb)])[0]
    assert np.all(row >= P_MIN) and np.all(row <= P_MAX)
    assert row.sum() == pytest.approx(1.0, abs=1e-12)
    sa, sb, ga, gb, xa, xb, srv = sc
    now = row[0]
    in_tb = ga == 6 and gb == 6
    t = final_tb if sa == sb == (best_of - 1) // 2 else 7
    ends = (xa + 1 >= t and xa + 1 - xb >= 2) if in_tb else (xa >= 3 and xa > xb)
    if not ends:  # winning the next point never lowers a's chances
        up = ATP.probabilities(to_state(best_of, (sa, sb, ga, gb, xa + 1, xb, srv), pa, pb))["a"]
        assert up >= now - 1e-12
    if ga < 5 and gb < 5:  # nor does one more game, same server to come
        g0 = ATP.probabilities(to_state(best_of, (sa, sb, ga, gb, 0, 0, srv), pa, pb))["a"]
        g1 = ATP.probabilities(to_state(best_of, (sa, sb, ga + 1, gb, 0, 0, srv), pa, pb))["a"]
        assert g1 >= g0 - 1e-12


def test_better_server_more_likely() -> None:
    ps = [ATP.probabilities(state(p_serve_a=x, p_serve_b=0.64))["a"] for x in (0.55, 0.6, 0.64, 0.7, 0.75)]
    assert all(b > a for a, b in zip(ps, ps[1:]))


def test_batch_equals_scalar_with_mixed_formats() -> None:
    rng = np.random.default_rng(3)
    states = []
    for _ in range(40):
        best_of = int(rng.choice([3, 5]))
        n = (best_of + 1) // 2
        states.append(
            state(
                sets_a=int(rng.integers(0, n)), sets_b=int(rng.integers(0, n)), games_a=int(rng.integers(0, 6)),
                games_b=int(rng.integers(0, 6)), points_a=int(rng.integers(0, 4)), points_b=int(rng.integers(0, 4)),
                server=int(rng.integers(0, 2)), best_of=best_of, p_pregame_a=float(rng.uniform(0.2, 0.8)),
            )
        )
    states.append(state(sets_a=1, sets_b=1, games_a=6, games_b=6, points_a=5, points_b=4, p_serve_a=0.6, p_serve_b=0.62))
    states.append(state(EventStatus.FINAL, winner="a"))
    batch = ATP.probabilities_batch(states)
    scalar = np.array([[ATP.probabilities(s)["a"], ATP.probabilities(s)["b"]] for s in states])
    np.testing.assert_allclose(batch, scalar, rtol=0, atol=1e-12)
