"""The per-event shard processor: `step(state, record) -> (state, outputs)`, pure.

On an EventState the model is re-run (via the registry, or an injected lookup) and a
Probability is emitted when some outcome moved by more than `prob_epsilon`; every
market of the event is then re-priced against it. On a Quote one market's book is
replaced and that market (both sides) plus its arbitrage pairs are re-priced. Signals
carry ids derived from (event, kind, market(s), side, triggering input id), so a
replay of the same input emits byte-identical signals; time is the record's `ts`.

`step_batch` applies many records in order and prices all their rows in one numpy
call; its outputs are exactly those of calling `step` record by record (each
record's rows are snapshots of the books as that record left them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from schemas.enums import Action, MarketType, Side, SignalKind
from schemas.records import EventState, Probability, ShardInput, Signal, SignalLeg
from streams.probability.base import ModelError, WinProbabilityModel
from streams.shard.arbitrage import ArbResult, arbitrage
from streams.shard.config import ShardConfig
from streams.shard.edges import EdgeResult, LadderRows, model_edges
from streams.shard.state import NO, YES, BadShardInput, Books, ShardState, entry_from

ModelLookup = Callable[[MarketType, str], WinProbabilityModel]
Output = Probability | Signal


def registry_lookup(market_type: MarketType, league: str) -> WinProbabilityModel:
    """The default model lookup: the probability registry."""
    from streams.probability.registry import model_for

    return model_for(market_type, league)


def stable_id(*parts: object) -> str:
    """A deterministic id from its inputs (replays reproduce it)."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class EdgeJob:
    """Rows of one record to price for model edges: markets × sides of one books snapshot."""

    books: Books
    markets: np.ndarray
    sides: np.ndarray
    p_side: np.ndarray


@dataclass(frozen=True)
class ArbJob:
    books: Books
    pair_yes: np.ndarray
    pair_no: np.ndarray


@dataclass(frozen=True)
class Plan:
    """What one record asks to be priced, and the record's own immediate outputs."""

    record: ShardInput
    state: ShardState
    outputs: tuple[Output, ...]
    edges: EdgeJob | None
    arbs: ArbJob | None
    error: str = ""


Evaluator = Callable[[LadderRows, np.ndarray, float], EdgeResult]
ArbEvaluator = Callable[[LadderRows, LadderRows, int], ArbResult]


