"""report.html: one self-contained page (styles inline, charts as data: URIs), readable offline and in CI's Chromium."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING

from ops.report.figures import Bin, Breakdown, Figures

if TYPE_CHECKING:
    from ops.report.build import RunReport

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:13px} table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f4f4f4}
td.l,th.l{text-align:left} .pos{color:#17803d} .neg{color:#b42318}
.headline td{font-size:15px} img.chart{display:block;max-width:100%;margin:8px 0;border:1px solid #eee}
.defs{font-size:12px;color:#555;max-width:900px}
"""


def usd(micros: int | None) -> str:
    if micros is None:
        return "-"
    sign = "-" if micros < 0 else ""
    return f"{sign}${abs(micros) / 1_000_000:,.2f}"


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x * 100:.{digits}f}%"


def num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def when(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def short(text: str, keep: int = 28) -> str:
    """Long market ids (Polymarket condition ids) cut for the table; the full id is in summary.json."""
    return text if len(text) <= keep else text[: keep - 10] + "…" + text[-9:]


def _signed(text: str, value: float | int | None) -> str:
    cls = "" if not value else ("pos" if value > 0 else "neg")
    return f'<td class="{cls}">{escape(text)}</td>'


def _img(name: str, data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode()
    return f'<img class="chart" id="chart-{escape(name)}" alt="{escape(alt)}" src="data:image/png;base64,{b64}">'


def _table(table_id: str, head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """`rows` hold ready <td> cells or plain text (escaped here); the first `left` columns align left."""
    th = "".join(f'<th class="{"l" if i < left else ""}">{escape(h)}</th>' for i, h in enumerate(head))
    body = []
    for row in rows:
        cells = [c if c.startswith("<td") else f'<td class="{"l" if i < left else ""}">{escape(c)}</td>'
                 for i, c in enumerate(row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def headline_rows(f: Figures) -> list[tuple[str, str]]:
    cal = f.calibration
    return [
        ("net P&L", usd(f.net_pnl_micros)), ("return on bankroll", pct(f.return_on_bankroll, 2)),
        ("starting bankroll", usd(f.start_balance_micros)), ("final equity", usd(f.final_equity_micros)),
        ("realized P&L before fees", usd(f.realized_pnl_micros)), ("unrealized P&L", usd(f.unrealized_pnl_micros)),
        ("fees paid", usd(f.fees_micros)), ("max drawdown", pct(f.max_drawdown, 2)),
        ("trades (closed)", f"{f.trades} ({f.closed_trades})"), ("hit rate", pct(f.hit_rate)),
        ("fills", str(f.fills)), ("turnover", f"{usd(f.turnover_micros)} ({f.turnover_ratio:.2f}x bankroll)"),
        ("signals / orders", f"{f.signals} / {f.orders}"),
        ("Sharpe-like across events", num(f.sharpe_like_across_events, 2)),
        ("Brier: model / market (paired samples)",
         f"{num(cal.model_brier_paired)} / {num(cal.market_brier_paired)} ({cal.paired})"),
        ("log loss: model / market", f"{num(cal.model_logloss_paired)} / {num(cal.market_logloss_paired)}"),
    ]


def _breakdown(table_id: str, title: str, rows: Sequence[Breakdown]) -> str:
    return _table(table_id, (title, "trades", "net P&L", "fees"),
                  [(r.key, str(r.trades), _signed(usd(r.net_pnl_micros), r.net_pnl_micros), usd(r.fees_micros))
                   for r in rows])


def _bins(table_id: str, model: Sequence[Bin], market: Sequence[Bin]) -> str:
    rows = []
    for a, b in zip(model, market):
        rows.append((f"{a.lo:.1f}-{a.hi:.1f}", str(a.n), num(a.mean_p, 3), num(a.observed, 3), str(b.n),
                     num(b.mean_p, 3), num(b.observed, 3)))
    return _table(table_id, ("decile", "model n", "model mean p", "observed", "market n", "market mean p", "observed"),
                  rows)


DEFINITIONS = """<div class="defs"><h2>Definitions</h2><ul>
<li>Net P&amp;L: final equity minus the starting bankroll; equity is the ledger balance (bankroll, realized P&amp;L,
fees) plus open positions marked to their side's best bid.</li>
<li>A trade is one position from the fill that opens it to the sale or settlement that closes it; its P&amp;L is
net of both fills' fees; its return is net P&amp;L over cost (contracts x average entry price).</li>
<li>Hit rate: closed trades with positive net P&amp;L over closed trades. Turnover: notional of every fill.</li>
<li>Sharpe-like per event: mean over standard deviation of the event's trade returns; across events: of the
events' net P&amp;L over the bankroll. Undefined below two samples.</li>
<li>Calibration: every model probability emitted before its event ended (outcome a for two-outcome events),
scored against the final winner; the market's probability is the mean book mid of the event's linked markets at
the same instant. Brier and log loss (clipped at 1e-6) are compared on the samples where both exist.</li>
<li>Model and market probabilities in the trades table are for the side held: the entry order's model
probability and that side's book mid at the entry fill.</li></ul></div>"""


def render_run(report: RunReport, pngs: dict[str, bytes]) -> str:
    m, f = report.meta, report.figures
    cal = f.calibration
    trades = [(
        t.event_id, t.venue, short(t.market_id), t.side, when(t.entry_ts), when(t.exit_ts), t.exit_kind, f"{t.quantity:g}",
        usd(t.entry_price_micros), usd(t.exit_price_micros), usd(t.fees_micros),
        _signed(usd(t.net_pnl_micros), t.net_pnl_micros), pct(t.realized_return), num(t.model_p, 3),
        num(t.market_p, 3), num(t.edge, 3),
    ) for t in report.trades]
    events = [(e.event_id, str(e.trades), _signed(usd(e.net_pnl_micros), e.net_pnl_micros), num(e.sharpe_like, 2))
              for e in f.events]
    params = ", ".join(f"{k}={v}" for k, v in m.params.items()) or "settings file as is"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Arbees backtest {escape(m.run_id)}</title>
<style>{STYLE}</style></head><body>
<h1>Arbees backtest report</h1>
<p class="meta">run <span id="run-id">{escape(m.run_id)}</span> · engine {escape(m.engine)} · account {escape(m.account)}
 · input {escape(m.input)} ({m.inputs} records) · {escape(params)} · outputs digest {escape(m.digest)}</p>
<h2>Headline</h2>
{_table("headline", ("figure", "value"), headline_rows(f))}
<h2>Equity and drawdown</h2>
{_img("equity", pngs["equity.png"], "equity curve and drawdown")}
<h2>P&amp;L by market type, venue and league</h2>
{_img("pnl_breakdown", pngs["pnl_breakdown.png"], "net P&L by market type, venue and league")}
{_breakdown("by-market-type", "market type", f.by_market_type)}
{_breakdown("by-venue", "venue", f.by_venue)}
{_breakdown("by-league", "league", f.by_league)}
<h2>Edge at entry vs realized return</h2>
{_img("edge_vs_return", pngs["edge_vs_return.png"], "edge at entry against realized return")}
<h2>Trades</h2>
{_table("trades", ("event", "venue", "market", "side", "entry (UTC)", "exit (UTC)", "exit kind", "contracts",
                   "entry price", "exit price", "fees", "net P&L", "return", "model p", "market p", "edge"),
        trades, left=4)}
<h2>Per event</h2>
{_table("events", ("event", "trades", "net P&L", "Sharpe-like"), events)}
<h2>Model calibration on the replayed events</h2>
<p>{cal.samples} model samples with a known outcome, {cal.paired} with the market's probability at the same instant.
Model Brier on all samples: {num(cal.model_brier)}.</p>
{_table("calibration", ("score", "model", "market"), [
    ("Brier (paired)", num(cal.model_brier_paired), num(cal.market_brier_paired)),
    ("log loss (paired)", num(cal.model_logloss_paired), num(cal.market_logloss_paired))])}
{_img("calibration", pngs["calibration.png"], "reliability diagram by decile")}
{_bins("reliability", cal.model_bins, cal.market_bins)}
{DEFINITIONS}
</body></html>
"""


def render_sweep(reports: Sequence[RunReport], overlay: bytes) -> str:
    rows = []
    for i, r in enumerate(reports):
        f = r.figures
        rows.append((
            f'<td class="l"><a href="variant-{i + 1}/report.html">{escape(r.meta.label)}</a></td>', r.meta.run_id,
            _signed(usd(f.net_pnl_micros), f.net_pnl_micros), pct(f.return_on_bankroll, 2), pct(f.max_drawdown, 2),
            str(f.trades), pct(f.hit_rate), usd(f.fees_micros), usd(f.turnover_micros),
            num(f.sharpe_like_across_events, 2), str(f.signals), str(f.orders), str(f.fills),
            num(f.calibration.model_brier_paired), num(f.calibration.market_brier_paired)))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Arbees backtest sweep</title>
<style>{STYLE}</style></head><body>
<h1>Arbees backtest sweep</h1>
<p class="meta">{len(reports)} variants of the same input ({escape(reports[0].meta.input) if reports else "-"});
each variant's own report is linked from its name.</p>
<h2>Side by side</h2>
{_table("variants", ("variant", "run id", "net P&L", "return", "max drawdown", "trades", "hit rate", "fees", "turnover",
                     "Sharpe-like", "signals", "orders", "fills", "Brier model", "Brier market"), rows, left=2)}
<h2>Equity by variant</h2>
{_img("equity_overlay", overlay, "equity of every variant overlaid")}
{DEFINITIONS}
</body></html>
"""
