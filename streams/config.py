"""Worker settings, read once from the environment into a frozen object."""

from __future__ import annotations

import os
from dataclasses import dataclass

from schemas.enums import TradingMode


@dataclass(frozen=True)
class Settings:
    #: KAFKA_BOOTSTRAP: host:port list of the broker.
    kafka_bootstrap: str = "127.0.0.1:9092"
    #: ARBEES_APP_ID: the Faust app id (consumer group prefix).
    app_id: str = "arbees"
    #: ARBEES_STORE: Faust table store; tables are rebuilt from their changelog topics.
    store: str = "memory://"
    #: DATABASE_URL: the sink's PostgreSQL.
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:55432/arbees"
    #: ARBEES_MODE: paper (default) or live; live also needs the --live flag and credentials.
    mode: TradingMode = TradingMode.PAPER
    #: ARBEES_WEB_PORT: Faust's web server port (metrics, health).
    web_port: int = 6066

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP", cls.kafka_bootstrap),
            app_id=env.get("ARBEES_APP_ID", cls.app_id),
            store=env.get("ARBEES_STORE", cls.store),
            database_url=env.get("DATABASE_URL", cls.database_url),
            mode=TradingMode(env.get("ARBEES_MODE", "paper").upper()),
            web_port=int(env.get("ARBEES_WEB_PORT", cls.web_port)),
        )
