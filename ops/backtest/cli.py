"""`arbees record` and `arbees backtest`: keep a range of topics in a file; replay a file or the topics as a run
of its own, with a report and parameter sweeps.

Mounted in ops/cli.py with `app.add_typer(backtest_app)` (the commands are top-level).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ops.backtest.compare import compare_runs
from ops.backtest.inprocess import DEFAULT_BANKROLL_MICROS, BacktestConfig
from ops.backtest.records import INPUT_TOPICS, BacktestError, BacktestResult, InputRecord, Summary, replay_order
from ops.backtest.source import ReadInput
from ops.stack import kafka_bootstrap
from streams.config_file import ConfigError

if TYPE_CHECKING:
    from ops.report.build import RunReport

backtest_app = typer.Typer(help="Recordings and backtests over the input topics.")
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


def _score(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def summary_table(rows: list[tuple[str, Summary]]) -> Table:
    table = Table(title="backtest")
    table.add_column("run")
    for name in ("inputs", "events/s", "signals", "orders", "fills", "fees", "realized P&L", "unrealized P&L", "balance"):
        table.add_column(name, justify="right")
    for engine, s in rows:
        table.add_row(
            engine, str(s.inputs), f"{s.inputs / s.seconds:,.0f}" if s.seconds > 0 else "-", str(s.signals), str(s.orders),
            str(s.fills), _dollars(s.fees_micros), _dollars(s.realized_pnl_micros), _dollars(s.unrealized_pnl_micros),
            _dollars(s.end_balance_micros),
        )
    return table


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("records · {task.fields[events]} events"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console, transient=False)


def events_seen(records: list[InputRecord]) -> list[int]:
    """Distinct events among the first i+1 records in replay order: the progress display's "events processed"."""
    seen: set[str] = set()
    out = []
    for r in replay_order(records):
        event = getattr(r.value, "event_id", None)
        if event:
            seen.add(event)
        out.append(len(seen))
    return out


def _read(bar: Progress, servers: str, input_file: Path | None, start: int | None, end: int | None) -> tuple[ReadInput, str]:
    """The run's input records and how to name them: a recording file, or the topics' range."""
    from ops.backtest.recording import read_recording
    from ops.backtest.source import read_inputs

    if input_file is not None:
        rec = read_recording(input_file)
        read = rec.inputs(start, end)
        label = f"{input_file.name}" + (" (inputs rebuilt from its raw.* payloads)" if rec.raw_only else "")
    else:
        task = bar.add_task("read topics", total=None, events="-")
        read = read_inputs(servers, start, end, progress=lambda done, total: bar.update(task, completed=done, total=total))
        bar.update(task, completed=len(read.records), total=len(read.records))
        label = f"topics {','.join(INPUT_TOPICS)} [{start or '-'}, {end or '-'})"
    if read.dead:
        console.print(f"[yellow]{len(read.dead)} undecodable input records not replayed (dead letters)[/yellow]")
    if not read.records:
        raise BacktestError("no input records in that range")
    return read, label


@backtest_app.command("record")
def record(
    start: str = typer.Option(None, "--from", help="Event time to start at: epoch ms or ISO 8601 (UTC by default)."),
    end: str = typer.Option(None, "--to", help="Event time to stop before: epoch ms or ISO 8601."),
    topics: list[str] = typer.Option(list(INPUT_TOPICS), "--topics",
                                     help="Topics or globs to keep (repeatable), e.g. --topics 'raw.*'; default the backtest inputs."),
    out: Path = typer.Option(Path("recording.avro"), "--out", "-o", help="The recording file to write."),
    bootstrap: str = typer.Option(None, envvar="KAFKA_BOOTSTRAP", help="Kafka bootstrap (default: the local stack's)."),
) -> None:
    """Copy a time range of topics into one portable Avro object container file (schemas, keys, partitions,
    offsets, broker and event timestamps kept); `arbees backtest --input FILE` replays it."""
    from ops.backtest.recording import RecordingInfo, expand_topics, select, write_recording
    from ops.backtest.source import scan

    servers = bootstrap or kafka_bootstrap()
    start_ms, end_ms = parse_time(start), parse_time(end)
    try:
        names = expand_topics(t for spec in topics for t in spec.split(","))
        with _bar() as bar:
            task = bar.add_task("record", total=None, events="-")
            messages = list(scan(servers, names, start_ms,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total)))
            bar.update(task, completed=len(messages), total=len(messages))
        kept, times = select(messages, start_ms, end_ms)
        from confluent_kafka import Consumer

        c = Consumer({"bootstrap.servers": servers, "group.id": f"arbees-record-{os.getpid()}", "log_level": 0})
        try:
            meta = c.list_topics(timeout=10).topics
            partitions = {t: len(meta[t].partitions) for t in names if t in meta}
        finally:
            c.close()
        info = RecordingInfo(names, partitions, start_ms, end_ms, f"kafka {servers}")
        write_recording(out, kept, times, info)
    except BacktestError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    undecodable = sum(1 for t in times if t is None)
    console.print(f"recorded {len(kept)} records of {len(names)} topics into {out} ({out.stat().st_size:,} bytes"
                  + (f"; {undecodable} undecodable, kept as bytes" if undecodable else "") + ")")


