"""The GitHub webhook: push and pull_request land as commits and pull requests of the
project that tracks the repository; the secret is shown once and stored sealed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.harness import Harness
from tests.integrations.helpers import (
    commit,
    deliver,
    github_project,
    hours,
    new_delivery_id,
    pull_request_payload,
    push_payload,
    signature,
)

REPO = "acme/web"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def test_push_stores_each_commit_once(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])
    commits = [
        commit("a" * 40, "Add retry to the payment client\n\nLong body", T0, login="ana"),
        commit("b" * 40, "Fix rounding", T0 + hours(1), login=None, name="Ben Okafor"),
    ]
    first = await deliver(harness, "push", push_payload(REPO, commits), secret=project.secret)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "processed"
    assert first.json()["commits_new"] == 2

    # The same commits pushed again (another branch, a new delivery): no duplicates.
    extra = commit("C" * 40, "Rename cart module", T0 + hours(2), login="ana")
    again = await deliver(
        harness, "push", push_payload(REPO, [*commits, extra]), secret=project.secret
    )
    assert again.json()["commits_new"] == 1
    rows = await harness.sql(
        "SELECT repo, sha, author, message, committed_at FROM commits ORDER BY sha"
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (REPO, "a" * 40, "ana", "Add retry to the payment client"),
        (REPO, "b" * 40, "Ben Okafor", "Fix rounding"),
        (REPO, "c" * 40, "ana", "Rename cart module"),
    ]
    stamp = rows[0][4]
    stamp = datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    assert stamp.replace(tzinfo=stamp.tzinfo or UTC) == T0
    assert await harness.sql("SELECT project_id FROM commits GROUP BY project_id") == [
        (project.project_id,)
    ]


async def test_pull_request_lifecycle(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])

    async def send(action: str, number: int, **fields: object) -> None:
        payload = pull_request_payload(REPO, action, number, created=T0, **fields)  # type: ignore[arg-type]
        response = await deliver(harness, "pull_request", payload, secret=project.secret)
        assert response.status_code == 200, response.text
        assert response.json()["pull_request"] == number

    async def row(number: int) -> tuple[object, ...]:
        (found,) = await harness.sql(
            "SELECT state, title, author, merged_at IS NOT NULL, closed_at IS NOT NULL, "
            "reopened_count FROM pull_requests WHERE number = :n",
            n=number,
        )
        state, title, author, merged, closed, reopened = found
        return state, title, author, bool(merged), bool(closed), reopened

    await send("opened", 7)
    assert await row(7) == ("open", "Add checkout retry", "octocat", False, False, 0)
    await send("edited", 7, title="Add checkout retry (v2)", updated=T0 + hours(1))
    v2 = "Add checkout retry (v2)"
    await send("closed", 7, title=v2, state="closed", merged=True, closed=T0 + hours(5))
    assert await row(7) == ("merged", "Add checkout retry (v2)", "octocat", True, True, 0)

    await send("opened", 8, login="ben")
    await send("closed", 8, login="ben", state="closed", closed=T0 + hours(2))
    assert await row(8) == ("closed", "Add checkout retry", "ben", False, True, 0)
    await send("reopened", 8, login="ben", updated=T0 + hours(3))
    assert await row(8) == ("open", "Add checkout retry", "ben", False, False, 1)
    await send("closed", 8, login="ben", state="closed", closed=T0 + hours(4))
    await send("reopened", 8, login="ben", updated=T0 + hours(6))
    assert (await row(8))[-1] == 2

    # A late, older snapshot (deliveries can arrive out of order) does not undo the merge.
    await send("edited", 7, title="stale title", updated=T0 + hours(2))
    assert await row(7) == ("merged", "Add checkout retry (v2)", "octocat", True, True, 0)

    counts = await harness.sql(
        "SELECT state, count(*) FROM pull_requests GROUP BY state ORDER BY state"
    )
    assert [tuple(r) for r in counts] == [("merged", 1), ("open", 1)]


async def test_repository_matches_case_insensitively_and_picks_the_verifying_project(
    harness: Harness,
) -> None:
    first = await github_project(harness, repos=["Acme/Web"], name="Team A")
    second = await github_project(
        harness, repos=["acme/web", "acme/api"], owner=first.owner, name="Team B"
    )
    payload = push_payload("ACME/web", [commit("d" * 40, "Shared repo", T0)])
    for project in (second, first):
        response = await deliver(harness, "push", payload, secret=project.secret)
        assert response.status_code == 200, response.text
    rows = await harness.sql("SELECT project_id, repo FROM commits ORDER BY repo")
    # Each project stores the repository as it spells it (the backfill uses the same key).
    assert sorted(tuple(r) for r in rows) == sorted(
        [(first.project_id, "Acme/Web"), (second.project_id, "acme/web")]
    )


async def test_ping_and_other_events_are_answered(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "repository": {"full_name": REPO}}
    delivery_id = new_delivery_id()
    response = await deliver(harness, "ping", ping, secret=project.secret, delivery_id=delivery_id)
    assert response.status_code == 200
    assert response.json()["status"] == "pong"
    status = await harness.client.get(project.settings_url, headers=project.owner.headers)
    assert status.json()["last_delivery"]["delivery_id"] == delivery_id
    assert status.json()["last_delivery"]["event"] == "ping"

    issue = {"action": "opened", "issue": {"number": 1}, "repository": {"full_name": REPO}}
    ignored = await deliver(harness, "issues", issue, secret=project.secret)
    assert ignored.json()["status"] == "ignored"
    assert await harness.sql("SELECT count(*) FROM commits") == [(0,)]

    # An organization hook's ping names no repository: answered, nothing recorded.
    org_ping = await deliver(harness, "ping", {"zen": "Hi", "hook_id": 2}, secret=None)
    assert org_ping.status_code == 200
    assert await harness.sql("SELECT count(*) FROM webhook_deliveries") == [(2,)]


def form_body(payload: dict[str, Any]) -> bytes:
    """A push delivery as GitHub sends it with the `application/x-www-form-urlencoded`
    content type: the JSON in a `payload` field."""
    return urlencode({"payload": json.dumps(payload)}).encode()


async def deliver_form(harness: Harness, body: bytes, *, secret: str) -> httpx.Response:
    return await deliver(
        harness, "push", body, secret=secret, content_type="application/x-www-form-urlencoded"
    )


async def test_form_encoded_deliveries_are_accepted(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])
    payload = push_payload(REPO, [commit("e" * 40, "Form encoded", T0)])
    response = await deliver_form(harness, form_body(payload), secret=project.secret)
    assert response.status_code == 200, response.text
    assert response.json()["commits_new"] == 1


async def test_text_no_database_stores_is_mended_not_a_failed_delivery(
    harness: Harness,
) -> None:
    """NUL and half a surrogate pair are valid JSON escapes; in a form's `payload` they
    pass the input rules (percent-decoding yields valid text), so the webhook mends them."""
    project = await github_project(harness, repos=[REPO])
    payload = push_payload(REPO, [commit("f" * 40, "Odd \ud800 text\x00 here", T0)])
    body = form_body(payload)
    # Escapes, as json.dumps writes them.
    assert b"%5Cud800" in body
    assert b"%5Cu0000" in body
    response = await deliver_form(harness, body, secret=project.secret)
    assert response.status_code == 200, response.text
    assert response.json()["commits_new"] == 1
    assert await harness.sql("SELECT message FROM commits") == [("Odd \ufffd text here",)]


async def test_a_payload_not_understood_leaves_no_trace_and_can_be_redelivered(
    harness: Harness,
) -> None:
    project = await github_project(harness, repos=[REPO])
    delivery_id = new_delivery_id()
    broken = push_payload(REPO, [{"id": "f" * 40, "message": "no timestamp"}])
    refused = await deliver(harness, "push", broken, secret=project.secret, delivery_id=delivery_id)
    assert refused.status_code == 422
    assert refused.json()["code"] == "github.invalid_payload"
    assert await harness.sql("SELECT count(*) FROM webhook_deliveries") == [(0,)]

    fixed = push_payload(REPO, [commit("f" * 40, "Now with a timestamp", T0)])
    redelivered = await deliver(
        harness, "push", fixed, secret=project.secret, delivery_id=delivery_id
    )
    assert redelivered.json()["status"] == "processed"


async def test_secret_is_shown_once_stored_sealed_rotated_and_removed(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])
    assert len(project.secret) >= 40
    status = await harness.client.get(project.settings_url, headers=project.owner.headers)
    assert status.status_code == 200
    body = status.json()
    assert body["configured"] is True
    assert body["secret_usable"] is True
    assert body["repos"] == [REPO]
    assert body["events"] == ["push", "pull_request"]
    assert body["webhook_url"].endswith("/api/v1/integrations/github/webhook")
    assert body["last_delivery"] is None
    assert project.secret not in status.text
    assert "secret" not in body
    stored = await harness.sql("SELECT settings FROM projects")
    assert project.secret not in str(stored)  # sealed, not in clear

    payload = push_payload(REPO, [commit("1" * 40, "One", T0)])
    rotated = await harness.client.put(
        project.settings_url,
        json={"secret": "my-own-webhook-secret-0123"},
        headers=project.owner.headers,
    )
    assert rotated.status_code == 200
    assert rotated.json()["secret"] == "my-own-webhook-secret-0123"
    old = await deliver(harness, "push", payload, secret=project.secret)
    assert old.status_code == 401
    new = await deliver(harness, "push", payload, secret="my-own-webhook-secret-0123")
    assert new.status_code == 200

    removed = await harness.client.delete(project.settings_url, headers=project.owner.headers)
    assert removed.status_code == 204
    after = await deliver(harness, "push", payload, secret="my-own-webhook-secret-0123")
    assert after.status_code == 401
    status = await harness.client.get(project.settings_url, headers=project.owner.headers)
    assert status.json()["configured"] is False
    assert status.json()["last_delivery"]["event"] == "push"
    audit = await harness.sql(
        "SELECT event_type FROM audit_events WHERE event_type LIKE 'project.github%' "
        "ORDER BY event_type"
    )
    assert [r[0] for r in audit] == [
        "project.github_secret_removed",
        "project.github_secret_set",
        "project.github_secret_set",
    ]


async def test_a_new_server_secret_key_makes_the_webhook_secret_unusable(
    harness: Harness,
) -> None:
    """The secret is sealed under PRODLENS_SECRET_KEY: a different key cannot open it."""
    project = await github_project(harness, repos=[REPO])
    harness.app.state.settings = harness.settings.model_copy(
        update={"secret_key": type(harness.settings.secret_key)("another-secret-key-" + "x" * 40)}
    )
    status = await harness.client.get(project.settings_url, headers=project.owner.headers)
    assert status.json()["configured"] is True
    assert status.json()["secret_usable"] is False
    payload = push_payload(REPO, [commit("2" * 40, "Two", T0)])
    assert (await deliver(harness, "push", payload, secret=project.secret)).status_code == 401


async def test_weak_custom_secrets_are_refused(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])
    response = await harness.client.put(
        project.settings_url, json={"secret": "short"}, headers=project.owner.headers
    )
    assert response.status_code == 422


async def test_signature_over_other_bytes_does_not_verify(harness: Harness) -> None:
    """The HMAC covers the raw body: re-serialized JSON with the same meaning fails."""
    project = await github_project(harness, repos=[REPO])
    payload = push_payload(REPO, [commit("3" * 40, "Three", T0 - timedelta(days=1))])
    compact = json.dumps(payload, separators=(",", ":")).encode()
    response = await deliver(
        harness,
        "push",
        json.dumps(payload, indent=2).encode(),
        secret=None,
        signature_header=signature(project.secret, compact),
    )
    assert response.status_code == 401
