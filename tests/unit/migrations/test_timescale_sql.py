"""Both branches' SQL parses as PostgreSQL (the integration tests run each branch on its own server)."""

from __future__ import annotations

import importlib.util
import re
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
columnstore = _load("0007_columnstore_and_daily_pnl")


@pytest.mark.parametrize("stmt", timeseries.TIMESCALE_STATEMENTS + timeseries.PLAIN_STATEMENTS
                         + (columnstore.DAILY_PERFORMANCE, columnstore.OHLC, *columnstore.compression_statements(),
                            *columnstore.decompression_statements()))
def test_statement_parses_as_postgresql(stmt: str) -> None:
    assert len(pglast.parse_sql(stmt)) == 1


def test_both_paths_define_the_same_relations_and_may_run_again() -> None:
    for name in ("quote_ohlc_hourly", "daily_performance"):
        assert any(re.search(rf"VIEW IF NOT EXISTS {name}\b", s) for s in timeseries.TIMESCALE_STATEMENTS)
        assert any(re.search(rf"OR REPLACE VIEW {name}\b", s) for s in timeseries.PLAIN_STATEMENTS)
    policies = [s for s in timeseries.TIMESCALE_STATEMENTS if "add_" in s or "create_hypertable" in s]
    assert policies and all("if_not_exists => TRUE" in s for s in policies)
    assert all("IF NOT EXISTS" in s or "OR REPLACE" in s for s in timeseries.PLAIN_STATEMENTS)


def test_quotes_and_raw_feeds_compress_by_market_and_by_source_in_time_order() -> None:
    alters = [s for s in columnstore.compression_statements() if s.startswith("ALTER TABLE")]
    assert alters == [
        "ALTER TABLE quotes SET (timescaledb.compress, timescaledb.compress_segmentby = 'venue, market_id', "
        "timescaledb.compress_orderby = 'ts DESC')",
        "ALTER TABLE raw_feeds SET (timescaledb.compress, timescaledb.compress_segmentby = 'source, endpoint', "
        "timescaledb.compress_orderby = 'ts DESC')",
    ]


def test_every_timeseries_table_is_a_hypertable_and_raw_series_are_retained_30_days() -> None:
    hyper = [s for s in timeseries.TIMESCALE_STATEMENTS if "create_hypertable" in s]
    assert len(hyper) == len(timeseries.TIMESERIES)
    retention = [s for s in timeseries.TIMESCALE_STATEMENTS if "add_retention_policy" in s]
    assert {s.split("'")[1] for s in retention} == set(timeseries.RETAINED_30_DAYS)
    assert all("INTERVAL '30 days'" in s for s in retention)
    assert "archived_games" not in " ".join(timeseries.TIMESCALE_STATEMENTS)
