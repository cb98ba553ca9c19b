"""`arbees stack up | down | status | logs`: the local broker and database for people.

Failures print supporting log lines, then exactly one line starting with
`error:` that says what to do, and exit 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ops import stack
from ops.stack import StackConfig, StackError

stack_app = typer.Typer(help="Local Kafka broker (KRaft) and PostgreSQL, no Docker needed.", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except StackError as exc:
        for line in exc.detail:
            err.print(line, style="dim", markup=False, highlight=False)
        err.print(f"error: {exc}", style="bold red", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _config() -> StackConfig:
    return _guard(StackConfig.from_env)


@stack_app.command()
def up(
    broker: bool = typer.Option(True, "--broker/--no-broker", help="Start the Kafka broker."),
    database: bool = typer.Option(True, "--database/--no-database", help="Start PostgreSQL."),
) -> None:
    """Start the broker and the database (harmless when they already run)."""
    config = _config()
    result = _guard(lambda: stack.up(config, with_broker=broker, with_database=database))
    stack.claim(config)
    if result.database is not None:
        db = result.database
        state = f"started in {db.seconds:.1f}s" if db.started else "already running"
        extra = " (installed Debian's postgresql package)" if db.installed_package else ""
        out.print(f"postgres  {state}, pid {db.pid}, PostgreSQL {db.major}{extra}")
    if result.broker is not None:
        kb = result.broker
        state = f"ready in {kb.seconds:.1f}s" if kb.started else "already running"
        jars = " (resolved jars from Maven Central)" if kb.jars_resolved else ""
        out.print(f"kafka     {state}, pid {kb.pid}, Apache Kafka {_kafka_version()}{jars}")
    plan = result.timescaledb
    if plan is not None:
        built = f", built in {plan.build_seconds:.0f}s" if plan.build_seconds is not None else ""
        path = "TimescaleDB" if plan.timescaledb else "plain PostgreSQL"
        out.print(f"database path: {path}{built} ({plan.reason})", markup=False)
    if result.broker is not None:
        out.print(f"KAFKA_BOOTSTRAP={result.bootstrap}")
    if result.database is not None:
        out.print(f"DATABASE_URL={result.database_url}")


def _kafka_version() -> str:
    from ops.kafka.broker import installed_version

    return installed_version() or "?"


@stack_app.command()
def down() -> None:
    """Stop the broker and the database; nothing is left running."""
    config = _config()
    from ops import worker
    from ops.run.main import stop_running

    running = stop_running(config.state_dir)
    out.print(f"arbees run stopped (pid {running}), every part with it" if running else "arbees run not running")
    out.print("worker    stopped" if worker.stop(config.state_dir) else "worker    not running")
    result = _guard(lambda: stack.down(config))
    for name, stopped in (("kafka", result.broker), ("postgres", result.database)):
        if stopped is None or stopped.pid is None:
            out.print(f"{name:<9} not running")
        else:
            how = "killed after the grace period" if stopped.killed else "stopped"
            out.print(f"{name:<9} {how} (pid {stopped.pid})")


@stack_app.command()
def status() -> None:
    """Broker, topics with end offsets, database and applied migrations. Exit 1 if anything is down."""
    config = _config()
    current = stack.status(config)
    kb = current.broker
    if kb.running:
        cluster = f"  cluster {kb.cluster_id}  controller {kb.controller_id}" if kb.cluster_id else ""
        out.print(
            f"[bold]kafka[/] running  pid {kb.pid}  Apache Kafka {kb.version or '?'}  "
            f"listener PLAINTEXT://{kb.listener}{cluster}"
        )
    else:
        out.print(f"[bold]kafka[/] [red]not running[/] (listener would be PLAINTEXT://{kb.listener})")
    if kb.error:
        out.print(f"  [red]{kb.error}[/]")
    if kb.running and not kb.error:
        if kb.topics:
            table = Table("topic", "partitions", "end offsets", "messages", box=None, pad_edge=False)
            for topic in kb.topics:
                offsets = " ".join(str(o) for o in topic.end_offsets)
                table.add_row(topic.name, str(topic.partitions), offsets, str(topic.messages))
            out.print(table)
        else:
            out.print("  no topics")
    db = current.database
    if db.running and not db.error:
        timescale = ("loaded" if db.timescaledb_loaded else "available, not loaded" if db.timescaledb_available
                     else "no")
        out.print(
            f"[bold]postgres[/] running  pid {db.pid}  PostgreSQL {db.server_version}  "
            f"timescaledb {timescale}  {db.url}"
        )
        if db.migrations:
            out.print("  migrations applied:")
            for migration in db.migrations:
                out.print(f"    {migration.revision}  {migration.description}", markup=False)
        else:
            out.print("  migrations applied: none")
    elif db.running:
        out.print(f"[bold]postgres[/] running  pid {db.pid}  [red]{db.error}[/]")
    else:
        out.print(f"[bold]postgres[/] [red]not running[/] ({db.url})")
    if not current.healthy:
        raise typer.Exit(1)


@stack_app.command()
def logs(lines: int = typer.Option(40, "--lines", "-n", help="Lines from the end of each log.")) -> None:
    """The last lines of the broker's and the database's logs."""
    config = _config()
    tails = stack.logs(config, lines)
    for title, path, content in (
        ("kafka", tails.broker_log, tails.broker),
        ("postgres", tails.database_log, tails.database),
    ):
        out.print(f"[bold]== {title}: {path}[/]")
        for line in content or ("(no log yet)",):
            out.print(line, markup=False, highlight=False)


if __name__ == "__main__":
    stack_app()
