"""The crypto, economics and politics views (migration 0008) over rows the sink's own writer stores.

The records are the connectors' and processors' real outputs on recorded payloads: CoinGecko's BTC chart,
FRED's UNRATE answer, FiveThirtyEight's 2016 national polls and the targets/races built from them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from ops import db
from ops.sink.mapping import SourceRef, to_row
from ops.sink.store import connect
from ops.sink.writer import Batch, CopyWriter
from streams.crypto.targets import TargetsProcessor as CryptoTargets
from streams.economics.targets import TargetsProcessor as EconTargets

from tests.unit.coingecko.test_connector import Sink as CgSink
from tests.unit.coingecko.test_connector import chart_raw
from tests.unit.crypto.venues import kalshi_listing
from tests.unit.economics.test_release_targets import kalshi as econ_kalshi
from tests.unit.economics.test_release_targets import unrate_states
from tests.unit.politics.test_races import race_states

pytestmark = pytest.mark.integration


def records() -> list:
    from connectors.coingecko.pipeline import CoinGeckoPipeline

    spots = list(CoinGeckoPipeline(CgSink()).on_raw(chart_raw()).states)
    crypto = CryptoTargets()
    st, targets = crypto.initial("btc"), []
    # A strike near the recorded 2023 prices (made-up ticker date so the target is still open at the chart's end).
    st, _ = crypto.step(st, kalshi_listing("KXBTCD-23OCT1017-T27499.99"))
    for s in spots:
        st, out = crypto.step(st, s)
        targets += out
    obs = unrate_states()
    econ = EconTargets()
    est, releases = econ.initial("unrate"), []
    est, _ = econ.step(est, econ_kalshi("KXU3-20MAY-T14.0"))
    for o in obs:
        est, out = econ.step(est, o)
        releases += out
    _, races = race_states()
    from connectors.polls.normalize import poll_states
    from connectors.polls.source import FTE_2016_NATIONAL
    from tests.unit.politics.test_polls import CSV

    polls, _ = poll_states(FTE_2016_NATIONAL, CSV, 0)
    return [*spots, *targets, *obs, *releases, *polls, *races]


def test_views_read_back_what_the_sink_wrote(fresh_db: str) -> None:
    db.migrate(fresh_db)
    recs = records()
    conn = connect(fresh_db)
    try:
        CopyWriter(conn, "views-test").write(Batch(rows=[to_row(r, SourceRef("events.state", 0, i)) for i, r in enumerate(recs)]))
    finally:
        conn.close()
    engine = create_engine(fresh_db)
    with engine.connect() as c:
        prices = c.execute(text("SELECT count(*), min(price), max(price) FROM crypto_prices WHERE asset = 'btc'")).one()
        assert prices[0] == 169 and 27_000 < prices[1] < prices[2] < 28_500
        tgt = c.execute(text("SELECT strike, sigma, status FROM crypto_target_states ORDER BY ts DESC LIMIT 1")).one()
        assert tgt[0] == 27_499.99 and 0.05 < tgt[1] < 2.0 and tgt[2] == "LIVE"
        obs = c.execute(text("SELECT value FROM indicator_observations WHERE indicator = 'unrate' ORDER BY period DESC LIMIT 1")).scalar()
        assert obs == 14.7
        rel = c.execute(text("SELECT threshold, forecast_mean, published FROM release_forecasts ORDER BY ts DESC LIMIT 1")).one()
        assert rel[0] == 14.1 and 13 < rel[1] < 17 and rel[2] is None
        polls = c.execute(text("SELECT count(*), count(DISTINCT pollster) FROM polls WHERE race = 'us-president-2016-popular-vote'")).one()
        assert polls[0] == 329 and polls[1] > 20
        race = c.execute(text("SELECT margin_mean, margin_sigma, polls FROM race_forecasts ORDER BY ts DESC, polls DESC LIMIT 1")).one()
        assert 1.5 < race[0] < 6 and race[1] >= 3.5 and race[2] == 329
        src = c.execute(text("SELECT src_topic FROM crypto_prices LIMIT 1")).scalar()
        assert src == "events.state"
    engine.dispose()
