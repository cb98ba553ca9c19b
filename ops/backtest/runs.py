"""A backtest run of its own: a unique run id, and its results in the database tagged with it.

The run id is the only value of a run that depends on when it ran (`bt-<UTC time>-<random>`);
the outputs, figures and report do not. `store_run` writes the tables of migration 0009 in
one transaction: the run, its trades, and its outputs as Avro wire bytes in production order.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone

from ops.backtest.records import BacktestResult
from ops.report.build import RunReport
from ops.sink.store import conninfo
from schemas.codec import default_codec

#: The outputs kept per run in `backtest_outputs`, by BacktestResult attribute.
STORED = ("signals", "orders", "fills", "positions", "ledger", "risk")


def new_run_id(now: datetime | None = None) -> str:
    """`bt-20261206T053000-3f9a1c`: sortable by start, unique by its random tail."""
    when = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S")
    return f"bt-{when}-{secrets.token_hex(3)}"


def account_for(run_id: str) -> str:
    """The paper account a Kafka run trades: its own, so nothing of it mixes with a live or another run's account."""
    return run_id


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def store_run(database_url: str, report: RunReport, result: BacktestResult) -> int:
    """Write the run, its trades and outputs; returns the rows written. A run id already stored is an error."""
    import psycopg

    m = report.meta
    codec = default_codec()
    rows = 0
    with psycopg.connect(conninfo(database_url), application_name="arbees-backtest") as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO backtest_runs (run_id, created_at, engine, input, account, params, inputs, digest, figures) "
            "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s::jsonb)",
            (m.run_id, datetime.now(timezone.utc), m.engine, m.input, m.account, json.dumps(m.params, sort_keys=True),
             m.inputs, m.digest, json.dumps(report.figures.as_dict(), sort_keys=True, allow_nan=False)))
        rows += 1
        with cur.copy("COPY backtest_trades (run_id, trade_id, event_id, venue, market_id, side, market_type, league, "
                      "entry_ts, exit_ts, exit_kind, quantity, entry_price_micros, exit_price_micros, cost_micros, "
                      "gross_pnl_micros, fees_micros, net_pnl_micros, model_p, market_p, edge) FROM STDIN") as copy:
            for t in report.trades:
                copy.write_row((m.run_id, t.trade_id, t.event_id, t.venue, t.market_id, t.side, t.market_type, t.league,
                                _at(t.entry_ts), _at(t.exit_ts), t.exit_kind, t.quantity, t.entry_price_micros,
                                t.exit_price_micros, t.cost_micros, t.gross_pnl_micros, t.fees_micros,
                                t.net_pnl_micros, t.model_p, t.market_p, t.edge))
                rows += 1
        with cur.copy("COPY backtest_outputs (run_id, topic, seq, ts, value) FROM STDIN") as copy:
            for name in STORED:
                for seq, rec in enumerate(getattr(result, name)):
                    copy.write_row((m.run_id, name, seq, _at(rec.ts), codec.encode(rec)))
                    rows += 1
    return rows
