"""Typed units and Kelly sizes against hand-computed cases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.trading.kelly import SizingError, ceil_to_tick, floor_to_tick, kelly_fraction, kelly_size
from streams.trading.units import Contracts, Micros, Probability, UnitError, contracts_affordable

REPO = Path(__file__).resolve().parents[3]


def test_money_and_contracts_do_not_mix_at_runtime() -> None:
    with pytest.raises(UnitError):
        Micros(5) + Contracts(5)  # type: ignore[operator]
    with pytest.raises(UnitError):
        Contracts.of(Micros(1_000_000))
    with pytest.raises(UnitError):
        Micros(1.5)  # type: ignore[arg-type]
    with pytest.raises(UnitError):
        Probability(1.2)
    with pytest.raises(UnitError):
        kelly_size(Probability(0.6), Micros(400_000), Contracts(100_000), 0.25, Contracts(100))  # type: ignore[arg-type]


def test_contract_cost_and_affordable_counts_are_exact() -> None:
    assert Contracts.of(17).cost(Micros(440_000)) == Micros(7_480_000)
    assert Contracts.of(0.37).cost(Micros(430_000)) == Micros(159_100)
    assert contracts_affordable(Micros(10_000_000), Micros(457_648)) == Contracts(2185)  # 21.85 contracts
    assert Contracts(2185).floor_to(Contracts(100)) == Contracts(2100)


def test_mypy_rejects_dollars_where_contracts_are_expected(tmp_path: Path) -> None:
    snippet = tmp_path / "mixed.py"
    snippet.write_text(
        "from streams.trading.units import Contracts, Micros\n"
        "def size(n: Contracts) -> float:\n    return n.count\n"
        "size(Micros(5_000_000))\n"
    )
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--follow-imports=silent", str(snippet)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'Argument 1 to "size" has incompatible type "Micros"; expected "Contracts"' in proc.stdout


def test_kelly_fraction_hand_computed() -> None:
    # p = 0.62, c = 0.457648 (0.44 + 0.017648 fee): f* = 0.162352 / 0.542352
    assert kelly_fraction(Probability(0.62), Micros(457_648)) == pytest.approx(0.162352 / 0.542352, abs=1e-12)
    # p = 0.5 at c = 0.5: no edge
    assert kelly_fraction(Probability(0.5), Micros(500_000)) == 0.0
    # p = 0.3 at c = 0.4: negative, no bet
    assert kelly_fraction(Probability(0.3), Micros(400_000)) < 0


@pytest.mark.parametrize(
    ("p", "cost", "bankroll", "fraction", "step", "stake", "count"),
    [
        # f* = (0.62 − 0.457648)/0.542352 = 0.2993480…; ¼ of $1000 → $74.837006 → 163.52 → 163 whole contracts
        (0.62, 457_648, 1_000_000_000, 0.25, 100, 74_837_006, 163.0),
        # f* = (0.60 − 0.40)/0.60 = 1/3; ½ Kelly of $300 → $50.00 → 125 contracts at $0.40
        (0.60, 400_000, 300_000_000, 0.5, 100, 50_000_000, 125.0),
        # f* = 0.23/0.63 = 0.365079…; ½ of $300 → $54.761905 → 148.0051… → 148.00 at Polymarket's 0.01 step
        (0.60, 370_000, 300_000_000, 0.5, 1, 54_761_905, 148.0),
        # p = 0.9 at c = 0.5: f* = 0.8; 0.1 Kelly of $123.45 → $9.876 → 19.752 → 19.75 at 0.01, 19 whole
        (0.90, 500_000, 123_450_000, 0.1, 1, 9_876_000, 19.75),
        (0.90, 500_000, 123_450_000, 0.1, 100, 9_876_000, 19.0),
        # no edge → nothing
        (0.40, 450_000, 1_000_000_000, 0.25, 100, 0, 0.0),
    ],
)
def test_kelly_size_hand_computed(p: float, cost: int, bankroll: int, fraction: float, step: int,
                                  stake: int | None, count: float) -> None:
    k = kelly_size(Probability(p), Micros(cost), Micros(bankroll), fraction, Contracts(step))
    if stake is not None:
        assert abs(k.stake.value - stake) <= 1  # the hand figure, to the micro-dollar
    assert k.contracts.count == count


def test_kelly_refuses_impossible_costs_and_fractions() -> None:
    with pytest.raises(SizingError):
        kelly_size(Probability(0.6), Micros(1_000_000), Micros(1), 0.25, Contracts(100))
    with pytest.raises(SizingError):
        kelly_size(Probability(0.6), Micros(400_000), Micros(1), 1.5, Contracts(100))


def test_ticks_round_toward_safety() -> None:
    assert floor_to_tick(Micros(447_300), Micros(10_000)) == Micros(440_000)
    assert ceil_to_tick(Micros(447_300), Micros(10_000)) == Micros(450_000)
    assert floor_to_tick(Micros(447_300), Micros(1_000)) == Micros(447_000)


def test_the_kelly_stake_rounds_down_never_to_nearest() -> None:
    # f* = (0.74999998 − 0.5)/0.5 = 0.49999996; full Kelly of $10 → $4.9999996: the stake is $4.999999 and
    # buys 9 contracts at $0.50; rounding to nearest would make it $5.000000 and buy a 10th
    k = kelly_size(Probability(0.74999998), Micros(500_000), Micros(10_000_000), 1.0, Contracts(100))
    assert k.stake == Micros(4_999_999) and k.contracts.count == 9.0
    # an exact figure computed with float noise is not lost: ½ Kelly of $300 at f* = 1/3 is exactly $50
    assert kelly_size(Probability(0.6), Micros(400_000), Micros(300_000_000), 0.5, Contracts(100)).stake == Micros(50_000_000)


def test_kelly_sizes_on_the_fee_of_the_order_it_sends_not_the_signals_per_contract_fee() -> None:
    """The recorded GB signal (p 0.62, ask $0.44, fee $0.30 on its 17 contracts = 17,648 µ$ each) on a $43 bankroll:
    on the signal's fee ¼ Kelly buys 7, but 7 at $0.44 pay ceil(0.07·7·0.44·0.56 = 0.120736) = $0.13, 18,572 µ$
    each; Kelly on that cost buys 6, whose fee ($0.11, 18,334 µ$ each) is below it: 6 are ordered."""
    from schemas.records import Order
    from streams.trading.config import TradingConfig
    from streams.trading.sizing_processor import SizingProcessor
    from tests.unit.trading import recorded_game as game

    proc = SizingProcessor(TradingConfig(accounts=("paper",)))
    st = proc.initial("paper")
    st, _ = proc.step(st, game.deposit("paper", amount=43_000_000))
    t = game.KICKOFF_MS + 3_600_000
    st, _ = proc.step(st, game.quote_input(game.GB, t))
    _, outs = proc.step(st, game.gb_signal(t + 1_000))
    (order,) = [o for o in outs if isinstance(o, Order)]
    assert order.count == 6.0
    on_signal_fee = kelly_size(Probability(0.62), Micros(440_000 + 17_648), Micros(43_000_000), 0.25, Contracts(100))
    assert on_signal_fee.contracts.count == 7.0
