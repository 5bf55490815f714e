"""S31 object-level and S32 function-level authorization, walked from the OpenAPI schema.

Every project-scoped route (a `{project_id}` in its path) and every admin route
must appear in the tables below; the coverage tests fail when a route is added
without them, so no route escapes these checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from prodlens.app import create_app
from prodlens.config import Settings
from tests.harness import Account, Harness

METHODS = ("get", "post", "put", "patch", "delete")


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    schema = create_app(Settings(_env_file=None)).openapi()
    return {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


OPERATIONS = _operations()

# Minimal role per project-scoped route, and a body that would be accepted.
# The body sent: a JSON object or array (ingest takes a batch), or nothing.
PROJECT_ROUTES: dict[tuple[str, str], tuple[str, dict[str, Any] | list[Any] | None]] = {
    ("GET", "/api/v1/projects/{project_id}"): ("viewer", None),
    ("PATCH", "/api/v1/projects/{project_id}"): ("maintainer", {"description": "changed"}),
    ("DELETE", "/api/v1/projects/{project_id}"): ("owner", None),
    ("GET", "/api/v1/projects/{project_id}/members"): ("viewer", None),
    ("POST", "/api/v1/projects/{project_id}/members"): ("owner", {"user": "newbie"}),
    ("PATCH", "/api/v1/projects/{project_id}/members/{user_id}"): ("owner", {"role": "viewer"}),
    ("DELETE", "/api/v1/projects/{project_id}/members/{user_id}"): ("owner", None),
    ("GET", "/api/v1/projects/{project_id}/items"): ("viewer", None),
    ("POST", "/api/v1/projects/{project_id}/items"): ("maintainer", {"title": "new"}),
    ("GET", "/api/v1/projects/{project_id}/items/{item_id}"): ("viewer", None),
    ("PATCH", "/api/v1/projects/{project_id}/items/{item_id}"): ("maintainer", {"title": "x"}),
    ("DELETE", "/api/v1/projects/{project_id}/items/{item_id}"): ("maintainer", None),
    ("GET", "/api/v1/projects/{project_id}/api-keys"): ("maintainer", None),
    ("POST", "/api/v1/projects/{project_id}/api-keys"): (
        "maintainer",
        {"name": "k", "scopes": ["read"]},
    ),
    ("DELETE", "/api/v1/projects/{project_id}/api-keys/{key_id}"): ("maintainer", None),
    ("POST", "/api/v1/projects/{project_id}/ingest/events"): ("maintainer", []),
    ("GET", "/api/v1/projects/{project_id}/integrations/github"): ("viewer", None),
    ("PUT", "/api/v1/projects/{project_id}/integrations/github"): ("maintainer", {}),
    ("DELETE", "/api/v1/projects/{project_id}/integrations/github"): ("maintainer", None),
    ("GET", "/api/v1/projects/{project_id}/integrations/copilot"): ("viewer", None),
    ("PUT", "/api/v1/projects/{project_id}/integrations/copilot"): (
        "maintainer",
        {"organization": "acme", "token": "github_pat_0123456789abcdefghij"},
    ),
    ("DELETE", "/api/v1/projects/{project_id}/integrations/copilot"): ("maintainer", None),
    ("GET", "/api/v1/projects/{project_id}/assistants"): ("viewer", None),
    ("POST", "/api/v1/projects/{project_id}/ingest/copilot"): (
        "maintainer",
        [{"day": "2026-03-01", "user_login": "ana"}],
    ),
    ("GET", "/api/v1/projects/{project_id}/metrics"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/metrics/raw"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/metrics/timeseries"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/metrics/targets"): ("viewer", None),
    ("PUT", "/api/v1/projects/{project_id}/metrics/targets"): (
        "maintainer",
        {"targets": {"acceptance_rate": {"good": 0.4, "warning": 0.25}}},
    ),
    ("POST", "/api/v1/projects/{project_id}/ingest/litellm"): ("maintainer", []),
    ("POST", "/api/v1/projects/{project_id}/ingest/otlp/v1/traces"): (
        "maintainer",
        {"resourceSpans": []},
    ),
    ("POST", "/api/v1/projects/{project_id}/ingest/otlp/v1/metrics"): (
        "maintainer",
        {"resourceMetrics": []},
    ),
    ("POST", "/api/v1/projects/{project_id}/ingest/otlp/v1/logs"): (
        "maintainer",
        {"resourceLogs": []},
    ),
    ("GET", "/api/v1/projects/{project_id}/sessions"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/sessions/{session_id}"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/developers"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/developers/{developer_id}"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/developers/{developer_id}/identities"): (
        "viewer",
        None,
    ),
    ("POST", "/api/v1/projects/{project_id}/developers/{developer_id}/identities"): (
        "maintainer",
        {"identity": "another-alias", "kind": "other"},
    ),
    ("DELETE", "/api/v1/projects/{project_id}/developers/{developer_id}/identities/{link_id}"): (
        "maintainer",
        None,
    ),
    ("GET", "/api/v1/projects/{project_id}/insights"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/insights/interventions"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/calendar"): ("viewer", None),
    ("PUT", "/api/v1/projects/{project_id}/calendar"): (
        "maintainer",
        {"working_days": [0, 1, 2, 3, 4], "holidays": []},
    ),
    ("GET", "/api/v1/projects/{project_id}/exports/events"): ("viewer", None),
    ("GET", "/api/v1/projects/{project_id}/exports/timeseries"): ("viewer", None),
}
LOWER = {"maintainer": "viewer", "owner": "maintainer"}
# Query parameters a route requires, so the control request is accepted.
QUERIES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/projects/{project_id}/insights/interventions"): "?date=2025-01-06",
}

ADMIN_ROUTES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/api/v1/users"): None,
    ("POST", "/api/v1/users"): {
        "email": "made@example.com",
        "username": "made",
        "password": "violet-lantern-ocean-42",
        "display_name": "Made",
    },
    ("GET", "/api/v1/users/{user_id}"): None,
    ("PATCH", "/api/v1/users/{user_id}"): {"tier": "premium"},
    ("DELETE", "/api/v1/users/{user_id}"): None,
    ("POST", "/api/v1/users/{user_id}/unlock"): None,
    ("GET", "/api/v1/users/{user_id}/sessions"): None,
    ("GET", "/api/v1/audit"): None,
    ("GET", "/api/v1/admin/maintenance"): None,
    ("PUT", "/api/v1/admin/maintenance"): {"enabled": True},
    ("PATCH", "/api/v1/plans/{name}"): {"requests_per_hour": 1},
}


def test_s31_every_project_scoped_route_is_covered() -> None:
    scoped = {key for key in OPERATIONS if "{project_id}" in key[1]}
    assert scoped == set(PROJECT_ROUTES), "add new project-scoped routes to PROJECT_ROUTES"


def test_s32_every_admin_route_is_covered() -> None:
    declared = {
        key
        for key, operation in OPERATIONS.items()
        if "auth.admin_required" in operation["responses"].get("403", {}).get("description", "")
    }
    assert declared == set(ADMIN_ROUTES), "admin routes and ADMIN_ROUTES disagree"


@dataclass
class World:
    owner: Account
    roles: dict[str, Account]
    ids: dict[str, str]
    secrets: list[str]  # what must never show up for outsiders

    def url(self, path: str, method: str = "GET") -> str:
        return path.format(**self.ids) + QUERIES.get((method, path), "")


@pytest.fixture
async def world(harness: Harness) -> World:
    owner = await harness.signup("owner")
    roles = {"owner": owner}
    project = (
        await harness.client.post(
            "/api/v1/projects", json={"name": "Secret Plans"}, headers=owner.headers
        )
    ).json()
    base = f"/api/v1/projects/{project['id']}"
    for role in ("maintainer", "viewer", "stranger"):
        roles[role] = await harness.signup(role)
        if role != "stranger":
            await harness.client.post(
                f"{base}/members", json={"user": role, "role": role}, headers=owner.headers
            )
    await harness.signup("newbie")
    item = (
        await harness.client.post(
            f"{base}/items", json={"title": "Confidential"}, headers=owner.headers
        )
    ).json()
    key = (
        await harness.client.post(
            f"{base}/api-keys", json={"name": "ci", "scopes": ["read"]}, headers=owner.headers
        )
    ).json()
    viewer_id = (
        await harness.client.get("/api/v1/auth/me", headers=roles["viewer"].headers)
    ).json()["id"]
    # One event, so the session and developer routes have something to find.
    usage = {
        "event_id": "evt-world",
        "session_id": "session-world",
        "developer_id": "developer-world",
        "started_at": (harness.clock.now() - timedelta(minutes=5)).isoformat(),
    }
    ingested = await harness.client.post(
        f"{base}/ingest/events", json=[usage], headers=owner.headers
    )
    assert ingested.json()["summary"]["accepted"] == 1, ingested.text
    link = await harness.client.post(
        f"{base}/developers/developer-world/identities",
        json={"identity": "world-alias", "kind": "other"},
        headers=owner.headers,
    )
    assert link.status_code == 201, link.text
    ids = {
        "project_id": project["id"],
        "item_id": item["id"],
        "key_id": key["id"],
        "user_id": viewer_id,
        "session_id": "session-world",
        "developer_id": "developer-world",
        "link_id": link.json()["id"],
    }
    return World(owner, roles, ids, ["Secret Plans", "Confidential", project["id"], item["id"]])


async def test_s31_non_members_get_404(harness: Harness, world: World) -> None:
    """Every project-scoped route, asked by a signed-in stranger: 404, revealing nothing.
    One world serves the whole walk: refused requests change nothing."""
    wrong = []
    for method, path in sorted(PROJECT_ROUTES):
        _, body = PROJECT_ROUTES[(method, path)]
        response = await harness.client.request(
            method, world.url(path, method), json=body, headers=world.roles["stranger"].headers
        )
        leaked = [secret for secret in world.secrets[:2] if secret in response.text]
        if response.status_code != 404 or response.json()["code"] != "projects.not_found":
            wrong.append(f"{method.upper()} {path}: {response.status_code} {response.text[:300]}")
        elif leaked:
            wrong.append(f"{method.upper()} {path}: the 404 quotes {leaked}")
    assert not wrong, "\n".join(wrong)


async def test_s31_lower_roles_get_403(harness: Harness, world: World) -> None:
    """Every route that needs more than viewer, asked by the role just below it: 403."""
    wrong = []
    for method, path in sorted(
        key for key, (role, _) in PROJECT_ROUTES.items() if role != "viewer"
    ):
        required, body = PROJECT_ROUTES[(method, path)]
        lower = world.roles[LOWER[required]]
        response = await harness.client.request(
            method, world.url(path, method), json=body, headers=lower.headers
        )
        if response.status_code != 403 or response.json()["code"] != "projects.role_required":
            wrong.append(f"{method.upper()} {path}: {response.status_code} {response.text[:300]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("method", "path"), sorted(PROJECT_ROUTES))
async def test_s31_the_required_role_is_enough(
    harness: Harness, world: World, method: str, path: str
) -> None:
    """The control: the same request succeeds for a member with the required role."""
    required, body = PROJECT_ROUTES[(method, path)]
    response = await harness.client.request(
        method, world.url(path, method), json=body, headers=world.roles[required].headers
    )
    assert response.status_code < 300, response.text


async def test_s31_another_projects_ids_are_not_reachable(harness: Harness, world: World) -> None:
    """Item and key ids of project A through project B, where the caller is an owner: 404."""
    stranger = world.roles["stranger"]
    other = (
        await harness.client.post(
            "/api/v1/projects", json={"name": "Mine"}, headers=stranger.headers
        )
    ).json()
    base = f"/api/v1/projects/{other['id']}"
    item = await harness.client.get(
        f"{base}/items/{world.ids['item_id']}", headers=stranger.headers
    )
    assert item.status_code == 404
    key = await harness.client.delete(
        f"{base}/api-keys/{world.ids['key_id']}", headers=stranger.headers
    )
    assert key.status_code == 404
    member = await harness.client.patch(
        f"{base}/members/{world.ids['user_id']}", json={"role": "owner"}, headers=stranger.headers
    )
    assert member.status_code == 404
    sessions = await harness.client.delete(
        "/api/v1/auth/sessions/" + world.ids["project_id"], headers=stranger.headers
    )
    assert sessions.status_code == 404


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN_ROUTES))
async def test_s32_non_admins_get_403(harness: Harness, method: str, path: str) -> None:
    user = await harness.signup("plainuser")
    me = (await harness.client.get("/api/v1/auth/me", headers=user.headers)).json()
    url = path.format(user_id=me["id"], name="free")
    response = await harness.client.request(
        method, url, json=ADMIN_ROUTES[(method, path)], headers=user.headers
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "auth.admin_required"
