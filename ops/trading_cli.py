"""Operator commands for trading: positions, P&L, orders, the kill switch and the risk reset.

Tables are read from the topics (the log is the source of truth): every partition
from the beginning up to its current end, decoded with the contract codec. `kill`
and `risk-reset` write operator `RiskEvent`s to `risk.state` (the sizing agent
acts on rules `operator.kill` / `operator.reset`) and set or clear the kill-switch
file (ARBEES_KILL_FILE, default .stack/KILL), which stops new orders at once.
Mounted by ops/cli.py as `arbees positions|pnl|orders|kill|deposit` and `arbees risk reset`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ops.stack import kafka_bootstrap
from schemas.enums import OrderState, PositionStatus, RiskKind
from schemas.records import LedgerEntry, Order, OrderStatus, PositionEvent, RiskEvent

trading_app = typer.Typer(help="Trading: positions, P&L, orders, kill switch.", no_args_is_help=True)
risk_app = typer.Typer(help="Risk controls.", no_args_is_help=True)
console = Console()

CLOSED = (PositionStatus.SETTLED, PositionStatus.CLOSED)
TERMINAL = (OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED)


def _bootstrap() -> str:
    return kafka_bootstrap()


def kill_file() -> Path:
    return Path(os.environ.get("ARBEES_KILL_FILE", ".stack/KILL"))


def read_topic(bootstrap: str, topic: str, account: str | None = None, timeout_s: float = 30.0) -> list[Any]:
    """Every record of `topic` (optionally of one account), from the beginning to the current end."""
    from ops.log_range import LogRange
    from schemas.codec import default_codec

    codec = default_codec()
    out: list[Any] = []
    for msg in LogRange(bootstrap, topic, timeout_s=timeout_s, purpose="cli"):
        rec = codec.decode(msg.value)
        if account is None or getattr(rec, "account", None) == account:
            out.append(rec)
    return out


def _money(micros: int | None) -> str:
    if micros is None:
        return "-"
    sign = "-" if micros < 0 else ""
    return f"{sign}${abs(micros) / 1e6:,.2f}"


def ledger_states(entries: list[LedgerEntry]) -> dict[str, Any]:
    """Per account, the ledger as every reader sees it (streams.trading.ledger.apply)."""
    from streams.trading import ledger as L

    states: dict[str, L.LedgerState] = defaultdict(L.LedgerState)
    for e in entries:
        states[e.account], _ = L.apply(states[e.account], e)
    return dict(states)


@trading_app.command("positions")
def positions(account: str = typer.Option(None, help="only this account"),
              all_: bool = typer.Option(False, "--all", help="include settled and closed positions")) -> None:
    """Positions from the `positions` topic: the latest event of each."""
    latest: dict[str, PositionEvent] = {}
    for ev in read_topic(_bootstrap(), "positions", account):
        if isinstance(ev, PositionEvent):
            latest[ev.position_id] = ev
    table = Table("account", "market", "side", "status", "qty", "avg", "mark", "realized", "unrealized", "fees")
    for ev in sorted(latest.values(), key=lambda e: (e.account, e.market_id, e.side.value)):
        if ev.status in CLOSED and not all_:
            continue
        table.add_row(ev.account, f"{ev.venue.value}:{ev.market_id}", ev.side.value, ev.status.value, f"{ev.quantity:g}",
                      _money(ev.avg_price_micros), _money(ev.mark_price_micros), _money(ev.realized_pnl_micros),
                      _money(ev.unrealized_pnl_micros), _money(ev.fees_micros))
    console.print(table)


@trading_app.command("pnl")
def pnl(account: str = typer.Option(None, help="only this account")) -> None:
    """Bankroll and P&L per account from the `ledger` topic (optimistic-version rule applied)."""
    from ops.board.state import fold_ledger

    books = fold_ledger([e for e in read_topic(_bootstrap(), "ledger", account) if isinstance(e, LedgerEntry)])
    unreal: dict[str, int] = defaultdict(int)
    latest: dict[str, PositionEvent] = {}
    for ev in read_topic(_bootstrap(), "positions", account):
        if isinstance(ev, PositionEvent):
            latest[ev.position_id] = ev
    for ev in latest.values():
        if ev.status not in CLOSED:
            unreal[ev.account] += ev.unrealized_pnl_micros
    table = Table("account", "bankroll", "version", "deposits", "realized", "fees", "net P&L", "unrealized")
    for acc, book in sorted(books.items()):
        s = book.pnl()
        table.add_row(acc, _money(s["bankroll"]), str(s["version"]), _money(s["deposits"]), _money(s["realized"]),
                      _money(s["fees"]), _money(s["net"]), _money(unreal[acc]))
    console.print(table)


@trading_app.command("orders")
def orders(account: str = typer.Option(None, help="only this account"),
           last: int = typer.Option(50, help="how many of the latest orders")) -> None:
    """Orders with their outcome, from the `orders` and `fills` topics."""
    seen: dict[str, Order] = {}
    for o in read_topic(_bootstrap(), "orders", account):
        if isinstance(o, Order):
            seen.setdefault(o.order_id, o)
    outcome: dict[str, OrderStatus] = {}
    for s in read_topic(_bootstrap(), "fills", account):
        if isinstance(s, OrderStatus) and (s.order_id not in outcome or s.state in TERMINAL):
            outcome[s.order_id] = s
    table = Table("ts", "account", "order", "market", "side", "action", "count", "limit", "tif", "state", "filled", "avg",
                  "reason")
    for o in sorted(seen.values(), key=lambda o: o.ts)[-last:]:
        s = outcome.get(o.order_id)
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(o.ts / 1000)), o.account, o.order_id,
                      f"{o.venue.value}:{o.market_id}", o.side.value, o.action.value, f"{o.count:g}",
                      _money(o.limit_price_micros), o.tif.value, s.state.value if s else "pending",
                      f"{s.filled_count:g}" if s else "-", _money(s.avg_price_micros) if s else "-",
                      (s.reason if s else o.reason)[:60])
    console.print(table)


def _operator_record(account: str, kind: RiskKind, rule: str, reason: str) -> RiskEvent:
    now = int(time.time() * 1000)  # an operator's act: its wall-clock time is the fact
    return RiskEvent(risk_id=f"op-{uuid.uuid4().hex[:16]}", account=account, kind=kind, ts=now, rule=rule, reason=reason)


def _publish(topic: str, records: list[tuple[str, Any]]) -> None:
    from connectors.publisher import Publisher

    pub = Publisher(_bootstrap(), service="arbees-cli")
    for key, rec in records:
        pub.publish(topic, key, rec)
    pub.flush()


def _accounts(account: list[str] | None) -> list[str]:
    if account:
        return account
    from streams.config_file import load as load_config

    return list(load_config().trading.accounts)


def switch_kill_on(accounts: list[str], reason: str) -> Path:
    """The kill switch: the file that stops new orders at once, and a kill record per account on risk.state."""
    from streams.trading.risk import OPERATOR_KILL

    path = kill_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {reason}\n")
    _publish("risk.state", [(a, _operator_record(a, RiskKind.KILL_SWITCH, OPERATOR_KILL, reason)) for a in accounts])
    return path


def reset_risk(accounts: list[str], reason: str) -> Path:
    """Breaker and kill switch reset: the kill file removed, a reset record per account on risk.state."""
    from streams.trading.risk import OPERATOR_RESET

    path = kill_file()
    path.unlink(missing_ok=True)
    _publish("risk.state", [(a, _operator_record(a, RiskKind.BREAKER_RESET, OPERATOR_RESET, reason)) for a in accounts])
    return path


@trading_app.command("kill")
def kill(account: list[str] = typer.Option(None, help="accounts (default: ARBEES_ACCOUNTS)"),
         reason: str = typer.Option("operator kill", help="why")) -> None:
    """Stop new orders at once: the kill-switch file, and a kill record per account on risk.state."""
    accs = _accounts(account)
    path = switch_kill_on(accs, reason)
    console.print(f"[red]kill switch ON[/red] ({path}); kill records written for {', '.join(accs)}")


@risk_app.command("reset")
def risk_reset(account: list[str] = typer.Option(None, help="accounts (default: ARBEES_ACCOUNTS)"),
               reason: str = typer.Option("operator reset", help="why")) -> None:
    """Reset the breaker and the kill switch: remove the kill file, write reset records."""
    accs = _accounts(account)
    path = reset_risk(accs, reason)
    console.print(f"[green]risk reset[/green] for {', '.join(accs)} (kill file {path} removed)")


trading_app.command("risk-reset")(risk_reset)


@trading_app.command("deposit")
def deposit(account: str = typer.Argument(..., help="account"),
            dollars: float = typer.Argument(..., help="amount in USD (negative to withdraw)")) -> None:
    """Add capital to an account's ledger, on the ledger's current version (refused if another entry wins)."""
    from streams.trading.ledger import EntryKind, build_entry
    from streams.trading.units import Micros

    st = ledger_states([e for e in read_topic(_bootstrap(), "ledger", account) if isinstance(e, LedgerEntry)]).get(account)
    version, balance = (st.version, st.balance) if st is not None else (0, Micros(0))
    amount = Micros(round(dollars * 1_000_000))
    kind = EntryKind.DEPOSIT if amount.value >= 0 else EntryKind.WITHDRAWAL
    entry = build_entry(version, balance, entry_id=f"{kind.value}:{account}:{uuid.uuid4().hex[:12]}", account=account,
                        ts=int(time.time() * 1000), delta=amount, kind=kind, note="operator", ref="arbees deposit")
    _publish("ledger", [(account, entry)])
    console.print(f"{kind.value} {_money(amount.value)} to {account} as version {entry.version}; "
                  f"balance {_money(entry.balance_micros)} once accepted")
