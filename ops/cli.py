"""The `arbees` command: operator subcommands next to the code they drive."""

from __future__ import annotations

import os
from enum import Enum

import typer
from rich.console import Console
from rich.table import Table

from ops.backtest.cli import backtest_app
from ops.demo import demo
from ops.stack_cli import stack_app
from ops.trading_cli import risk_app, trading_app

app = typer.Typer(help="Arbees operator commands.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(trading_app)  # arbees positions | pnl | orders | kill | deposit | risk-reset
app.add_typer(risk_app, name="risk")  # arbees risk reset
app.add_typer(backtest_app)  # arbees backtest
app.command("demo")(demo)  # arbees demo: recorded games and simulated venues through the running pipeline
topics_app = typer.Typer(help="Kafka topics from the registry.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(db_app, name="db")
console = Console()

def bootstrap() -> str:
    from ops.stack import kafka_bootstrap

    return kafka_bootstrap()


def database_url() -> str:
    from ops import stack

    return stack.database_url()


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@topics_app.command("create")
def topics_create() -> None:
    """Create every registry topic; report what was created or changed."""
    from confluent_kafka import KafkaException

    from ops.topics import ensure_topics

    try:
        report = ensure_topics(bootstrap())
    except KafkaException as exc:
        fail(f"broker at {bootstrap()} did not answer ({exc}); is it up? try `arbees stack up`")
        return
    for name in report.created:
        console.print(f"[green]created[/green] {name}")
    for name in report.altered:
        console.print(f"[yellow]changed[/yellow] {name}")
    for problem in report.problems:
        console.print(f"[red]problem[/red] {problem}")
    if not report.changed and not report.problems:
        console.print(f"all {len(report.unchanged)} topics already exist with their settings; nothing changed")
    if report.problems:
        raise typer.Exit(1)
    if os.environ.get("SCHEMA_REGISTRY_URL", "").strip():
        schemas_register()


@topics_app.command("register")
def schemas_register(url: str = typer.Option("", "--url", help="registry URL (default SCHEMA_REGISTRY_URL)")) -> None:
    """Register every record type and every topic's `<topic>-value` subject (FULL_TRANSITIVE) on the schema registry."""
    from schemas.errors import RegistryError
    from schemas.subjects import COMPATIBILITY, register_all

    url = url or os.environ.get("SCHEMA_REGISTRY_URL", "").strip()
    if not url:
        fail("no registry: give --url or set SCHEMA_REGISTRY_URL (docker compose runs one on http://localhost:8081)")
    try:
        done = register_all(url)
    except RegistryError as exc:
        fail(f"schema registry at {url}: {exc}")
        return
    topics = [r for r in done if r.subject.endswith("-value")]
    console.print(f"registered {len(done) - len(topics)} record subjects and {len(topics)} topic subjects "
                  f"(<topic>-value, {COMPATIBILITY}) on {url}")


@topics_app.command("list")
def topics_list() -> None:
    """Show the topic registry."""
    from schemas.topics import TOPICS

    table = Table("topic", "key", "value", "partitions", "cleanup", "retention")
    for t in TOPICS:
        retention = "forever" if t.retention_ms < 0 else f"{t.retention_ms // 86_400_000}d"
        table.add_row(t.name, t.key, ", ".join(c.__name__ for c in t.value_types), str(t.partitions), t.cleanup, retention)
    console.print(table)


@topics_app.command("tail")
def topics_tail(
    topic: str = typer.Argument(..., help="topic name, e.g. signals"),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="start at the first record (default: new records only)"),
    key: str = typer.Option(None, "--key", help="only records with this key"),
    since: str = typer.Option(None, "--since", help="start at this time: ISO (2026-06-09T01:00:00Z), epoch ms or a span back (15m, 2h)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per record"),
    until_end: bool = typer.Option(False, "--until-end", help="stop at the end of the log instead of following it"),
    limit: int = typer.Option(None, "--limit", help="stop after this many records"),
) -> None:
    """Print a topic's records decoded from Avro; an undecodable record is printed as such with its offset."""
    from confluent_kafka import KafkaException

    from ops.topic_lines import as_json as json_line
    from ops.topic_lines import parse_since, readable
    from ops.topic_reader import TailOptions, TopicMissing, tail

    try:
        since_ms = parse_since(since) if since else None
    except ValueError as exc:
        fail(str(exc))
        return
    opts = TailOptions(from_beginning=from_beginning, key=key, since_ms=since_ms, until_end=until_end, limit=limit)
    out = Console(soft_wrap=True, highlight=False)
    try:
        for decoded in tail(bootstrap(), topic, opts):
            out.print(json_line(decoded) if as_json else readable(decoded), markup=False)
    except TopicMissing as exc:
        fail(str(exc))
    except KafkaException as exc:
        fail(f"broker at {bootstrap()} did not answer ({exc}); is it up? try `arbees stack up`")
    except KeyboardInterrupt:
        pass


@topics_app.command("show")
def topics_show(topic: str = typer.Argument(..., help="topic name")) -> None:
    """Partitions with offsets, every consumer group's lag, and the schemas the topic carries."""
    from confluent_kafka import KafkaException

    from ops.topic_reader import TopicMissing, show

    try:
        info = show(bootstrap(), topic)
    except TopicMissing as exc:
        fail(str(exc))
        return
    except KafkaException as exc:
        fail(f"broker at {bootstrap()} did not answer ({exc}); is it up? try `arbees stack up`")
        return
    what = f"key {info.spec.key}" if info.spec else "not in the registry"
    console.print(f"[bold]{info.name}[/bold]  {what}; " + ", ".join(f"{k}={v}" for k, v in sorted(info.config.items())))
    parts = Table("partition", "leader", "first offset", "end offset", "records")
    for p in info.partitions:
        parts.add_row(str(p.partition), str(p.leader), str(p.low), str(p.high), str(p.records))
    console.print(parts)
    groups = Table("consumer group", "partitions committed", "committed", "lag")
    for g in sorted(info.groups, key=lambda g: (-g.total, g.group)):
        groups.add_row(g.group, str(len(g.committed)), str(sum(g.committed.values())), str(g.total))
    console.print(groups if info.groups else "no consumer group has committed offsets on this topic")
    schemas = Table("value type", "subject", "schema id")
    for subject, schema_id, name in info.schemas:
        schemas.add_row(name, subject, str(schema_id))
    console.print(schemas)
    for _, _, name in info.schemas:
        from schemas.records import RECORD_TYPES
        from schemas.avro import schema_of

        cls = next(c for c in RECORD_TYPES if c.__name__ == name)
        fields = ", ".join(f["name"] for f in schema_of(cls)["fields"])
        console.print(f"{name}: {fields}", markup=False)


def _db_call(fn_name: str, *args: str) -> None:
    from sqlalchemy.exc import OperationalError

    from ops import db

    try:
        getattr(db, fn_name)(database_url(), *args)
    except OperationalError as exc:
        fail(f"database at {database_url()} did not answer ({exc.orig}); is it up? try `arbees stack up`")


@db_app.command("migrate")
def db_migrate(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default head)."""
    _db_call("migrate", revision)
    db_status()


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target revision, e.g. -1 or base")) -> None:
    """Undo migrations down to REVISION."""
    _db_call("downgrade", revision)
    db_status()


@db_app.command("status")
def db_status() -> None:
    """Show the applied revision, the head and whether TimescaleDB features are on."""
    from sqlalchemy.exc import OperationalError

    from ops import db

    try:
        st = db.status(database_url())
    except OperationalError as exc:
        fail(f"database at {database_url()} did not answer ({exc.orig}); is it up? try `arbees stack up`")
        return
    table = Table("database", "value")
    table.add_row("server", st.server_version)
    table.add_row("revision", f"{st.current or 'none'} (head {st.head})")
    extension = ("loaded" if st.timescaledb_loaded else "installed, not preloaded" if st.timescaledb_available
                 else "not available")
    table.add_row("timescaledb extension", extension)
    table.add_row("timescaledb features", st.timescaledb_features)
    table.add_row("tables", str(st.tables))
    console.print(table)


worker_app = typer.Typer(help="The background Faust worker.", no_args_is_help=True)
app.add_typer(worker_app, name="worker")


def _state_dir():
    from ops.stack import StackConfig

    return StackConfig.from_env().state_dir


@worker_app.command("start")
def worker_start() -> None:
    """Start the Faust worker with every agent in streams.app.AGENT_MODULES (once)."""
    from ops import worker

    try:
        st, started = worker.start(_state_dir(), bootstrap(), database_url())
    except worker.WorkerError as exc:
        fail(str(exc))
        return
    console.print(f"worker    {'started' if started else 'already running'}, pid {st.pid}, log {st.log}")


@worker_app.command("stop")
def worker_stop() -> None:
    """Stop the background worker (SIGTERM, then SIGKILL)."""
    from ops import worker

    console.print("worker    stopped" if worker.stop(_state_dir()) else "worker    not running")


@worker_app.command("status")
def worker_status() -> None:
    """Whether the worker runs, and the agents it carries."""
    from ops import worker
    from streams.app import AGENT_MODULES

    st = worker.state(_state_dir())
    if not st.running:
        fail(f"worker is not running (log: {st.log}); start it with `arbees run`")
    console.print(f"worker    running, pid {st.pid}, {'ready' if st.ready else 'starting'}, log {st.log}")
    console.print(f"agents    {', '.join(m.rsplit('.', 1)[-1] for m in AGENT_MODULES) or 'none'}")


class SinkWriter(str, Enum):
    copy = "copy"  # COPY into staging, one set-based upsert per table
    insert = "insert"  # one INSERT per row: the benchmark baseline


@app.command("sink")
def sink(
    topic: list[str] = typer.Option(None, "--topic", help="topic to sink (repeatable; default: every topic with a table)"),
    writer: SinkWriter = typer.Option(SinkWriter.copy, "--writer", help="how rows are written"),
    until_caught_up: bool = typer.Option(False, "--until-caught-up", help="exit once the log at start is stored"),
    consumer: str = typer.Option("arbees-sink", "--consumer", help="name of this sink's offsets in sink_offsets"),
) -> None:
    """Write the registry topics into PostgreSQL, offsets kept with the rows, until Ctrl-C."""
    import psycopg
    from confluent_kafka import KafkaException

    from ops.sink import __main__ as sink_main
    from ops.sink.errors import SinkError

    args = ["--bootstrap", bootstrap(), "--database-url", database_url(), "--writer", writer.value,
            "--consumer", consumer]
    for name in topic or ():
        args += ["--topic", name]
    if until_caught_up:
        args.append("--until-caught-up")
    try:
        code = sink_main.main(args)
    except psycopg.OperationalError as exc:
        fail(f"database at {database_url()} did not answer ({exc}); is it up? try `arbees stack up`")
        return
    except KafkaException as exc:
        fail(f"broker at {bootstrap()} did not answer ({exc}); is it up? try `arbees stack up`")
        return
    except SinkError as exc:
        fail(str(exc))
        return
    if code:
        raise typer.Exit(code)


@app.command("scale")
def scale(
    partitions: int = typer.Option(..., "--partitions", help="the family's new partition count (a multiple of the current)"),
    family: str = typer.Option("shard", "--family", help="topic family to grow (schemas/topics.py Family)"),
) -> None:
    """Grow a topic family by a new generation: stop its workers first, start them (any number) after (README: Scaling)."""
    from ops.scale.migrate import ScaleError
    from ops.scale.migrate import scale as grow
    from schemas.topics import Family

    try:
        report = grow(bootstrap(), partitions, Family(family))
    except ScaleError as exc:
        fail(str(exc))
        return
    console.print(f"{family}: generation {report.old.number} ({report.old.partitions} partitions) -> "
                  f"generation {report.new.number} ({report.new.partitions} partitions) in {report.seconds:.1f}s")
    for topic, n in report.copied.items():
        console.print(f"  {topic}: {n} unconsumed records copied from the old generation's tail")
    for log_name, n in report.states.items():
        console.print(f"  {log_name}: {n} keys of table state rebuilt")
    console.print(f"  groups moved: {', '.join(report.groups) or 'none'}; start the workers again")


@app.command("run")
def run(
    only: str = typer.Option("", "--only", help="comma list of parts to run (e.g. shard,trading); default every part"),
    replay: str = typer.Option("", "--replay", help="play a recorded session (data/sessions/<name>) instead of the live feeds"),
    speed: float = typer.Option(0.0, "--speed", help="with --replay: x recorded time between payloads (0: as fast as ordering allows)"),
    run_id: str = typer.Option("", "--run-id", help="a run of its own: consumer groups, state and paper accounts named "
                                                    "with this id (replays a session already replayed on this stack)"),
) -> None:
    """The main job: stack up, topics, migrations, then every part supervised under a live status screen (paper mode)."""
    from ops.run.main import RunOptions
    from ops.run.screen import screen_console
    from ops.run.main import run as run_all
    from ops.run.parts import PlanError
    from ops.run.replay import SessionMissing
    from ops.run.supervisor import AlreadyRunning
    from ops.stack import StackError

    from ops.run.replayed import AlreadyReplayed

    options = RunOptions(only=tuple(x for x in only.split(",") if x.strip()), replay=replay, speed=speed or None,
                         run_id=run_id.strip())
    try:
        code = run_all(options, screen_console(console))
    except (AlreadyRunning, AlreadyReplayed, PlanError, SessionMissing, StackError) as exc:
        fail(str(exc))
        return
    raise typer.Exit(code)


@app.command("board")
def board(
    port: int = typer.Option(int(os.environ.get("ARBEES_BOARD_PORT", "") or 8765), "--port", help="HTTP port (ARBEES_BOARD_PORT)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (loopback by default)"),
    window_h: float = typer.Option(float(os.environ.get("ARBEES_BOARD_WINDOW_H", "") or 24.0), "--window-h",
                                   help="hours of event topics (states, prices, quotes, signals) read at start (ARBEES_BOARD_WINDOW_H)"),
    read_only: bool = typer.Option(False, "--read-only", help="refuse the kill switch and breaker reset too"),
    sink: str = typer.Option((os.environ.get("ARBEES_APP_ID", "").strip() or "arbees") + "-sink", "--sink",
                             help="the sink whose rows the board starts from (that of `arbees run`: <ARBEES_APP_ID>-sink)"),
) -> None:
    """The web board: games with model vs market, edges, positions, P&L, exposure, risk, health; live over SSE."""
    from ops.board.server import serve

    serve(bootstrap(), host, port, window_h, read_only, database_url(), sink)


@app.command("status")
def status() -> None:
    """What `arbees run` shows, printed once: parts, rates, lag, errors, then the trading picture."""
    from ops.run.main import status_once
    from ops.run.screen import screen_console

    raise typer.Exit(status_once(_state_dir(), screen_console(console)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
