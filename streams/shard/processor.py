"""The per-event shard processor: `step(state, record) -> (state, outputs)`, pure.

On an EventState the model is re-run (via the registry, or an injected lookup) and a
Probability is emitted when some outcome moved by more than `prob_epsilon`; every
market of the event is then re-priced against it. On a Quote one market's book is
replaced and that market (both sides) plus its arbitrage pairs are re-priced. Signals
carry ids derived from (event, kind, market(s), side, triggering input id), so a
replay of the same input emits byte-identical signals; time is the record's `ts`.

`run_batch` applies many records in order and prices all their rows in one numpy
pass; its outputs are exactly those of calling `step` record by record (each row
is priced on the books and listings as its record left them: `streams.shard.batch`). Rows that
cannot produce a signal — stale, no ask, best ask alone already past the edge or
profit threshold, not enough size — are dropped before the edge arithmetic; the
bounds are exact (fees are never negative), so no signal is lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from schemas.enums import Action, MarketType, Side, SignalKind
from schemas.records import EventState, Probability, ShardInput, Signal, SignalLeg
from streams.probability.base import ModelError, WinProbabilityModel
from streams.shard.arbitrage import C100_PAYOUT_MICROS, ArbResult, arbitrage
from streams.shard.batch import EventWork, Gathered, Segment, evolve
from streams.shard.config import ShardConfig
from streams.listings import is_open
from streams.shard.edges import MICROS, EdgeResult, LadderRows, model_edges
from streams.shard.ladders import batch_ladders, refusal
from streams.shard.prior import excluded_market, pregame_price, with_prior
from streams.shard.state import NO, YES, BadShardInput, ShardState, check_link, entry_from, kept_listing, structure_key

ModelLookup = Callable[[MarketType, str], WinProbabilityModel]
Output = Probability | Signal
Evaluator = Callable[[LadderRows, np.ndarray, float], EdgeResult]
ArbEvaluator = Callable[[LadderRows, LadderRows, int], ArbResult]

_new = object.__new__
_SIDES = (Side.YES, Side.NO)


def registry_lookup(market_type: MarketType, league: str) -> WinProbabilityModel:
    """The default model lookup: the probability registry."""
    from streams.probability.registry import model_for

    return model_for(market_type, league)


def stable_id(*parts: object) -> str:
    """A deterministic id from its inputs (replays reproduce it)."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()


def _record(cls: type, fields: dict[str, object]) -> object:
    """A frozen contract record from all of its fields, skipping the per-field __setattr__ of __init__."""
    out = _new(cls)
    out.__dict__.update(fields)
    return out


@dataclass(frozen=True)
class BatchResult:
    states: dict[str, ShardState]  # every state passed in, the touched ones replaced
    outputs: list[list[Output]]  # per record
    errors: list[str | None]  # per record: why it was refused (dead-letter it), else None
    model_errors: list[str | None]  # per record: a state the model could not price


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

    def step(self, state: ShardState, record: ShardInput) -> tuple[ShardState, list[Output]]:
        if record.event_id != state.event_id:
            raise BadShardInput(f"record for {record.event_id} stepped on shard {state.event_id}")
        new, outs = self.step_batch({state.event_id: state}, [record])
        return new[record.event_id], outs[0]

    def step_batch(
        self, states: Mapping[str, ShardState], records: Sequence[ShardInput]
    ) -> tuple[dict[str, ShardState], list[list[Output]]]:
        """Apply records in order; one output list per record. Raises on the first refused record."""
        res = self.run_batch(states, records)
        for err in res.errors:
            if err is not None:
                raise BadShardInput(err)
        return res.states, res.outputs

    def run_batch(self, states: Mapping[str, ShardState], records: Sequence[ShardInput]) -> BatchResult:
        """Apply records in order; a refused record changes nothing and is reported in `errors`."""
        return _Run(self, states, records).result()


