"""Counters of one part, exported to Prometheus and summarised in its heartbeats.

The part's own process serves them on ARBEES_METRICS_PORT (set by `arbees run`);
`arbees status` lists the ports. Counting goes through one `Meter` so the
heartbeat and the scrape always agree.
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from schemas.enums import RiskKind
from schemas.records import LedgerEntry, PositionEvent, RiskEvent

RECORDS_IN = Counter("arbees_records_in", "records consumed", ["part", "topic"])
RECORDS_OUT = Counter("arbees_records_out", "records produced", ["part", "topic"])
LATENCY = Histogram("arbees_processing_seconds", "time to process one record or batch", ["part", "stage"],
                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
LAG = Gauge("arbees_consumer_lag", "records behind the log end", ["part", "topic", "partition"])
ERRORS = Counter("arbees_errors", "failures (unreachable service, bad input, crash)", ["part", "kind"])
UP = Gauge("arbees_part_up", "1 while the part reaches what it depends on, 0 when it cannot", ["part"])
SIGNALS = Counter("arbees_signals", "signals emitted", ["part"])
ORDERS = Counter("arbees_orders", "orders emitted", ["part"])
FILLS = Counter("arbees_fills", "fills booked", ["part"])
BALANCE = Gauge("arbees_balance_micros", "ledger balance per account (micro-dollars)", ["account"])
PNL = Gauge("arbees_realized_pnl_micros", "realized P&L per account (micro-dollars)", ["account"])
BREAKER = Gauge("arbees_breaker_tripped", "1 while the account's breaker or kill switch holds orders", ["account"])

_TRADING_TOPICS = {"signals": SIGNALS, "orders": ORDERS, "fills": FILLS}
_realized: dict[str, dict[str, int]] = {}  # account -> position -> realized P&L so far


def observe_trading(record: object) -> None:
    """Balance, realized P&L and breaker gauges from the trading agent's own outputs."""
    if isinstance(record, LedgerEntry):
        BALANCE.labels(record.account).set(record.balance_micros)
    elif isinstance(record, PositionEvent):
        per_position = _realized.setdefault(record.account, {})
        per_position[record.position_id] = record.realized_pnl_micros
        PNL.labels(record.account).set(sum(per_position.values()))
    elif isinstance(record, RiskEvent):
        if record.kind in (RiskKind.BREAKER_TRIPPED, RiskKind.KILL_SWITCH, RiskKind.DAILY_LOSS_STOP):
            BREAKER.labels(record.account).set(1)
        elif record.kind is RiskKind.BREAKER_RESET:
            BREAKER.labels(record.account).set(0)


@dataclass
class Meter:
    """In/out counts of one part by topic, plus the newest record time seen."""

    part: str
    records_in: dict[str, int] = field(default_factory=dict)
    records_out: dict[str, int] = field(default_factory=dict)
    last_record_ms: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def consumed(self, topic: str, n: int = 1, record_ms: int = 0) -> None:
        with self._lock:
            self.records_in[topic] = self.records_in.get(topic, 0) + n
            self.last_record_ms = max(self.last_record_ms, record_ms)
        RECORDS_IN.labels(self.part, topic).inc(n)

    def produced(self, topic: str, n: int = 1, record_ms: int = 0) -> None:
        with self._lock:
            self.records_out[topic] = self.records_out.get(topic, 0) + n
            self.last_record_ms = max(self.last_record_ms, record_ms)
        RECORDS_OUT.labels(self.part, topic).inc(n)
        trading = _TRADING_TOPICS.get(topic)
        if trading is not None:
            trading.labels(self.part).inc(n)

    def totals(self) -> tuple[int, int]:
        with self._lock:
            return sum(self.records_in.values()), sum(self.records_out.values())


_meter: Meter | None = None


def part_name(default: str) -> str:
    """ARBEES_PART (set by `arbees run`), else the part's own name."""
    return os.environ.get("ARBEES_PART", "").strip() or default


def meter(default_part: str) -> Meter:
    """This process's meter; the first call names the part and starts the metrics server."""
    global _meter
    if _meter is None:
        _meter = Meter(part_name(default_part))
        serve_metrics()
    return _meter


def serve_metrics() -> int | None:
    """Serve /metrics on ARBEES_METRICS_PORT when it is set; the port served on, or None.

    `arbees run` picks the port when it plans the parts, and a part binds it when it starts or restarts;
    meanwhile any process's outgoing connection may have taken it as its local port (ports the kernel picks
    for free are the ones connections get). A part must not die of that, and die again at every restart while
    the connection lives (a chaos run's `targets` did, for the whole run): it serves on a port of the kernel's
    choosing instead, and says which in ARBEES_METRICS_PORT, which its heartbeats report.
    """
    raw = os.environ.get("ARBEES_METRICS_PORT", "").strip()
    if not raw:
        return None
    port = int(raw)
    try:
        start_http_server(port, addr="127.0.0.1")
        return port
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
    server, _ = start_http_server(0, addr="127.0.0.1")
    served = int(server.server_address[1])
    os.environ["ARBEES_METRICS_PORT"] = str(served)
    structlog.get_logger(__name__).warning("metrics port taken; serving on another", asked=port, served=served)
    return served
