"""A worker trades only its own accounts: another deployment's records on the shared account-keyed topics are left alone.

Found on the real broker: a paper worker (one test's) read a live worker's order (another test's,
another account) from `orders` and answered it with a REJECTED status of its own ("live trading on
KALSHI is not enabled on this worker"), racing the live worker's real outcome for the same order id.
"""

from __future__ import annotations

from schemas.enums import OrderState, TradingMode
from schemas.records import Fill, OrderStatus
from streams.trading.config import TradingConfig
from tests.unit.trading import recorded_game as game
from tests.unit.trading.hosts import paper_host
from tests.unit.trading.test_execution import order


def test_another_deployments_live_order_gets_no_status_from_this_worker() -> None:
    host = paper_host(TradingConfig(accounts=("paper",)))
    host.publish(game.quote_input(game.GB, game.KICKOFF_MS + 3_600_000))
    host.publish(order(mode=TradingMode.LIVE, account="live-desk"))
    assert host.log["fills"] == []


def test_its_own_live_order_is_still_refused_on_a_paper_worker() -> None:
    """The same order for an account this worker trades: refused, saying why (what the scope must keep)."""
    host = paper_host(TradingConfig(accounts=("paper",)))
    host.publish(game.quote_input(game.GB, game.KICKOFF_MS + 3_600_000))
    host.publish(order(mode=TradingMode.LIVE))
    [status] = [s for s in host.log["fills"] if isinstance(s, OrderStatus)]
    assert status.state is OrderState.REJECTED and "not enabled on this worker" in status.reason


def test_another_accounts_fill_moves_no_position_here() -> None:
    host = paper_host(TradingConfig(accounts=("paper",)))
    fill = Fill(fill_id="f-other-1", order_id="o-other-1", account="live-desk", ts=game.KICKOFF_MS + 3_600_000,
                venue=order().venue, market_id=game.GB, event_id=game.EVENT_ID, side=order().side,
                action=order().action, price_micros=440_000, count=10.0, fee_micros=0)
    host.publish(fill)
    assert host.log["positions"] == [] and host.log["ledger"] == []