class _Run:
    """One `run_batch` call: plans records in order, closing a segment before a structural change."""

    def __init__(self, proc: ShardProcessor, states: Mapping[str, ShardState], records: Sequence[ShardInput]) -> None:
        self.proc, self.cfg, self.records = proc, proc.config, records
        n = len(records)
        quote_at = [k for k, r in enumerate(records) if r.state is None and r.quote is not None]
        self.ladders = batch_ladders([records[k].quote for k in quote_at])  # type: ignore[misc]
        self.row = dict(zip(quote_at, range(len(quote_at))))
        self.bad = set(self.ladders.bad)
        self.now = np.fromiter((r.ts for r in records), np.int64, n)
        self.current = dict(states)
        self.outputs: list[list[Output]] = [[] for _ in records]
        self.errors: list[str | None] = [None] * n
        self.model_errors: list[str | None] = [None] * n
        self._open()
        for k, rec in enumerate(records):
            if rec.state is not None:
                self._state(k, rec, rec.state)
            elif rec.quote is not None:
                self._quote(k, rec)
            else:
                self.errors[k] = f"shard input {rec.input_id} carries neither a state nor a quote"
        self._close()

    def result(self) -> BatchResult:
        return BatchResult(self.current, self.outputs, self.errors, self.model_errors)

    # ------------------------------------------------------------ planning

    def _open(self) -> None:
        self.seg = Segment(self.ladders, len(self.records))
        self.e_k: list[int] = []
        self.e_g: list[int] = []
        self.e_p: list[float] = []
        self.a_k: list[int] = []
        self.a_off: list[int] = []
        self.a_y: list[np.ndarray] = []
        self.a_n: list[np.ndarray] = []
        self.models: dict[int, str] = {}

    def _work(self, event_id: str) -> EventWork:
        work = self.seg.events.get(event_id)
        if work is None:
            st = self.current.get(event_id) or ShardState(event_id=event_id)
            work = self.seg.enter(st)
        return work

    def _state(self, k: int, rec: ShardInput, ev: EventState) -> None:
        work = self.seg.events.get(rec.event_id)
        known = work.state if work is not None else getattr(self.current.get(rec.event_id), "state", None)
        if known is not None and ev.ts < known.ts:
            return  # older than what we know: ignore
        work = work or self._work(rec.event_id)
        ev = with_prior(ev, work.state, work.pregame)
        excluded = excluded_market(ev)
        try:
            model = self.proc.lookup(ev.market_type, ev.league)
            probs = {key: float(v) for key, v in sorted(model.probabilities(ev).items())}
        except ModelError as exc:
            work.state, work.probs, work.model_error = ev, None, f"{type(exc).__name__}: {exc}"
            self.model_errors[k] = work.model_error
            return
        work.state, work.probs, work.model, work.version, work.model_error = ev, probs, model.name, model.version, ""
        cfg = self.cfg
        # A state after the last one had gone stale prices the books again even when its probabilities did not
        # move: a quote that came in between (one that overtook this state on its way) met a stale state and
        # was not priced, and nothing else would price it.
        revived = known is not None and not cfg.fresh(known, ev.ts)
        if self._moved(work.emitted, probs):
            work.emitted = probs
            self.outputs[k].append(
                Probability(
                    prob_id=stable_id(ev.event_id, "prob", ev.state_id, ev.ts),
                    event_id=ev.event_id,
                    ts=ev.ts,
                    outcomes=probs,
                    model=model.name,
                    version=model.version,
                    inputs_digest=stable_id(repr(ev)),
                    state_id=ev.state_id,
                )
            )
        elif not revived:
            return
        if cfg.blocked(ev.status) or not cfg.fresh(ev, rec.ts):
            return
        added = False
        keys = work.base.books.keys
        for m, role in enumerate(work.base.books.roles):
            p = probs.get(role)
            if keys[m] == excluded:
                continue  # the prior is this market's own pregame price: an edge against it would be its echo
            if not work.open[m]:
                continue  # closed, paused or settled at the venue as of this record: nothing can be bought there
            if p is not None and p == p:  # a market on an outcome the model does not price is skipped
                self.e_k.append(k)
                self.e_g.append(work.offset + m)
                self.e_p.append(p)
                added = True
        if added:
            self.models[k] = f"{model.name}@{model.version}"

    def _moved(self, before: dict[str, float] | None, after: dict[str, float]) -> bool:
        if before is None or before.keys() != after.keys():
            return True
        return any(abs(after[key] - before[key]) > self.cfg.prob_epsilon for key in after)

    def _quote(self, k: int, rec: ShardInput) -> None:
        q = rec.quote
        assert q is not None
        eid = rec.event_id
        work = self.seg.events.get(eid)
        books = work.base.books if work is not None else getattr(self.current.get(eid), "books", None)
        m = books.slots.get(f"{q.venue.value}:{q.market_id}") if books is not None else None
        link, listing = rec.link, kept_listing(rec.listing) if rec.listing is not None else None
        if m is not None:  # the router sends the listing once per change: a known market keeps its last
            if listing is None:
                listing = work.listings[m] if work is not None else books.listings[m]  # type: ignore[union-attr]
            if link is None:
                link = work.links[m] if work is not None else books.links[m]  # type: ignore[union-attr]
        try:
            link, listing = check_link(link, listing, q)
        except BadShardInput as exc:
            self.errors[k] = str(exc)
            return
        skey = structure_key(link, listing)
        structural = m is None or books.structure[m] != skey  # type: ignore[union-attr]
        if structural:
            try:
                entry = entry_from(link, listing, q)
            except BadShardInput as exc:
                self.errors[k] = str(exc)
                return
        if m is not None:
            old = work.quotes[m] if work is not None else books.quotes[m]  # type: ignore[union-attr]
            if (q.ts, q.seq) < (old.ts, old.seq):
                return  # out of order: keep the newer book
        if self.row[k] in self.bad:
            self.errors[k] = refusal(q)
            return
        if structural:
            if work is not None:
                self._close()  # the event's market set changes: price what came before first
                self._open()
            st = self.current.get(eid) or ShardState(event_id=eid)
            st = evolve(st, books=st.books.upsert(entry, self.cfg.pairing))
            self.current[eid] = st
            work = self.seg.enter(st)  # its pre-segment books already hold this quote
            books = st.books
            m = books.slots[f"{q.venue.value}:{q.market_id}"]
        else:
            work = work or self._work(eid)
            work.quotes[m], work.links[m], work.listings[m] = q, link, listing  # type: ignore[index]
            work.open[m] = is_open(listing)
            self.seg.quote(work, m, self.row[k], k)  # type: ignore[arg-type]
        assert books is not None and m is not None
        cfg, ev, now = self.cfg, work.state, rec.ts
        price = pregame_price(link, q, ev)
        if price is not None and (work.pregame is None or work.pregame.market == price.market):
            work.pregame = price  # the first market quoted pregame is the anchor; only its own quotes move it
        blocked = ev is not None and cfg.blocked(ev.status)
        if (
            ev is not None
            and work.probs is not None
            and not blocked
            and work.open[m]
            and excluded_market(ev) != books.keys[m]
            and cfg.fresh(ev, now)
            and now - q.ts <= cfg.stale_quote_ms
        ):
            p = work.probs.get(skey[0])
            if p is not None and p == p:
                self.e_k.append(k)
                self.e_g.append(work.offset + m)
                self.e_p.append(p)
                self.models[k] = f"{work.model}@{work.version}"
        if not blocked and len(books.touch_yes[m]):
            ty, tn = books.touch_yes[m], books.touch_no[m]
            both = work.open[ty] & work.open[tn]  # both legs open as of this record, not as of the segment's end
            if not both.all():
                ty, tn = ty[both], tn[both]
            if len(ty):
                self.a_k.append(k)
                self.a_off.append(work.offset)
                self.a_y.append(ty)
                self.a_n.append(tn)

    # ------------------------------------------------------------- pricing

    def _close(self) -> None:
        seg = self.seg
        if not seg.order:
            return
        src = seg.gather()
        ev_of = np.repeat(np.arange(len(seg.order)), [len(w.base.books.keys) for w in seg.order])
        if self.e_k:
            self._edges(src, ev_of)
        if self.a_k:
            self._arbs(src, ev_of)
        self.current.update(seg.new_states(src))

    def _edges(self, src: Gathered, ev_of: np.ndarray) -> None:
        cfg = self.cfg
        k = np.array(self.e_k, np.int64)
        s = src.source(np.array(self.e_g, np.int64), k)
        fresh = (self.now[k] - src.ts[s]) <= cfg.stale_quote_ms
        n = len(k)
        rows = np.flatnonzero(np.repeat(fresh, 2))
        side = rows % 2
        s2 = s[rows // 2]
        p_yes = np.array(self.e_p, np.float64)
        p_side = np.stack([p_yes, 1.0 - p_yes], axis=1).reshape(2 * n)[rows]
        min_c100 = round(cfg.min_size * 100)
        best = src.p4[s2, side, 0]
        cand = (src.c100[s2, side, 0] > 0) & (p_side - (best * 100) / MICROS >= cfg.min_edge)
        rows, side, s2, p_side = rows[cand], side[cand], s2[cand], p_side[cand]
        c100 = src.c100[s2, side]
        enough = c100.sum(axis=1) >= min_c100
        rows, side, s2, p_side, c100 = rows[enough], side[enough], s2[enough], p_side[enough], c100[enough]
        if not len(rows):
            return
        width = _used_width(c100)
        g = np.array(self.e_g, np.int64)[rows // 2]
        lad = LadderRows(src.p4[s2, side, :width], c100[:, :width], src.venue[g], src.rate_ppm[g], src.exponent[g])
        res = self.proc.evaluate(lad, p_side, cfg.min_edge)
        ok = np.flatnonzero((res.levels > 0) & (res.size_c100 >= min_c100))
        if not len(ok):
            return
        kk = k[rows[ok] // 2].tolist()
        gg, sides, ps = g[ok].tolist(), side[ok].tolist(), p_side[ok].tolist()
        evs = ev_of[g[ok]].tolist()
        cols = zip(
            res.limit_price_micros[ok].tolist(), res.fee_micros[ok].tolist(), res.size_c100[ok].tolist(),
            res.edge[ok].tolist(), res.ev_micros[ok].tolist(),
        )
        order, records, outputs, models = self.seg.order, self.records, self.outputs, self.models
        for r, (price, fee, size, edge, ev_micros) in enumerate(cols):
            kr = kk[r]
            rec, work = records[kr], order[evs[r]]
            m = gg[r] - work.offset  # a market not open as of record kr was never planned (`_state`, `_quote`)
            link = work.links[m]
            side_e = _SIDES[sides[r]]
            leg = _record(SignalLeg, {
                "venue": link.venue, "market_id": link.market_id, "side": side_e, "action": Action.BUY,
                "price_micros": price, "fee_micros": -(-fee * 100 // size), "size": size / 100,
                "outcome_role": link.yes_role,
            })
            outputs[kr].append(_record(Signal, {  # type: ignore[arg-type]
                "signal_id": stable_id(rec.event_id, SignalKind.MODEL_EDGE.value, work.base.books.keys[m], side_e.value, rec.input_id),
                "event_id": rec.event_id, "kind": SignalKind.MODEL_EDGE, "ts": rec.ts, "legs": [leg],
                "model_p": ps[r], "edge": edge, "ev_micros": ev_micros, "size": size / 100,
                "model": models[kr], "trigger": rec.input_id,
            }))

    def _arbs(self, src: Gathered, ev_of: np.ndarray) -> None:
        cfg = self.cfg
        lens = np.array([len(y) for y in self.a_y], np.int64)
        off = np.repeat(np.array(self.a_off, np.int64), lens)
        k = np.repeat(np.array(self.a_k, np.int64), lens)
        gy = np.concatenate(self.a_y) + off
        gn = np.concatenate(self.a_n) + off
        sy, sn = src.source(gy, k), src.source(gn, k)
        now = self.now[k]
        gross = C100_PAYOUT_MICROS * 100 - (src.p4[sy, YES, 0] + src.p4[sn, NO, 0]) * 100
        cand = np.flatnonzero(
            ((now - src.ts[sy]) <= cfg.stale_quote_ms)
            & ((now - src.ts[sn]) <= cfg.stale_quote_ms)
            & (src.c100[sy, YES, 0] > 0)
            & (src.c100[sn, NO, 0] > 0)
            & (gross >= cfg.min_arb_profit_micros)
        )
        if not len(cand):
            return
        k, gy, gn, sy, sn = k[cand], gy[cand], gn[cand], sy[cand], sn[cand]
        yc, nc = src.c100[sy, YES], src.c100[sn, NO]
        wy, wn = _used_width(yc), _used_width(nc)
        yes = LadderRows(src.p4[sy, YES, :wy], yc[:, :wy], src.venue[gy], src.rate_ppm[gy], src.exponent[gy])
        no = LadderRows(src.p4[sn, NO, :wn], nc[:, :wn], src.venue[gn], src.rate_ppm[gn], src.exponent[gn])
        res = self.proc.evaluate_arbs(yes, no, cfg.min_arb_profit_micros)
        ok = np.flatnonzero(res.size_c100 >= max(round(cfg.min_size * 100), 1))
        if not len(ok):
            return
        kk, evs = k[ok].tolist(), ev_of[gy[ok]].tolist()
        yy, nn = gy[ok].tolist(), gn[ok].tolist()
        cols = zip(
            res.size_c100[ok].tolist(), res.yes_limit_micros[ok].tolist(), res.no_limit_micros[ok].tolist(),
            res.yes_fee_micros[ok].tolist(), res.no_fee_micros[ok].tolist(), res.profit_micros[ok].tolist(),
        )
        order, records, outputs = self.seg.order, self.records, self.outputs
        for r, (size, y_price, n_price, y_fee, n_fee, profit) in enumerate(cols):
            kr = kk[r]
            rec, work = records[kr], order[evs[r]]
            my, mn = yy[r] - work.offset, nn[r] - work.offset  # pairs with a leg not open were never planned
            ly, ln = work.links[my], work.links[mn]
            legs = [
                _record(SignalLeg, {
                    "venue": ly.venue, "market_id": ly.market_id, "side": Side.YES, "action": Action.BUY,
                    "price_micros": y_price, "fee_micros": -(-y_fee * 100 // size), "size": size / 100,
                    "outcome_role": ly.yes_role,
                }),
                _record(SignalLeg, {
                    "venue": ln.venue, "market_id": ln.market_id, "side": Side.NO, "action": Action.BUY,
                    "price_micros": n_price, "fee_micros": -(-n_fee * 100 // size), "size": size / 100,
                    "outcome_role": ln.yes_role,
                }),
            ]
            keys = work.base.books.keys
            outputs[kr].append(_record(Signal, {  # type: ignore[arg-type]
                "signal_id": stable_id(rec.event_id, SignalKind.CROSS_VENUE_ARB.value, keys[my], keys[mn], rec.input_id),
                "event_id": rec.event_id, "kind": SignalKind.CROSS_VENUE_ARB, "ts": rec.ts, "legs": legs,
                "model_p": None, "edge": profit / 1_000_000, "ev_micros": profit, "size": size / 100,
                "model": "", "trigger": rec.input_id, "reason": work.base.books.reason_of(my, mn),
            }))


def _used_width(c100: np.ndarray) -> int:
    """Columns up to the last level any row uses; trailing all-empty columns change no result."""
    used = np.flatnonzero(c100.any(axis=0))
    return int(used[-1]) + 1 if len(used) else 1
