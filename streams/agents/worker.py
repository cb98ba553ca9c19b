"""Worker launcher with the live switch: `python -m streams.agents.worker [--live] worker -l info`.

Faust's own CLI has no `--live` option, so this strips it from the arguments,
records it (streams.agents.live.request_live) and runs Faust's CLI on
`streams.app`. Without `--live` the execution agent never builds a live client,
whatever ARBEES_MODE says (it refuses to start instead).

Faust's `worker` command serves its web server unless told `--without-web` (it overrides the app's
`web_enabled=False`); nothing here uses it (metrics and health go through telemetry.meter and the heartbeats),
and its port, planned before the worker starts, can meanwhile become a connection's local port: the worker then
died at every restart (a load run's router, 17 times in 5 minutes). So `--without-web` is the default here;
`--with-web` asks for it.
"""

from __future__ import annotations

import sys


def faust_args(args: list[str]) -> list[str]:
    """Faust's CLI arguments: `--without-web` added to a `worker` command that does not ask for the web server."""
    if "worker" in args and "--with-web" not in args and "--without-web" not in args:
        return [*args, "--without-web"]
    return args


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

    sys.argv = ["faust", "-A", "streams.app", *faust_args(args)]
    cli(prog_name="faust")


if __name__ == "__main__":
    main()