class ShardProcessor:
    def __init__(
        self,
        config: ShardConfig | None = None,
        lookup: ModelLookup = registry_lookup,
        evaluate: Evaluator = model_edges,
        evaluate_arbs: ArbEvaluator = arbitrage,
    ) -> None:
        self.config = config or ShardConfig()
        self.lookup = lookup
        self.evaluate = evaluate
        self.evaluate_arbs = evaluate_arbs

    # ----------------------------------------------------------------- API

    def step(self, state: ShardState, record: ShardInput) -> tuple[ShardState, list[Output]]:
        new, outs = self.step_batch({state.event_id: state}, [record])
        return new[record.event_id], outs[0]

    def step_batch(
        self, states: Mapping[str, ShardState], records: Sequence[ShardInput]
    ) -> tuple[dict[str, ShardState], list[list[Output]]]:
        """Apply records in order; one output list per record, as if stepped one by one.

        A record the shard cannot use raises BadShardInput from `plan`; use `plan` and
        `finish` directly to dead-letter it and carry on (the agent does).
        """
        current = dict(states)
        plans: list[Plan] = []
        for rec in records:
            st = current.get(rec.event_id) or ShardState(event_id=rec.event_id)
            plan = self.plan(st, rec)
            current[rec.event_id] = plan.state
            plans.append(plan)
        return current, self.finish(plans)

    # -------------------------------------------------------------- phase 1

    def plan(self, state: ShardState, record: ShardInput) -> Plan:
        if record.event_id != state.event_id:
            raise BadShardInput(f"record for {record.event_id} stepped on shard {state.event_id}")
        if record.state is not None:
            return self._plan_state(state, record, record.state)
        if record.quote is not None:
            return self._plan_quote(state, record)
        raise BadShardInput(f"shard input {record.input_id} carries neither a state nor a quote")

    def _plan_state(self, state: ShardState, record: ShardInput, ev: EventState) -> Plan:
        if state.state is not None and ev.ts < state.state.ts:
            return Plan(record, state, (), None, None)  # older than what we know: ignore
        try:
            model = self.lookup(ev.market_type, ev.league)
            probs = {k: float(v) for k, v in sorted(model.probabilities(ev).items())}
        except ModelError as exc:
            new = replace(state, state=ev, probs=None, model_error=f"{type(exc).__name__}: {exc}")
            return Plan(record, new, (), None, None, error=new.model_error)
        new = replace(state, state=ev, probs=probs, model=model.name, version=model.version, model_error="")
        if not self._moved(state.emitted, probs):
            return Plan(record, new, (), None, None)
        new = replace(new, emitted=probs)
        prob = Probability(
            prob_id=stable_id(ev.event_id, "prob", ev.state_id, ev.ts),
            event_id=ev.event_id,
            ts=ev.ts,
            outcomes=probs,
            model=model.name,
            version=model.version,
            inputs_digest=stable_id(repr(ev)),
            state_id=ev.state_id,
        )
        books = new.books
        all_m = np.arange(len(books.keys), dtype=np.int64)
        return Plan(record, new, (prob,), self._edge_job(new, record.ts, all_m), None)

    def _moved(self, before: dict[str, float] | None, after: dict[str, float]) -> bool:
        if before is None or before.keys() != after.keys():
            return True
        return any(abs(after[k] - before[k]) > self.config.prob_epsilon for k in after)

    def _plan_quote(self, state: ShardState, record: ShardInput) -> Plan:
        quote = record.quote
        assert quote is not None
        entry = entry_from(record.link, record.listing, quote)
        books = state.books
        key_m = books.index(f"{quote.venue.value}:{quote.market_id}")
        if key_m is not None:
            old = books.entries[key_m].quote
            if old is not None and (quote.ts, quote.seq) < (old.ts, old.seq):
                return Plan(record, state, (), None, None)  # out of order: keep the newer book
        books = books.upsert(entry, self.config.settle_tolerance_ms)
        new = replace(state, books=books)
        m = books.index(f"{quote.venue.value}:{quote.market_id}")
        assert m is not None
        edges = self._edge_job(new, record.ts, np.array([m], np.int64))
        return Plan(record, new, (), edges, self._arb_job(new, record.ts, m))

    def _live_markets(self, books: Books, now: int, markets: np.ndarray) -> np.ndarray:
        fresh = (now - books.quote_ts[markets]) <= self.config.stale_quote_ms
        return markets[fresh]

    def _edge_job(self, state: ShardState, now: int, markets: np.ndarray) -> EdgeJob | None:
        cfg, ev, probs = self.config, state.state, state.probs
        if ev is None or probs is None or cfg.blocked(ev.status) or now - ev.ts > cfg.stale_state_ms:
            return None
        books = state.books
        markets = self._live_markets(books, now, markets)
        roles = books.roles
        p_yes = np.array([probs.get(roles[m], np.nan) for m in markets.tolist()], dtype=np.float64)
        priced = ~np.isnan(p_yes)  # a market on an outcome the model does not price is skipped
        markets, p_yes = markets[priced], p_yes[priced]
        if not len(markets):
            return None
        return EdgeJob(
            books=books,
            markets=np.repeat(markets, 2),
            sides=np.tile(np.array([YES, NO], np.int64), len(markets)),
            p_side=np.stack([p_yes, 1.0 - p_yes], axis=1).reshape(-1),
        )

    def _arb_job(self, state: ShardState, now: int, m: int) -> ArbJob | None:
        ev = state.state
        if ev is not None and self.config.blocked(ev.status):
            return None
        books = state.books
        touch = (books.pair_yes == m) | (books.pair_no == m)
        py, pn = books.pair_yes[touch], books.pair_no[touch]
        fresh = ((now - books.quote_ts[py]) <= self.config.stale_quote_ms) & (
            (now - books.quote_ts[pn]) <= self.config.stale_quote_ms
        )
        if not fresh.any():
            return None
        return ArbJob(books, py[fresh], pn[fresh])

    # ------------------------------------------------------- phases 2 and 3

    def finish(self, plans: Sequence[Plan]) -> list[list[Output]]:
        """Price every planned row in one call per kind and emit outputs in record order."""
        edge_jobs = [p.edges for p in plans if p.edges is not None]
        arb_jobs = [p.arbs for p in plans if p.arbs is not None]
        edge_res = self.evaluate(*_edge_rows(edge_jobs), self.config.min_edge) if edge_jobs else None
        arb_res = None
        if arb_jobs:
            yes_rows, no_rows = _arb_rows(arb_jobs)
            arb_res = self.evaluate_arbs(yes_rows, no_rows, self.config.min_arb_profit_micros)
        out: list[list[Output]] = []
        e_off = a_off = 0
        for plan in plans:
            outs: list[Output] = list(plan.outputs)
            if plan.edges is not None and edge_res is not None:
                n = len(plan.edges.markets)
                outs.extend(self._edge_signals(plan, edge_res, e_off))
                e_off += n
            if plan.arbs is not None and arb_res is not None:
                n = len(plan.arbs.pair_yes)
                outs.extend(self._arb_signals(plan, arb_res, a_off))
                a_off += n
            out.append(outs)
        return out

    def _edge_signals(self, plan: Plan, res: EdgeResult, off: int) -> list[Signal]:
        job, rec, st = plan.edges, plan.record, plan.state
        assert job is not None
        min_c100 = round(self.config.min_size * 100)
        sigs: list[Signal] = []
        ok = (res.levels[off : off + len(job.markets)] > 0) & (res.size_c100[off : off + len(job.markets)] >= min_c100)
        for k in np.flatnonzero(ok).tolist():
            r = off + k
            m, side = int(job.markets[k]), int(job.sides[k])
            entry = job.books.entries[m]
            size = int(res.size_c100[r])
            side_e = Side.YES if side == YES else Side.NO
            leg = SignalLeg(
                venue=entry.link.venue,
                market_id=entry.link.market_id,
                side=side_e,
                action=Action.BUY,
                price_micros=int(res.limit_price_micros[r]),
                fee_micros=-(-int(res.fee_micros[r]) * 100 // size),
                size=size / 100,
                outcome_role=entry.link.yes_role,
            )
            sigs.append(
                Signal(
                    signal_id=stable_id(rec.event_id, SignalKind.MODEL_EDGE.value, job.books.keys[m], side_e.value, rec.input_id),
                    event_id=rec.event_id,
                    kind=SignalKind.MODEL_EDGE,
                    ts=rec.ts,
                    legs=[leg],
                    model_p=float(job.p_side[k]),
                    edge=float(res.edge[r]),
                    ev_micros=int(res.ev_micros[r]),
                    size=size / 100,
                    model=f"{st.model}@{st.version}",
                    trigger=rec.input_id,
                )
            )
        return sigs

    def _arb_signals(self, plan: Plan, res: ArbResult, off: int) -> list[Signal]:
        job, rec = plan.arbs, plan.record
        assert job is not None
        min_c100 = round(self.config.min_size * 100)
        sigs: list[Signal] = []
        n = len(job.pair_yes)
        ok = res.size_c100[off : off + n] >= max(min_c100, 1)
        for k in np.flatnonzero(ok).tolist():
            r = off + k
            y, no = int(job.pair_yes[k]), int(job.pair_no[k])
            ey, en = job.books.entries[y], job.books.entries[no]
            size = int(res.size_c100[r])
            legs = [
                SignalLeg(
                    venue=ey.link.venue,
                    market_id=ey.link.market_id,
                    side=Side.YES,
                    action=Action.BUY,
                    price_micros=int(res.yes_limit_micros[r]),
                    fee_micros=-(-int(res.yes_fee_micros[r]) * 100 // size),
                    size=size / 100,
                    outcome_role=ey.link.yes_role,
                ),
                SignalLeg(
                    venue=en.link.venue,
                    market_id=en.link.market_id,
                    side=Side.NO,
                    action=Action.BUY,
                    price_micros=int(res.no_limit_micros[r]),
                    fee_micros=-(-int(res.no_fee_micros[r]) * 100 // size),
                    size=size / 100,
                    outcome_role=en.link.yes_role,
                ),
            ]
            profit = int(res.profit_micros[r])
            sigs.append(
                Signal(
                    signal_id=stable_id(
                        rec.event_id, SignalKind.CROSS_VENUE_ARB.value, job.books.keys[y], job.books.keys[no], rec.input_id
                    ),
                    event_id=rec.event_id,
                    kind=SignalKind.CROSS_VENUE_ARB,
                    ts=rec.ts,
                    legs=legs,
                    model_p=None,
                    edge=profit / 1_000_000,
                    ev_micros=profit,
                    size=size / 100,
                    model="",
                    trigger=rec.input_id,
                )
            )
        return sigs


def _pad_stack(blocks: list[np.ndarray]) -> np.ndarray:
    width = max(b.shape[1] for b in blocks)
    if all(b.shape[1] == width for b in blocks):
        return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    out = np.zeros((sum(b.shape[0] for b in blocks), width), np.int64)
    row = 0
    for b in blocks:
        out[row : row + b.shape[0], : b.shape[1]] = b
        row += b.shape[0]
    return out


def _rows(books_list: list[Books], ms: list[np.ndarray], sides: list[np.ndarray]) -> LadderRows:
    """Gather ladder rows: one fancy-index per job (a job is a record, not a market)."""
    cat = (lambda xs: np.concatenate(xs) if len(xs) > 1 else xs[0])
    return LadderRows(
        p4=_pad_stack([b.p4[m, s] for b, m, s in zip(books_list, ms, sides)]),
        c100=_pad_stack([b.c100[m, s] for b, m, s in zip(books_list, ms, sides)]),
        venue=cat([b.venue[m] for b, m in zip(books_list, ms)]),
        rate_ppm=cat([b.rate_ppm[m] for b, m in zip(books_list, ms)]),
        exponent=cat([b.exponent[m] for b, m in zip(books_list, ms)]),
    )


def _edge_rows(jobs: list[EdgeJob]) -> tuple[LadderRows, np.ndarray]:
    rows = _rows([j.books for j in jobs], [j.markets for j in jobs], [j.sides for j in jobs])
    p = np.concatenate([j.p_side for j in jobs]) if len(jobs) > 1 else jobs[0].p_side
    return rows, p


def _arb_rows(jobs: list[ArbJob]) -> tuple[LadderRows, LadderRows]:
    books = [j.books for j in jobs]
    yes = _rows(books, [j.pair_yes for j in jobs], [np.full(len(j.pair_yes), YES) for j in jobs])
    no = _rows(books, [j.pair_no for j in jobs], [np.full(len(j.pair_no), NO) for j in jobs])
    return yes, no
