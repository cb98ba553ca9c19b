"""Sweep specs (ops/backtest/sweep.py): names resolved against arbees.toml, the cross product, variant settings files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ops.backtest.records import BacktestError
from ops.backtest.sweep import Variant, parse_sweep, to_toml, variant_settings
from streams.config_file import DEFAULT_PATH, load


def test_specs_become_the_cross_product_first_key_slowest() -> None:
    variants = parse_sweep(["min_edge=0.05,0.10", "kelly=0.25,0.5", "trading.risk.max_orders_per_minute=5"])
    assert [v.params for v in variants] == [
        {"min_edge": 0.05, "kelly": 0.25, "trading.risk.max_orders_per_minute": 5},
        {"min_edge": 0.05, "kelly": 0.5, "trading.risk.max_orders_per_minute": 5},
        {"min_edge": 0.10, "kelly": 0.25, "trading.risk.max_orders_per_minute": 5},
        {"min_edge": 0.10, "kelly": 0.5, "trading.risk.max_orders_per_minute": 5}]
    assert variants[0].overrides[0] == ("shard.min_edge", 0.05)
    assert parse_sweep(["stale_quote_ms=5000"])[0].overrides == (("shard.stale_quote_ms", 5000),)


@pytest.mark.parametrize("spec", ["min_edge", "no_such_key=1", "min_edge=", "=0.1"])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(BacktestError):
        parse_sweep([spec])


def test_a_variant_file_is_the_base_file_with_its_overrides(tmp_path: Path) -> None:
    text = variant_settings(None, Variant((("shard.min_edge", 0.3), ("trading.sizing.kelly_fraction", 0.5))))
    doc = tomllib.loads(text)
    base = tomllib.loads(DEFAULT_PATH.read_text())
    assert doc["shard"]["min_edge"] == 0.3 and doc["trading"]["sizing"]["kelly_fraction"] == 0.5
    base["shard"]["min_edge"], base["trading"]["sizing"]["kelly_fraction"] = 0.3, 0.5
    assert doc == base  # nothing else changed, every table kept
    path = tmp_path / "v.toml"
    path.write_text(text)
    config = load(path, env={})
    assert config.shard.min_edge == 0.3 and config.trading.sizing.kelly_fraction == 0.5
    assert tomllib.loads(to_toml(base)) == base
