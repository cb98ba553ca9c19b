"""The TimescaleDB branch cannot run here (no extension); its SQL is at least parsed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pglast
import pytest

VERSIONS = Path(__file__).resolve().parents[3] / "migrations" / "versions"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, VERSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


timeseries = _load("0002_timeseries")


@pytest.mark.parametrize("stmt", timeseries.TIMESCALE_STATEMENTS + timeseries.PLAIN_STATEMENTS)
def test_statement_parses_as_postgresql(stmt: str) -> None:
    assert len(pglast.parse_sql(stmt)) == 1


def test_both_paths_define_the_same_relations() -> None:
    for name in ("quote_ohlc_hourly", "daily_performance"):
        assert any(f"VIEW {name}" in s for s in timeseries.TIMESCALE_STATEMENTS)
        assert any(f"VIEW {name}" in s for s in timeseries.PLAIN_STATEMENTS)


def test_every_timeseries_table_is_a_hypertable_and_raw_series_are_retained_30_days() -> None:
    hyper = [s for s in timeseries.TIMESCALE_STATEMENTS if "create_hypertable" in s]
    assert len(hyper) == len(timeseries.TIMESERIES)
    retention = [s for s in timeseries.TIMESCALE_STATEMENTS if "add_retention_policy" in s]
    assert {s.split("'")[1] for s in retention} == set(timeseries.RETAINED_30_DAYS)
    assert all("INTERVAL '30 days'" in s for s in retention)
    assert "archived_games" not in " ".join(timeseries.TIMESCALE_STATEMENTS)
