"""Vectorized and scalar reference give identical results on any books (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.shard.arbitrage import arbitrage
from streams.shard.edges import LadderRows, model_edges
from streams.shard.scalar_reference import arbitrage_rows, model_edges_rows

VENUES = st.sampled_from([(0, 70_000, 1), (0, 17_500, 1), (1, 30_000, 1), (1, 50_000, 1), (1, 250_000, 2)])


@st.composite
def ladder(draw: st.DrawFn) -> tuple[list[int], list[int], tuple[int, int, int]]:
    n = draw(st.integers(0, 8))
    prices = sorted(draw(st.sets(st.integers(1, 9_999), min_size=n, max_size=n)))
    sizes = [draw(st.integers(1, 5_000_000)) for _ in prices]
    return prices, sizes, draw(VENUES)


def stack(ladders: list[tuple[list[int], list[int], tuple[int, int, int]]]) -> LadderRows:
    width = max([len(p) for p, _, _ in ladders] + [1])
    p4 = np.zeros((len(ladders), width), np.int64)
    c100 = np.zeros((len(ladders), width), np.int64)
    for i, (p, c, _) in enumerate(ladders):
        p4[i, : len(p)], c100[i, : len(c)] = p, c
    v = np.array([x[2] for x in ladders], np.int64)
    return LadderRows(p4, c100, v[:, 0].copy(), v[:, 1].copy(), v[:, 2].copy())


def same(a: object, b: object) -> None:
    for name in a.__dataclass_fields__:  # type: ignore[attr-defined]
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype.kind == y.dtype.kind or {x.dtype.kind, y.dtype.kind} <= {"i", "f"}, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@settings(max_examples=200, deadline=None)
@given(st.lists(ladder(), min_size=1, max_size=12), st.data(), st.sampled_from([0.0, 0.05, 0.15]))
def test_model_edges_vectorized_equals_scalar(ladders, data, min_edge) -> None:  # type: ignore[no-untyped-def]
    p = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(ladders), max_size=len(ladders))))
    rows = stack(ladders)
    same(model_edges(rows, p, min_edge), model_edges_rows(rows, p, min_edge))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ladder(), ladder()), min_size=1, max_size=10), st.sampled_from([0, 5_000, 10_000]))
def test_arbitrage_vectorized_equals_scalar(pairs, min_profit) -> None:  # type: ignore[no-untyped-def]
    yes, no = stack([a for a, _ in pairs]), stack([b for _, b in pairs])
    same(arbitrage(yes, no, min_profit), arbitrage_rows(yes, no, min_profit))
