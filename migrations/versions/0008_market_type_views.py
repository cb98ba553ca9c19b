"""Views for the crypto, economics and politics feeds and their targets, over what the sink already stores.

Every one of these facts travels as an EventState, which the sink writes to
`event_states` with its `features` (jsonb) and its source offsets; these views give
each its own typed columns, so no second copy of the rows and no second writer:

- `crypto_prices`: CoinGecko spots (asset, quote currency, price);
- `crypto_target_states`: price-target events as priced (spot, EWMA sigma, strike(s), resolution time);
- `indicator_observations`: FRED values per indicator and period;
- `release_forecasts`: economics targets (threshold, step, forecast mean, published figure once out);
- `polls`: one row per poll (race, pollster, shares, sample size);
- `race_forecasts`: the race model's inputs as of each poll (mean and sigma of the final margin).

Plain views on both the PostgreSQL and TimescaleDB paths.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _f(key: str) -> str:
    return f"(features->>'{key}')::float8"


def _ms(key: str) -> str:
    return f"to_timestamp((features->>'{key}')::float8 / 1000.0)"


SOURCE = "src_topic, src_partition, src_offset"

VIEWS: dict[str, str] = {
    "crypto_prices": f"SELECT state_id, ts, league AS asset, entity_b AS quote_currency, {_f('price')} AS price, {SOURCE} "
    "FROM event_states WHERE source = 'coingecko' AND features ? 'price'",
    "crypto_target_states": f"SELECT state_id, ts, event_id, league AS asset, status, {_f('spot')} AS spot, {_f('sigma')} AS sigma, "
    f"{_f('strike')} AS strike, {_f('strike_high')} AS strike_high, {_ms('expiry_ts')} AS expiry, {_f('window_s')} AS window_s, {SOURCE} "
    "FROM event_states WHERE source = 'crypto-targets'",
    "indicator_observations": f"SELECT state_id, ts, league AS indicator, entity_a AS series_id, start_ts AS period, {_f('value')} AS value, {SOURCE} "
    "FROM event_states WHERE source = 'fred' AND features ? 'value'",
    "release_forecasts": f"SELECT state_id, ts, event_id, league AS indicator, status, {_f('threshold')} AS threshold, {_f('step')} AS step, "
    f"{_f('mean')} AS forecast_mean, {_f('published')} AS published, {SOURCE} FROM event_states WHERE source = 'econ-targets'",
    "polls": f"SELECT state_id, event_id, league AS race, name AS pollster, start_ts AS end_date, entity_a AS candidate_a, entity_b AS candidate_b, "
    f"{_f('pct_a')} AS pct_a, {_f('pct_b')} AS pct_b, {_f('sample_size')} AS sample_size, {_f('lv')} = 1 AS likely_voters, {SOURCE} "
    "FROM event_states WHERE source = 'polls'",
    "race_forecasts": f"SELECT state_id, ts, league AS race, entity_a AS candidate_a, entity_b AS candidate_b, start_ts AS election, "
    f"{_f('average')} AS polling_average, {_f('mean')} AS margin_mean, {_f('sigma')} AS margin_sigma, {_f('polls')}::int AS polls, {SOURCE} "
    "FROM event_states WHERE source = 'races'",
}


def upgrade() -> None:
    for name, query in VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
