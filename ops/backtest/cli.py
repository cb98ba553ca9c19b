"""`arbees backtest`: replay a range of the input topics through either engine and print what it traded.

Mounted in ops/cli.py with `app.add_typer(backtest_app)` (the command is top-level: `arbees backtest`).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ops.backtest.compare import compare_runs
from ops.backtest.inprocess import DEFAULT_BANKROLL_MICROS, BacktestConfig, InProcessEngine
from ops.backtest.records import BacktestError, BacktestResult, Summary
from ops.stack import kafka_bootstrap
from streams.config_file import ConfigError

backtest_app = typer.Typer(help="Backtests over the recorded topics.")
console = Console()


class Engine(str, Enum):
    inprocess = "inprocess"
    kafka = "kafka"
    both = "both"


def parse_time(text: str | None) -> int | None:
    """Epoch milliseconds, or an ISO 8601 time (UTC when it names no zone)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither epoch milliseconds nor an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def _dollars(micros: int) -> str:
    sign = "-" if micros < 0 else ""
    return f"{sign}${abs(micros) / 1_000_000:,.2f}"


def summary_table(rows: list[tuple[str, Summary]]) -> Table:
    table = Table(title="backtest")
    table.add_column("engine")
    for name in ("inputs", "events/s", "signals", "orders", "fills", "fees", "realized P&L", "unrealized P&L", "balance"):
        table.add_column(name, justify="right")
    for engine, s in rows:
        table.add_row(
            engine, str(s.inputs), f"{s.inputs / s.seconds:,.0f}" if s.seconds > 0 else "-", str(s.signals), str(s.orders),
            str(s.fills), _dollars(s.fees_micros), _dollars(s.realized_pnl_micros), _dollars(s.unrealized_pnl_micros),
            _dollars(s.end_balance_micros),
        )
    return table


@backtest_app.command("backtest")
def backtest(
    engine: Engine = typer.Option(Engine.inprocess, help="inprocess (fast), kafka (a real worker) or both (and compare)."),
    start: str = typer.Option(None, "--from", help="Event time to start at: epoch ms or ISO 8601 (UTC by default)."),
    end: str = typer.Option(None, "--to", help="Event time to stop before: epoch ms or ISO 8601."),
    account: str = typer.Option("backtest", help="Paper account the run trades (Kafka runs should use a fresh one)."),
    bankroll: float = typer.Option(DEFAULT_BANKROLL_MICROS / 1_000_000, help="Starting bankroll in USD."),
    events: str = typer.Option("", help="Comma list of event id prefixes to trade; empty trades every event."),
    bootstrap: str = typer.Option(None, envvar="KAFKA_BOOTSTRAP", help="Kafka bootstrap (default 127.0.0.1:9092)."),
    work_dir: Path = typer.Option(Path(".stack") / "backtests", help="Where Kafka runs keep their worker logs."),
    config_file: Path = typer.Option(None, "--config", envvar="ARBEES_CONFIG",
                                     help="Settings file (thresholds, sizing, risk, exits); default arbees.toml."),
) -> None:
    """Replay events.state, markets.catalog, markets.links and markets.quotes through discovery → shard → trading."""
    from ops.backtest.kafka import KafkaEngine
    from ops.backtest.source import read_inputs

    servers = bootstrap or kafka_bootstrap()
    config = BacktestConfig(account=account, bankroll_micros=round(bankroll * 1_000_000),
                            events=tuple(e.strip() for e in events.split(",") if e.strip()),
                            config_file=str(config_file) if config_file else "")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    results: list[tuple[str, BacktestResult]] = []
    try:
        config.settings()  # a missing or wrong settings file stops here, before any replay
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("read input", total=None)
            read = read_inputs(servers, parse_time(start), parse_time(end),
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
            bar.update(task, completed=len(read.records), total=len(read.records))
            if read.dead:
                console.print(f"[yellow]{len(read.dead)} undecodable input records skipped[/yellow]")
            if not read.records:
                raise BacktestError("no input records in that range")
            if engine in (Engine.inprocess, Engine.both):
                task = bar.add_task("in-process", total=len(read.records))
                results.append(("inprocess", InProcessEngine(config).run(
                    read.records, progress=lambda done, total: bar.update(task, completed=done, total=total))))
            if engine in (Engine.kafka, Engine.both):
                task = bar.add_task("kafka: produce", total=len(read.records))
                kafka = KafkaEngine(servers, config, work_dir=work_dir)
                results.append(("kafka", kafka.run(
                    read.records, progress=lambda _stage, done, total: bar.update(task, completed=done, total=total))))
                if kafka.info is not None:
                    console.print(f"kafka run {kafka.info.app_id}: worker log {kafka.info.log}")
    except (BacktestError, ConfigError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(summary_table([(name, r.summary(account)) for name, r in results]))
    if len(results) == 2:
        agreement = compare_runs(results[0][1], results[1][1])
        verdict = "[green]identical[/green]" if agreement.signals_and_probabilities else "[red]different[/red]"
        console.print(f"signals and probabilities per event: {verdict}; orders {'equal' if agreement.orders else 'differ'}")
        for line in agreement.differences[:10]:
            console.print(f"  {line}")


def main() -> None:
    backtest_app()
