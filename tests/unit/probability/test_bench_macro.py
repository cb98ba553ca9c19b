"""The crypto and economics benchmark on the real held-out data: each model beats both of its anchors."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from bench import models_macro


@pytest.fixture(scope="module")
def figures() -> dict[str, float | int | str]:
    return models_macro.run(Console(quiet=True))


@pytest.mark.parametrize("h", ["1h", "1d", "7d"])
def test_crypto_digital_beats_coin_flip_and_fixed_vol(figures: dict, h: str) -> None:
    k = f"models.crypto.{h}"
    assert figures[f"{k}.forecasts"] > 1_000
    assert figures[f"{k}.brier"] < figures[f"{k}.fixed_vol_brier"] < figures[f"{k}.coin_brier"] == 0.25


@pytest.mark.parametrize("name", ["cpi_mom", "unrate"])
def test_economics_beats_no_change_and_random_walk(figures: dict, name: str) -> None:
    k = f"models.economics.{name}"
    assert figures[f"{k}.forecasts"] == 945  # 189 held-out months x 5 thresholds
    assert figures[f"{k}.brier"] < min(figures[f"{k}.no_change.brier"], figures[f"{k}.random_walk.brier"])


def test_strikes_straddle_spot_and_outcomes_are_mixed() -> None:
    ts, px = models_macro.btc_daily()
    d = models_macro.digitals(ts, px, models_macro.DAY_MS, 30, range(30, 200))
    assert np.any(d.strike < d.spot) and np.any(d.strike > d.spot)
    assert 0.2 < d.outcome.mean() < 0.8
