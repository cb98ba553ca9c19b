"""The status screen: parts first, then the trading picture. One renderer for the live screen and `arbees status`."""

from __future__ import annotations

import time

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ops.run.board import Snapshot

_STATE_STYLE = {"running": "green", "restarting": "yellow", "done": "cyan", "stopped": "dim"}


def screen_console(console: Console) -> Console:
    """`console` in a terminal; a wide one for a pipe or a file, where nothing tells rich the width."""
    return console if console.is_terminal else Console(width=220)


def _age(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def render(snap: Snapshot) -> RenderableType:
    when = time.strftime("%H:%M:%S", time.gmtime(snap.when_ms / 1000))
    title = f"arbees run{' --replay ' + snap.replay if snap.replay else ''} · paper mode · {when} UTC"
    parts = Table(title=title, title_justify="left", expand=False)
    for col in ("part", "state", "pid", "up", "restarts", "health", "in/s", "out/s", "in", "out", "lag",
                "beat", "metrics", "last error"):
        parts.add_column(col, overflow="fold" if col in ("health", "last error") else "ellipsis", no_wrap=col != "last error")
    for p in snap.parts:
        style = _STATE_STYLE.get(p.state, "")
        health_style = "red" if "unreachable" in p.health else "yellow" if p.health == "no heartbeat yet" else ""
        parts.add_row(
            p.name, Text(p.state, style=style), str(p.pid or "-"), _age(p.uptime_s) if p.pid else "-", str(p.restarts),
            Text(p.health, style=health_style), f"{p.in_per_s:.1f}", f"{p.out_per_s:.1f}", str(p.records_in),
            str(p.records_out), str(p.lag), "-" if p.heartbeat_age_s is None else f"{p.heartbeat_age_s:.0f}s ago",
            f":{p.metrics_port}", p.last_error[:90],
        )
    events = Table(title="events: model vs market, P(home/first side)", title_justify="left")
    for col in ("event", "status", "score", "model", "kalshi", "polymarket"):
        events.add_column(col)
    for e in snap.events[:12]:
        events.add_row(e.name or e.event_id, e.status, e.score, _p(e.model_p), _p(e.market_p.get("KALSHI")),
                       _p(e.market_p.get("POLYMARKET")))
    money = Table(title="trading", title_justify="left", show_header=False)
    money.add_column("what")
    money.add_column("value", overflow="fold")
    for account, balance in sorted(snap.balance.items()):
        money.add_row(f"bankroll {account}", f"${balance:,.2f}  realized P&L ${snap.realized.get(account, 0.0):+,.2f}  "
                      f"breaker {snap.breaker.get(account, 'ok')}")
    money.add_row("kill switch", Text("ON: no new orders", style="bold red") if snap.kill_switch else Text("off"))
    counts = snap.counts
    money.add_row("seen this run", "  ".join(f"{t} {counts.get(t, 0)}" for t in
                                             ("events.state", "markets.quotes", "model.probabilities", "signals",
                                              "orders", "fills", "order statuses")))
    for label, lines in (("signals", snap.signals), ("orders", snap.orders), ("fills", snap.fills),
                         ("positions", snap.positions), ("alerts", snap.alerts)):
        money.add_row(label, "\n".join(lines[-5:]) or "-")
    notes = [Text(n, style="yellow") for n in snap.notes]
    return Group(parts, events, money, *notes)
