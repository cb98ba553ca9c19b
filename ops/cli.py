"""The `arbees` command: operator subcommands next to the code they drive."""

from __future__ import annotations

import typer

from ops.stack_cli import stack_app

app = typer.Typer(help="Arbees operator commands.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")


def main() -> None:
    app()
