"""Migration 0003's SQL, parsed as PostgreSQL (the database runs are in tests/integration)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pglast
import pytest

VERSIONS = Path(__file__).resolve().parents[3] / "migrations" / "versions"


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("m0003", VERSIONS / "0003_more_columns.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


m = _load()


@pytest.mark.parametrize(
    "stmt",
    [*m.add_column_statements(), *m.drop_column_statements(), *m.AUDIT_BACKFILL, m.LZ4_AVAILABLE, m.TIMESCALE_ON],
)
def test_statement_parses_as_postgresql(stmt: str) -> None:
    assert len(pglast.parse_sql(stmt)) == 1


def test_it_follows_0002() -> None:
    assert (m.revision, m.down_revision) == ("0003", "0002")


def test_downgrade_drops_exactly_what_upgrade_adds() -> None:
    added = {(s.split()[2], s.split()[5]) for s in m.add_column_statements()}
    dropped = {(s.split()[2], s.split()[-1]) for s in m.drop_column_statements()}
    assert added == dropped and len(added) == 10


def test_new_not_null_columns_have_a_constant_default_so_no_table_is_rewritten() -> None:
    for stmt in m.add_column_statements():
        coldef = pglast.parse_sql(stmt)[0].stmt.cmds[0].def_
        kinds = {c.contype.name for c in (coldef.constraints or ())}
        if "CONSTR_NOTNULL" in kinds:
            assert "CONSTR_DEFAULT" in kinds, stmt
            default = next(c for c in coldef.constraints if c.contype.name == "CONSTR_DEFAULT").raw_expr
            assert type(default).__name__ in ("A_Const", "TypeCast"), stmt


def test_the_ledger_key_gains_the_version_and_keeps_ts_for_timescaledb() -> None:
    assert m.LEDGER_KEY_NEW == ("entry_id", "version", "ts") and m.LEDGER_KEY_OLD == ("entry_id", "ts")
