"""`prodlens demo`: the demo project with invented data and its `demo` login."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from prodlens.analytics.demo.generator import DEFAULT_DAYS, DEFAULT_SEED
from prodlens.cli.common import CliError, console, load_settings, migrated_database, run

if TYPE_CHECKING:
    from prodlens.analytics.demo.store import DemoResult
    from prodlens.config import Settings


async def _create(settings: Settings, *, reset: bool, days: int, seed: int) -> DemoResult:
    from prodlens.analytics.demo import store

    async with migrated_database(settings) as database:
        runtime = store.demo_runtime(settings, database)
        try:
            async with database.sessionmaker() as session, session.begin():
                if reset:
                    await store.remove(session)
                return await store.generate(session, runtime, days=days, seed=seed)
        except store.DemoError as exc:
            raise CliError(str(exc)) from None


def demo(
    days: Annotated[int, typer.Option(min=1, max=365, help="Days of history, ending today.")] = (
        DEFAULT_DAYS
    ),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same data.")] = (
        DEFAULT_SEED
    ),
    reset: Annotated[
        bool, typer.Option(help="Delete an existing demo project and its user first.")
    ] = False,
) -> None:
    """Generate the demo project (clearly labelled, invented data) and its `demo` login."""
    from prodlens.analytics.demo.store import DEMO_NAME, save_login
    from prodlens.config import Profile

    settings = load_settings()
    if settings.env is Profile.PRODUCTION:
        raise CliError("Refusing to create a demo account in the production profile.")
    result = run(_create(settings, reset=reset, days=days, seed=seed))
    save_login(settings, result)
    console.print(
        f"Demo project [bold]{DEMO_NAME}[/] ({result.project_slug}): {result.developers} "
        f"developers, {result.days} days, {result.events} events, {result.commits} commits, "
        f"{result.pull_requests} pull requests."
    )
    console.print(
        f"Demo login: {result.username} / {result.password}  (also on the dashboard's sign-in page)"
    )
