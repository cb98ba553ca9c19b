"""One settings file: the shipped arbees.toml, and the same values in both backtest engines and a live worker."""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.backtest.kafka import KafkaEngine
from schemas.enums import EventStatus
from streams.config_file import DEFAULT_PATH, ConfigError, load, parse
from streams.shard.config import ShardConfig
from streams.trading.config import TradingConfig
from streams.trading.units import Micros

REPO = Path(__file__).resolve().parents[2]

#: Non-default values in every section (made up for the test: they only have to differ from the defaults).
CUSTOM = """
[shard]
min_edge = 0.07
stale_quote_ms = 4000
blocked_statuses = ["FINAL", "CANCELED"]

[trading.sizing]
kelly_fraction = 0.1
min_contracts = 2

[trading.risk]
max_market_exposure_micros = 12000000
max_orders_per_minute = 7

[trading.paper]
latency_ms = 400

[trading.exits]
stop_loss = false
take_profit = 0.6
"""

#: Printed by a worker process: the settings its shard and trading agents were built with.
WORKER_PROBE = (
    "import pickle, streams.agents.shard as s, streams.agents.trading as t; "
    "print(pickle.dumps((s.processor.config, t.CONFIG)).hex())"
)


def test_the_shipped_file_lists_exactly_the_built_in_defaults() -> None:
    cfg = load(DEFAULT_PATH, env={})
    assert cfg.source == str(DEFAULT_PATH)
    assert cfg.shard == ShardConfig()
    assert cfg.trading == TradingConfig()
    # every setting is written out, so the file documents them all
    text = DEFAULT_PATH.read_text()
    for name in ("min_edge", "kelly_fraction", "max_event_exposure_micros", "stop_loss", "sell_band_micros", "latency_ms"):
        assert f"\n{name} = " in text


def test_values_convert_to_their_units_and_false_switches_an_exit_off() -> None:
    import tomllib

    cfg = parse(tomllib.loads(CUSTOM), env={})
    assert cfg.shard.min_edge == 0.07 and cfg.shard.stale_quote_ms == 4000
    assert cfg.shard.blocked_statuses == frozenset({EventStatus.FINAL, EventStatus.CANCELED})
    assert cfg.trading.risk.max_market_exposure == Micros(12_000_000)
    assert cfg.trading.sizing.min_contracts.centi == 200
    assert cfg.trading.exits.stop_loss is None and cfg.trading.exits.take_profit == 0.6
    assert cfg.trading.risk.max_event_exposure == TradingConfig().risk.max_event_exposure  # left out: default


@pytest.mark.parametrize("text, why", [
    ("[shard]\nmin_edgee = 0.1\n", "min_edgee"),
    ("[trading.risk]\nmax_market_exposure = 5\n", "max_market_exposure"),  # money needs the _micros key
    ("[trading.sizing]\nkelly_fraction = \"big\"\n", "kelly_fraction"),
    ("[trading.exits]\nstop_loss = true\n", "stop_loss"),
])
def test_a_wrong_key_or_value_is_an_error_not_a_default(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=why):
        load(path, env={})


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(env={"ARBEES_CONFIG": str(tmp_path / "absent.toml")})


def test_both_backtest_engines_and_the_worker_read_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(CUSTOM)
    config = BacktestConfig(account="bt-config", events=("espn:nba:",), config_file=str(path))

    host = InProcessEngine(config).host()  # the stages the in-process engine runs, with the settings they hold
    shard_config = host.handlers["shard"].processor.config
    expected = load(path, env={"ARBEES_ACCOUNTS": "bt-config", "ARBEES_TRADING_EVENTS": "espn:nba:"})
    assert shard_config == expected.shard and shard_config != ShardConfig()
    assert host.handlers["trading"].config == config.trading() == expected.trading
    assert replace(expected.trading, accounts=("paper",), events=()) != TradingConfig()

    # the Kafka engine's worker, started with the environment the engine gives it, builds the same objects
    env = KafkaEngine("127.0.0.1:1", config).worker_env("bt-config-app", tmp_path)
    env["ARBEES_APP_ID"] = "config-probe"
    probe = subprocess.run([sys.executable, "-c", WORKER_PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
    assert probe.returncode == 0, probe.stderr[-2000:]
    worker_shard, worker_trading = pickle.loads(bytes.fromhex(probe.stdout.strip().splitlines()[-1]))
    assert worker_shard == shard_config
    assert worker_trading == config.trading()
