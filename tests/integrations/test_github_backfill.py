"""`prodlens github backfill` against a local fake GitHub: pagination through `Link`,
conditional requests with ETags (an unchanged listing costs one 304), idempotence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import anyio.to_thread
import pytest
from typer.testing import CliRunner

from prodlens.cli.main import cli
from prodlens.integrations.backfill import BackfillError, BackfillResult, backfill
from tests.harness import Harness
from tests.integrations.fake_github import FakeGitHub, rest_commit, rest_pull, serving

TOKEN = "ghp_test_token_0123456789"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.commits["acme/web"] = [
        rest_commit("a1" * 20, "2026-03-01T10:00:00Z", "First\n\nbody", "ana", "Ana Silva"),
        rest_commit("b2" * 20, "2026-03-02T10:00:00Z", "Second", None, "Ben Okafor"),
        rest_commit("c3" * 20, "2026-03-03T10:00:00Z", "Third", "chen", "Chen Wei"),
        rest_commit("d4" * 20, "2026-03-04T10:00:00Z", "Fourth", "ana", "Ana Silva"),
        rest_commit("e5" * 20, "2026-03-05T10:00:00Z", "Fifth", "dana", "Dana K"),
    ]
    fake.pulls["acme/web"] = [
        rest_pull(
            1,
            created="2026-02-20T09:00:00Z",
            updated="2026-02-21T09:00:00Z",
            state="closed",
            merged_at="2026-02-21T09:00:00Z",
            closed_at="2026-02-21T09:00:00Z",
        ),
        rest_pull(
            2,
            created="2026-03-01T09:00:00Z",
            updated="2026-03-02T09:00:00Z",
            state="closed",
            closed_at="2026-03-02T09:00:00Z",
            login="ben",
        ),
        rest_pull(3, created="2026-03-04T09:00:00Z", updated="2026-03-04T12:00:00Z"),
    ]
    with serving(fake) as running:
        yield running


async def _project(h: Harness, repos: list[str]) -> str:
    owner = await h.signup("lead")
    response = await h.client.post(
        "/api/v1/projects", json={"name": "Web", "repos": repos}, headers=owner.headers
    )
    assert response.status_code == 201
    return str(response.json()["id"])


async def _run(
    h: Harness, github: FakeGitHub, project_id: str, since: datetime | None = None
) -> BackfillResult:
    return await backfill(
        h.app.state.database.sessionmaker,
        project_id=project_id,
        repo="Acme/Web",
        since=since,
        token=TOKEN,
        api_url=github.base_url,
        now=h.clock.now(),
    )


async def test_backfill_follows_pages_and_repeats_for_a_304(
    harness: Harness, github: FakeGitHub
) -> None:
    project_id = await _project(harness, ["Acme/Web"])
    first = await _run(harness, github, project_id)
    assert (first.commits.seen, first.commits.new, first.commits.pages) == (5, 5, 3)
    assert (first.pull_requests.seen, first.pull_requests.new) == (3, 3)
    seen = github.take_requests()
    assert len(seen) == 5  # 3 pages of commits, 2 of pull requests, following Link
    assert all(r.authorization == f"Bearer {TOKEN}" for r in seen)
    assert all(r.if_none_match is None for r in seen)

    commits = await harness.sql("SELECT repo, sha, author, message FROM commits ORDER BY sha")
    assert [tuple(r) for r in commits] == [
        ("Acme/Web", "a1" * 20, "ana", "First"),
        ("Acme/Web", "b2" * 20, "Ben Okafor", "Second"),  # no GitHub account: the name
        ("Acme/Web", "c3" * 20, "chen", "Third"),
        ("Acme/Web", "d4" * 20, "ana", "Fourth"),
        ("Acme/Web", "e5" * 20, "dana", "Fifth"),
    ]
    pulls = await harness.sql("SELECT number, state, author FROM pull_requests ORDER BY number")
    assert [tuple(r) for r in pulls] == [
        (1, "merged", "ana"),
        (2, "closed", "ben"),
        (3, "open", "ana"),
    ]

    # Nothing changed: one conditional request per listing, each answered 304.
    again = await _run(harness, github, project_id)
    seen = github.take_requests()
    assert [(r.path, r.status) for r in seen] == [
        ("/repos/Acme/Web/commits", 304),
        ("/repos/Acme/Web/pulls", 304),
    ]
    assert all(r.if_none_match and r.if_none_match.startswith('W/"') for r in seen)
    assert (again.commits.new, again.commits.not_modified) == (0, 1)
    assert (again.pull_requests.new, again.pull_requests.not_modified) == (0, 1)

    # A new commit and a merged pull request: the listings change, only news is stored.
    github.commits["acme/web"].append(
        rest_commit("f6" * 20, "2026-03-06T10:00:00Z", "Sixth", "ana", "Ana Silva")
    )
    github.pulls["acme/web"][2].update(
        state="closed", merged_at="2026-03-06T12:00:00Z", closed_at="2026-03-06T12:00:00Z"
    )
    github.pulls["acme/web"][2]["updated_at"] = "2026-03-06T12:00:00Z"
    third = await _run(harness, github, project_id)
    assert (third.commits.seen, third.commits.new) == (6, 1)
    assert third.pull_requests.new == 0
    assert await harness.sql("SELECT count(*) FROM commits") == [(6,)]
    assert await harness.sql("SELECT state FROM pull_requests WHERE number = 3") == [("merged",)]
    assert await harness.sql("SELECT count(*) FROM pull_requests") == [(3,)]
    (settings,) = await harness.sql("SELECT settings FROM projects")
    stored = settings[0] if isinstance(settings[0], dict) else json.loads(settings[0])
    assert set(stored["github"]["backfill"]["acme/web"]) == {"commits", "pulls"}


async def test_backfill_since_limits_both_listings(harness: Harness, github: FakeGitHub) -> None:
    project_id = await _project(harness, ["Acme/Web"])
    since = datetime(2026, 3, 3, tzinfo=UTC)
    result = await _run(harness, github, project_id, since=since)
    assert result.commits.new == 3
    assert result.pull_requests.new == 1  # #3; #1 and #2 were last updated before
    requests = github.take_requests()
    assert requests[0].query["since"].startswith("2026-03-03T00:00:00")
    # Pull requests come newest-updated first: the first page reached older ones, so stop.
    assert [r.path for r in requests].count("/repos/Acme/Web/pulls") == 1
    assert await harness.sql("SELECT number FROM pull_requests") == [(3,)]

    # ETags belong to one question: without --since, the full history is loaded.
    everything = await _run(harness, github, project_id)
    assert everything.commits.new == 2
    assert everything.pull_requests.new == 2


async def test_backfill_reports_what_github_refused(harness: Harness, github: FakeGitHub) -> None:
    project_id = await _project(harness, ["acme/missing", "Acme/Web"])
    with pytest.raises(BackfillError, match="no such repository"):
        await backfill(
            harness.app.state.database.sessionmaker,
            project_id=project_id,
            repo="acme/missing",
            since=None,
            token=None,
            api_url=github.base_url,
            now=harness.clock.now(),
        )
    github.foreign_next = True
    with pytest.raises(BackfillError, match="another origin"):
        await _run(harness, github, project_id)


async def test_backfill_command(harness: Harness, github: FakeGitHub) -> None:
    await _project(harness, ["Acme/Web"])
    env = {
        "DATABASE_URL": harness.settings.database_url,
        "PRODLENS_DATA_DIR": str(harness.settings.data_dir),
        "FAKE_GITHUB_TOKEN": TOKEN,
    }

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=env)
        return result.exit_code, " ".join(result.output.split())

    code, output = await anyio.to_thread.run_sync(
        lambda: invoke(
            "github",
            "backfill",
            "--repo",
            "acme/web",
            "--api-url",
            github.base_url,
            "--token-env",
            "FAKE_GITHUB_TOKEN",
        )
    )
    assert code == 0, output
    assert "Acme/Web → web: commits: 5 read, 5 new" in output
    assert "pull requests: 3 read, 3 new" in output
    assert all(r.authorization == f"Bearer {TOKEN}" for r in github.take_requests())

    code, output = await anyio.to_thread.run_sync(
        lambda: invoke("github", "backfill", "--repo", "acme/unknown", "--api-url", github.base_url)
    )
    assert code == 1
    assert "not among the repositories" in output
