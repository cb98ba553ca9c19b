"""Per-market parts of the account states in tables of their own (streams/trading/market_split.py).

Input: the recorded GB@DET Kalshi book and listing (tests/unit/trading/recorded_game.py); the other
markets are that market under other tickers (made up: only their count matters here).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from schemas.enums import Venue
from schemas.records import Order, ShardInput
from streams.keys import market_key
from streams.local import LocalHost
from streams.topology import TABLES
from streams.trading import market_split
from streams.trading.config import TradingConfig
from streams.trading.stages import SIZING_SPLITS, Stages
from tests.unit.trading import recorded_game as game
from tests.unit.trading.hosts import paper_host

T = game.KICKOFF_MS + 3_600_000


class _Counted(dict[str, Any]):
    """A table counting the bytes its writes encode to, as its changelog would carry them."""

    def __init__(self, name: str, tally: Counter[str]) -> None:
        super().__init__()
        self.name, self.tally, self.codec = name, tally, TABLES[name].codec

    def __setitem__(self, key: str, value: Any) -> None:
        self.tally[self.name] += len(self.codec.encode(value))
        super().__setitem__(key, value)


def _counting_host() -> tuple[LocalHost, Counter[str]]:
    tally: Counter[str] = Counter()
    host = LocalHost(Stages(TradingConfig(accounts=("paper",))))
    host.tables = {name: _Counted(name, tally) for name in TABLES}
    return host, tally


def _quote_of(k: int, ts: int) -> ShardInput:
    """GB's recorded book and listing as market number k."""
    si = game.quote_input(game.GB, ts)
    assert si.quote is not None and si.listing is not None and si.link is not None
    ticker = f"{game.GB}-M{k}"
    return replace(si, input_id=f"{si.input_id}:{k}", quote=replace(si.quote, market_id=ticker, quote_id=f"{si.quote.quote_id}:{k}"),
                   listing=replace(si.listing, market_id=ticker), link=replace(si.link, market_id=ticker))


def _bytes_per_quote(host: LocalHost, tally: Counter[str], ts: int, markets: range) -> dict[str, float]:
    before = Counter(tally)
    for k in markets:
        host.publish(_quote_of(k, ts))
    return {name: (tally[name] - before[name]) / len(markets) for name in tally}


def test_what_a_quote_writes_does_not_grow_with_the_markets_an_account_knows() -> None:
    host, tally = _counting_host()
    host.publish(game.deposit("paper"))
    first = _bytes_per_quote(host, tally, T, range(0, 20))
    _bytes_per_quote(host, tally, T, range(20, 600))
    late = _bytes_per_quote(host, tally, T, range(600, 620))
    # each quote writes its own market's top, once for sizing and positions; the account states not at all
    assert 150 < late["trading-tops"] == pytest.approx(first["trading-tops"], rel=0.05)
    assert late.get("trading-sizing", 0) == late.get("trading-positions", 0) == 0
    assert len(host.state("trading-sizing", "paper").tops) == 0
    assert sum(1 for key in host.tables["trading-tops"] if key.startswith("paper|")) == 620
    # the one that moves the clock writes sizing's account state, still small with 620 markets known
    moved = _bytes_per_quote(host, tally, T + 1, range(620, 621))
    assert 0 < moved["trading-sizing"] < 1_000


def test_a_signal_reads_the_top_of_its_market_from_the_market_table() -> None:
    host = paper_host()
    host.publish(game.deposit("paper"))
    for ticker in (game.GB, game.DET):
        host.publish(game.quote_input(ticker, T))
    host.publish(game.gb_signal(T + 1_000))
    (order,) = [o for o in host.log["orders"] if isinstance(o, Order)]
    assert order.market_id == game.GB and order.count == 17.0  # sized on the book's top, fees from its listing

    closed = paper_host()  # the same, with the market's row saying the venue closed it: that row is what sizing reads
    closed.publish(game.deposit("paper"))
    closed.publish(game.quote_input(game.GB, T))
    row = f"paper|{market_key(Venue.KALSHI, game.GB)}"
    closed.tables["trading-tops"][row] = replace(closed.state("trading-tops", row), open=False)
    closed.publish(game.gb_signal(T + 1_000))
    assert not closed.log["orders"]
    assert [r.rule for r in closed.log["risk.state"]] == ["market_not_open"]


def test_a_state_written_before_the_split_moves_its_markets_out_once() -> None:
    stages = Stages(TradingConfig(accounts=("paper",)))
    host = LocalHost(stages)
    host.publish(game.deposit("paper"))
    old = stages.sizing_processor.step(host.state("trading-sizing", "paper"), game.quote_input(game.GB, T))[0]
    assert set(old.tops) == {market_key(Venue.KALSHI, game.GB)}
    host.tables["trading-sizing"]["paper"] = old  # as a worker before the split wrote it: every top inline
    host.publish(game.gb_signal(T + 1_000))
    assert [o.market_id for o in host.log["orders"]] == [game.GB]  # the inline top was there for the signal
    assert host.state("trading-sizing", "paper").tops == {}
    assert host.state("trading-tops", f"paper|{market_key(Venue.KALSHI, game.GB)}") == old.tops[
        market_key(Venue.KALSHI, game.GB)]


def test_a_processor_that_drops_a_loaded_market_is_an_error_not_a_silent_loss() -> None:
    tables: dict[str, dict[str, Any]] = {"trading-tops": {}}
    stages = Stages(TradingConfig(accounts=("paper",)))
    state = stages.sizing_processor.step(stages.sizing_processor.initial("paper"), game.quote_input(game.GB, T))[0]
    loaded = market_split.load(replace(state, tops={}), SIZING_SPLITS, tables.__getitem__, "paper", ())
    with_top = replace(loaded, tops=state.tops)
    assert market_split.store(loaded, loaded, with_top, SIZING_SPLITS, tables.__getitem__, "paper") is None
    assert set(tables["trading-tops"]) == {f"paper|{k}" for k in state.tops}
    with pytest.raises(ValueError, match="dropped a market"):
        market_split.store(with_top, with_top, replace(with_top, tops={}), SIZING_SPLITS, tables.__getitem__, "paper")
