"""SIGKILL the trading worker at random points while orders flow; nothing is lost or doubled.

Signals for the recorded GB market are published in small batches; after each
batch a worker starts, is allowed to make progress (orders or fills appear), and
is killed with SIGKILL at a random moment (seeded). After the last kill a final
worker drains everything and the game is settled. Then, read from the topics:
every signal has exactly one order id; every order id has exactly one terminal
status and one fill set (records repeated under the same fill id are identical
and counted once); the ledger, applied with the optimistic-version rule, books each
fee and each fill's settlement exactly once and balances to the cent against the
distinct fills and the settlement. The positions agent reads fills and the final
state from different topics, so a worker catching up after the kills may read the
final state before some fills: those must be settled as they arrive (once failed
$26.88 short when 48 contracts' fills overtook the final state and were never
settled). On a failure the message says which fills lack a fee or settlement
entry and which entries the ledger refused. Market data goes on while the final
worker catches up (`LiveFeed` says why one last quote is not enough). Static group
membership (CONSUMER_GROUP_INSTANCE_ID) lets a restarted worker take its partitions
back without waiting out the dead one's session.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

import pytest

from schemas.enums import OrderState, PositionStatus
from schemas.records import Fill, LedgerEntry, Order, OrderStatus, PositionEvent, RiskEvent
from streams.trading import ledger as ledger_rule
from tests.integration.test_trading_loop import ledger_balance, trading_env  # noqa: F401 - the fixture
from tests.unit.trading import recorded_game as game

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]  # its own waits add up to ~540 s

KILLS = 21
BATCH = 4
SEED = 20251127
TERMINAL = {OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED}


def diagnose(entries: list[LedgerEntry], fills: dict[str, Fill], positions: list[PositionEvent]) -> str:
    """What a failed balance needs explained: refused entries, settlements and which fills they missed."""
    lines: list[str] = []
    st = ledger_rule.LedgerState()
    fee_version: dict[str, int] = {}
    duplicates, refused = 0, []
    for e in entries:
        st, verdict = ledger_rule.apply(st, e)
        if verdict is ledger_rule.Verdict.DUPLICATE:
            duplicates += 1
        elif verdict is not ledger_rule.Verdict.ACCEPTED:
            refused.append(f"{verdict.value} {e.entry_id} v{e.version}")
        elif e.entry_id.startswith("fee:"):
            fee_version[e.entry_id[4:]] = e.version
    lines.append(f"refused: {duplicates} duplicates (replayed copies), {len(refused)} stale or gap (rebuilt by the writer): "
                 f"{refused}")
    booked = {eid for _, eid in st.recent}
    lost = [f"fee:{fid}" for fid in fills if f"fee:{fid}" not in booked]
    lines.append(f"fees never booked: {lost}")
    unsettled = [fid for fid in fills if f"realized:settle:{fid}" not in booked]
    lines.append(f"fills never settled: {len(unsettled)}, {sum(fills[f].count for f in unsettled)} contracts: {unsettled}")
    settle_v = min((v for v, eid in st.recent if eid.startswith("realized:settle:")), default=None)
    if settle_v is not None:
        late = [fid for fid in fills if fee_version.get(fid, 0) > settle_v]
        lines.append(f"fills read after the final state (fee booked after v{settle_v}, settled on arrival): {len(late)}, "
                     f"{sum(fills[f].count for f in late)} contracts")
    after = [p for p in positions if p.status is PositionStatus.SETTLED]
    lines.append(f"SETTLED position events: {len(after)}, last realized {after[-1].realized_pnl_micros if after else None}")
    return "\n".join(lines)


class LiveFeed:
    """Market data goes on after recovery, as it does live: the unchanged book once a second of event time.

    A paper order fills against the book as of its time + latency, so it waits for market data past
    that; and sizing stamps an order with the latest market time it has read. A worker catching up
    after the kills can read every quote, the last included, before the signals still in its inbox
    (two routers fill it): those orders are then later than any quote, and only a later one fills
    them (with one last quote, 14 to 62 of the 84 orders stayed parked for good under load).
    """

    def __init__(self, pub, event_id: str, ts: int) -> None:
        self.pub, self.event_id, self.ts, self.sent_at = pub, event_id, ts, 0.0

    def tick(self) -> None:
        if time.monotonic() - self.sent_at < 1.0:
            return
        self.pub.publish("shard.inputs", self.event_id, game.quote_input(game.GB, self.ts, self.event_id))
        self.pub.flush()
        self.ts += 1_000
        self.sent_at = time.monotonic()


def every_fill_settled(reader) -> bool:
    booked = {eid for _, eid in ledger_balance(reader.of("ledger", LedgerEntry))[0].recent}
    return all(f"realized:settle:{f.fill_id}" in booked for f in reader.of("fills", Fill))


def test_sigkill_at_random_points_loses_and_duplicates_no_order(trading_env) -> None:
    worker, reader, pub = trading_env
    settings = worker.log_dir / "arbees.toml"
    settings.write_text("[trading.risk]\nmax_orders_per_minute = 100000\nmax_orders_per_hour = 1000000\n"
                        "max_market_exposure_micros = 900000000\nmax_event_exposure_micros = 900000000\n"
                        # the routers read signals and market data from two topics; after kills one can run
                        # 30 s of event time ahead of the other and every backlog signal looks stale. Execution
                        # keeps books over the same window: a worker catching up read 80 s of quotes past the
                        # first orders (16 books per market, the old bound by count, were too few)
                        "stale_signal_ms = 3600000\n")
    worker.extra_env.update({
        "ARBEES_CONFIG": str(settings),
        "BROKER_SESSION_TIMEOUT": "6",
        "BROKER_HEARTBEAT_INTERVAL": "1",
        "CONSUMER_GROUP_INSTANCE_ID": f"{worker.app_id}-w",
    })
    rng = random.Random(SEED)
    acct, ev = worker.account, worker.event_id
    t0 = game.KICKOFF_MS + 3_600_000
    pub.publish("ledger", acct, game.deposit(acct))
    pub.publish("shard.inputs", ev, game.quote_input(game.GB, t0, ev))
    pub.flush()
    signals = []
    started = time.monotonic()
    kills = 0
    for k in range(KILLS):
        for _ in range(BATCH):
            i = len(signals)
            size = float(rng.randint(1, 3))
            sig = game.edge_signal(game.GB, t0 + 1_000 * (i + 1), p=0.62, price=440_000, fee_per_contract=17_648,
                                   size=size, tag=f"-crash-{i}-{worker.app_id}", event_id=ev)
            signals.append(sig)
            pub.publish("signals", ev, sig)
        # the unchanged book a moment later: paper orders fill once market data past their time is read
        pub.publish("shard.inputs", ev, game.quote_input(game.GB, t0 + 1_000 * len(signals) + 500, ev))
        pub.flush()
        worker.start()
        seen = sum(len(v) for v in reader.records.values())
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and sum(len(v) for v in reader.records.values()) == seen:
            reader.poll(0.2)  # orders are flowing once this worker writes anything
        time.sleep(rng.uniform(0.0, 1.2))
        worker.kill()
        kills += 1
    killed_in = time.monotonic() - started
    worker.start()
    feed = LiveFeed(pub, ev, t0 + 1_000 * len(signals) + 2_000)

    def all_terminal(r) -> bool:
        feed.tick()
        states = {s.order_id for s in r.of("fills", OrderStatus) if s.state in TERMINAL}
        return len({o.signal_id for o in r.of("orders", Order) if o.order_id in states}) >= len(signals)

    try:
        reader.until(all_terminal, 120, worker)
    except AssertionError as exc:
        orders = {o.signal_id: o.order_id for o in reader.of("orders", Order)}
        done = {s.order_id for s in reader.of("fills", OrderStatus) if s.state in TERMINAL}
        no_order = [s.signal_id for s in signals if s.signal_id not in orders]
        open_orders = sorted({oid for oid in orders.values() if oid not in done})
        index = {s.signal_id: i for i, s in enumerate(signals)}
        open_at = sorted(index[sid] for sid, oid in orders.items() if oid not in done)
        states = [(s.order_id, s.state.value, s.reason) for s in reader.of("fills", OrderStatus) if s.order_id in open_orders]
        open_ts = sorted({o.ts for o in reader.of("orders", Order) if o.order_id in open_orders})
        raise AssertionError(f"signals without an order: {no_order}\norders without a terminal status: {open_orders} "
                             f"(signals #{open_at} of {len(signals)}; their event times {open_ts}, "
                             f"market data published up to {feed.ts - 1_000}) "
                             f"(their statuses: {states})\n{exc}") from None
    pub.publish("shard.inputs", ev, game.final_input(event_id=ev))
    pub.flush()
    reader.until(lambda r: any(p.status is PositionStatus.SETTLED for p in r.of("positions", PositionEvent)), 60, worker)
    deadline = time.monotonic() + 60  # fills the positions agent reads after the final state settle as they arrive
    while time.monotonic() < deadline and not every_fill_settled(reader):
        reader.poll(1.0)
    reader.poll(2.0)
    print(f"{kills} SIGKILLs in {killed_in:.0f}s, {len(signals)} signals, {worker.starts} worker starts")

    # one order id per signal, nothing refused
    assert not [r for r in reader.of("risk.state", RiskEvent) if r.account == acct], "no signal may be refused"
    orders_by_signal: dict[str, set[str]] = defaultdict(set)
    for o in reader.of("orders", Order):
        orders_by_signal[o.signal_id].add(o.order_id)
    assert set(orders_by_signal) == {s.signal_id for s in signals}
    assert all(len(ids) == 1 for ids in orders_by_signal.values())
    order_ids = {next(iter(ids)) for ids in orders_by_signal.values()}

    # one terminal outcome and one fill set per order id
    statuses: dict[str, set[tuple]] = defaultdict(set)
    for s in reader.of("fills", OrderStatus):
        statuses[s.order_id].add((s.state, s.filled_count))
    assert set(statuses) == order_ids and all(len(v) == 1 for v in statuses.values()), statuses
    fills: dict[str, Fill] = {}
    for f in reader.of("fills", Fill):
        assert fills.setdefault(f.fill_id, f) == f, f"fill {f.fill_id} written twice with different content"
    per_order: dict[str, float] = defaultdict(float)
    for f in fills.values():
        per_order[f.order_id] += f.count
    for oid, states in statuses.items():
        ((state, filled),) = states
        assert state is OrderState.FILLED and per_order[oid] == filled
    duplicates = len(reader.of("fills", Fill)) - len(fills)
    print(f"{len(order_ids)} orders, {len(fills)} distinct fills, {duplicates} repeated fill records (deduplicated)")

    # the ledger books every fee once and balances against the fills and the settlement
    entries = reader.of("ledger", LedgerEntry)
    state, refused = ledger_balance(entries)
    booked = {eid for _, eid in state.recent}
    why = diagnose(entries, fills, reader.of("positions", PositionEvent))
    assert {f"fee:{fid}" for fid in fills} <= booked, why
    contracts = sum(f.count for f in fills.values())
    fees = sum(f.fee_micros for f in fills.values())
    cost = sum(round(f.count * 100) * f.price_micros // 100 for f in fills.values())
    payout = round(contracts * 100) * 1_000_000 // 100  # GB won: YES pays $1
    assert state.balance.value == game.ONE_THOUSAND_DOLLARS - fees + payout - cost, why
    assert {f"realized:settle:{fid}" for fid in fills} <= booked, why  # settlement is booked per fill
    assert state.version == 1 + 2 * len(fills), why  # deposit, then a fee and a settlement per fill
    print(f"ledger v{state.version}, balance {state.balance}, {refused} refused copies")
    print(why)
    assert kills >= 20