@backtest_app.command("backtest")
def backtest(
    sweep_specs: list[str] = typer.Argument(None, metavar="[KEY=V1,V2 ...]", show_default=False,
                                            help="With --sweep: the settings to vary, e.g. min_edge=0.05,0.10 kelly=0.25,0.5."),
    input_file: Path = typer.Option(None, "--input", "-i", exists=True, dir_okay=False,
                                    help="A recording (`arbees record`) to replay instead of the live topics."),
    engine: Engine = typer.Option(Engine.inprocess, help="inprocess (fast), kafka (a real worker) or both (and compare)."),
    start: str = typer.Option(None, "--from", help="Event time to start at: epoch ms or ISO 8601 (UTC by default)."),
    end: str = typer.Option(None, "--to", help="Event time to stop before: epoch ms or ISO 8601."),
    account: str = typer.Option("", help="Paper account the run trades (default: `backtest` in process, the run id on Kafka)."),
    bankroll: float = typer.Option(DEFAULT_BANKROLL_MICROS / 1_000_000, help="Starting bankroll in USD."),
    events: str = typer.Option("", help="Comma list of event id prefixes to trade; empty trades every event."),
    report: Path = typer.Option(None, "--report", help="Write report.html, summary.json and the charts into this folder."),
    sweep: bool = typer.Option(False, "--sweep", help="Run one variant per combination of the KEY=V1,V2 arguments."),
    workers: int = typer.Option(0, help="Sweep variants run at once (0: one per core)."),
    database_url: str = typer.Option("", envvar="DATABASE_URL",
                                     help="Store the run(s) in this migrated database, tagged with the run id."),
    bootstrap: str = typer.Option(None, envvar="KAFKA_BOOTSTRAP", help="Kafka bootstrap (default: the local stack's)."),
    work_dir: Path = typer.Option(Path(".stack") / "backtests", help="Where Kafka runs keep their worker logs."),
    config_file: Path = typer.Option(None, "--config", envvar="ARBEES_CONFIG",
                                     help="Settings file (thresholds, sizing, risk, exits); default arbees.toml."),
) -> None:
    """Replay a recording or a range of the input topics through discovery → shard → trading, as a run of its own."""
    from ops.backtest.runs import account_for, new_run_id

    servers = bootstrap or kafka_bootstrap()
    if sweep_specs and not sweep:
        raise typer.BadParameter(f"unexpected arguments {sweep_specs}: settings to vary go after --sweep")
    start_ms, end_ms = parse_time(start), parse_time(end)
    try:
        if sweep:
            if engine is not Engine.inprocess:
                raise BacktestError("sweeps run in process (--engine inprocess)")
            _sweep(sweep_specs or [], input_file, servers, start_ms, end_ms, account or "backtest", bankroll, events,
                   report, workers, database_url, config_file)
            return
        run_id = new_run_id()
        config = BacktestConfig(account=account or ("backtest" if engine is Engine.inprocess else account_for(run_id)),
                                bankroll_micros=round(bankroll * 1_000_000),
                                events=tuple(e.strip() for e in events.split(",") if e.strip()),
                                config_file=str(config_file) if config_file else "")
        config.settings()  # a missing or wrong settings file stops here, before any replay
        _single(run_id, config, engine, input_file, servers, start_ms, end_ms, report, database_url, work_dir)
    except (BacktestError, ConfigError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def _single(run_id: str, config: BacktestConfig, engine: Engine, input_file: Path | None, servers: str,
            start_ms: int | None, end_ms: int | None, report: Path | None, database_url: str, work_dir: Path) -> None:
    from ops.backtest.inprocess import InProcessEngine
    from ops.backtest.kafka import KafkaEngine
    from ops.report.build import RunMeta, analyze, write_run_report

    results: list[tuple[str, BacktestResult]] = []
    with _bar() as bar:
        read, label = _read(bar, servers, input_file, start_ms, end_ms)
        counts = events_seen(read.records)
        total = len(read.records)

        def tick(task: TaskID) -> Callable[[int, int], None]:
            return lambda done, _total: bar.update(task, completed=done, events=counts[min(done, total) - 1] if done else 0)

        if engine in (Engine.inprocess, Engine.both):
            task = bar.add_task(f"{run_id} in-process", total=total, events=0)
            results.append(("inprocess", InProcessEngine(config).run(read.records, progress=tick(task))))
        if engine in (Engine.kafka, Engine.both):
            task = bar.add_task(f"{run_id} kafka: produce", total=total, events=0)
            kafka = KafkaEngine(servers, config, work_dir=work_dir)
            produced = tick(task)
            results.append(("kafka", kafka.run(read.records, progress=lambda _stage, done, _t: produced(done, total))))
            if kafka.info is not None:
                console.print(f"kafka run {kafka.info.app_id}: worker log {kafka.info.log}")
    console.print(f"run [bold]{run_id}[/bold] · account {config.account} · input {label}")
    console.print(summary_table([(name, r.summary(config.account)) for name, r in results]))
    if len(results) == 2:
        agreement = compare_runs(results[0][1], results[1][1])
        verdict = "[green]identical[/green]" if agreement.identical else "[red]different[/red]"
        console.print(f"the engines' outputs, record for record: {verdict}")
        for line in agreement.differences[:10]:
            console.print(f"  {line}")
    name, result = results[-1]
    rep = analyze(result, RunMeta(run_id, config.account, label, name, {}, result.inputs, result.digest()))
    f, cal = rep.figures, rep.figures.calibration
    console.print(f"net P&L {_dollars(f.net_pnl_micros)} · {f.trades} trades, hit rate "
                  f"{'-' if f.hit_rate is None else f'{f.hit_rate:.0%}'} · fees {_dollars(f.fees_micros)} · "
                  f"max drawdown {f.max_drawdown:.2%} · Brier model {_score(cal.model_brier_paired)} vs market "
                  f"{_score(cal.market_brier_paired)} ({cal.paired} samples)")
    if report is not None:
        page = write_run_report(report, rep)
        console.print(f"report: {page}")
    if database_url:
        _store(database_url, [(rep, result)])


def _sweep(specs: list[str], input_file: Path | None, servers: str, start_ms: int | None, end_ms: int | None,
           account: str, bankroll: float, events: str, report: Path | None, workers: int, database_url: str,
           config_file: Path | None) -> None:
    import tempfile

    from ops.backtest.runner import RunSpec, run_parallel
    from ops.backtest.runs import new_run_id
    from ops.backtest.sweep import parse_sweep, variant_settings
    from ops.report.build import write_sweep_report

    variants = parse_sweep(specs)
    folder = report if report is not None else Path(tempfile.mkdtemp(prefix="arbees-sweep-"))
    run_specs = []
    for i, variant in enumerate(variants):
        settings = folder / f"variant-{i + 1}" / "settings.toml"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(variant_settings(config_file, variant))
        config = BacktestConfig(account=account, bankroll_micros=round(bankroll * 1_000_000),
                                events=tuple(e.strip() for e in events.split(",") if e.strip()),
                                config_file=str(settings))
        config.settings()  # every variant's file must load before anything runs
        run_specs.append(RunSpec(new_run_id(), config, "", variant.params))
    cores = workers or os.cpu_count() or 1
    with _bar() as bar:
        read, label = _read(bar, servers, input_file, start_ms, end_ms)
        run_specs = [RunSpec(s.run_id, s.config, label, s.params) for s in run_specs]
        counts = events_seen(read.records)
        tasks = [bar.add_task(f"{s.run_id} {' '.join(f'{k}={v}' for k, v in s.params.items())}",
                              total=len(read.records), events=0) for s in run_specs]

        def on_progress(index: int, done: int, _total: int) -> None:
            bar.update(tasks[index], completed=done, events=counts[done - 1] if done else 0)

        console.print(f"{len(run_specs)} variants, {min(len(run_specs), cores)} at a time")
        done = run_parallel(run_specs, read.records, workers=cores, progress=on_progress)
        for task in tasks:
            bar.update(task, completed=len(read.records), events=counts[-1])
    table = Table(title=f"sweep over {label}")
    for col in ("variant", "run id", "net P&L", "trades", "hit rate", "fees", "max drawdown"):
        table.add_column(col, justify="left" if col in ("variant", "run id") else "right")
    for rep, _ in done:
        f = rep.figures
        table.add_row(rep.meta.label, rep.meta.run_id, _dollars(f.net_pnl_micros), str(f.trades),
                      "-" if f.hit_rate is None else f"{f.hit_rate:.0%}", _dollars(f.fees_micros), f"{f.max_drawdown:.2%}")
    console.print(table)
    page = write_sweep_report(folder, [rep for rep, _ in done])
    console.print(f"report: {page}")
    if database_url:
        _store(database_url, done)


def _store(database_url: str, runs: Sequence[tuple[RunReport, BacktestResult]]) -> None:
    from ops.backtest.runs import store_run

    for rep, result in runs:
        rows = store_run(database_url, rep, result)
        console.print(f"stored run {rep.meta.run_id} in the database ({rows} rows)")


def main() -> None:
    backtest_app()
