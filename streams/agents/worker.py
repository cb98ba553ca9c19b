"""Worker launcher with the live switch: `python -m streams.agents.worker [--live] worker -l info`.

Faust's own CLI has no `--live` option, so this strips it from the arguments,
records it (streams.agents.live.request_live) and runs Faust's CLI on
`streams.app`. Without `--live` the execution agent never builds a live client,
whatever ARBEES_MODE says (it refuses to start instead).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    from streams.agents import live

    if live.LIVE_FLAG in args:
        args.remove(live.LIVE_FLAG)
        live.request_live()
    from streams.config import Settings
    from streams.generations import export

    export(Settings.from_env().kafka_bootstrap)  # the live topic generations, before any topic is declared
    from faust.cli.faust import cli

    sys.argv = ["faust", "-A", "streams.app", *args]
    cli(prog_name="faust")


if __name__ == "__main__":
    main()
