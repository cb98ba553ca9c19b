"""`python -m ops.run.feed NAME [ARGS ...]`: start feed NAME exactly as `arbees run` plans it.

docker-compose.yml and the Kubernetes manifests start their feeds through this, so every way of running
Arbees follows the same series and tags (`ops.run.parts`: every league's games, the crypto ladders, the
economic releases, politics); extra ARGS are appended (e.g. `--every 60`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ops.run.parts import FEEDS, feed_part


def argv_for(name: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    if name not in FEEDS:
        raise SystemExit(f"unknown feed {name!r}; feeds: {', '.join(FEEDS)}")
    return (*feed_part(name).argv, *extra)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit(f"usage: python -m ops.run.feed NAME [ARGS ...]; feeds: {', '.join(FEEDS)}")
    cmd = argv_for(args[0], args[1:])
    os.execv(cmd[0], list(cmd))


if __name__ == "__main__":
    main()
