"""The `prodlens` command: the root app, its commands, the console-script entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from prodlens import __version__
from prodlens.cli import admin, copilot, demo, github, ingest, openapi, report, serve
from prodlens.cli.common import CliCommand, CliGroup

cli = typer.Typer(
    name="prodlens",
    cls=CliGroup,
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(__version__)
        raise typer.Exit()


@cli.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """ProdLens: what AI coding assistants do for engineering teams."""


for function in (
    serve.serve,
    admin.migrate,
    admin.check,
    admin.create_admin,
    demo.demo,
    ingest.ingest,
    report.report,
    openapi.openapi,
):
    cli.command(cls=CliCommand)(function)
cli.add_typer(github.app, name="github")
cli.add_typer(copilot.app, name="copilot")


@cli.command(cls=CliCommand)
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    cli(prog_name="prodlens")
