"""Work items: CRUD, filters, sorting, assignees, cycle time."""

from __future__ import annotations

import pytest

from tests.harness import Account, Harness
from tests.projects.test_projects import API, create


@pytest.fixture
async def owner(harness: Harness) -> Account:
    return await harness.signup("ada")


async def test_lifecycle_and_cycle_time(harness: Harness, owner: Account) -> None:
    project = await create(harness, owner, "Web")
    url = f"{API}/{project['id']}/items"
    created = await harness.client.post(
        url,
        json={"title": "Fix login", "labels": ["Bug", "bug", "auth"], "linked_pr": 42},
        headers=owner.headers,
    )
    assert created.status_code == 201
    item = created.json()
    assert item["labels"] == ["auth", "bug"]
    assert item["status"] == "open"
    assert item["cycle_time_hours"] is None

    harness.advance(hours=1)
    await harness.sign_in(owner)  # the access token lasts 30 minutes
    started = await harness.client.patch(
        f"{url}/{item['id']}", json={"status": "in_progress"}, headers=owner.headers
    )
    assert started.json()["started_at"] is not None
    harness.advance(hours=5, minutes=30)
    await harness.sign_in(owner)
    done = await harness.client.patch(
        f"{url}/{item['id']}", json={"status": "done"}, headers=owner.headers
    )
    assert done.json()["cycle_time_hours"] == 5.5
    reopened = await harness.client.patch(
        f"{url}/{item['id']}", json={"status": "open"}, headers=owner.headers
    )
    assert reopened.json()["done_at"] is None
    assert reopened.json()["cycle_time_hours"] is None

    assert (
        await harness.client.delete(f"{url}/{item['id']}", headers=owner.headers)
    ).status_code == 204
    missing = await harness.client.get(f"{url}/{item['id']}", headers=owner.headers)
    assert missing.json()["code"] == "items.not_found"
    garbage = await harness.client.get(f"{url}/not-a-uuid", headers=owner.headers)
    assert garbage.status_code == 404


async def test_filters_and_sort(harness: Harness, owner: Account) -> None:
    bob = await harness.signup("bob")
    project = await create(harness, owner, "Web")
    await harness.client.post(
        f"{API}/{project['id']}/members",
        json={"user": "bob", "role": "maintainer"},
        headers=owner.headers,
    )
    bob_id = (await harness.client.get("/api/v1/auth/me", headers=bob.headers)).json()["id"]
    url = f"{API}/{project['id']}/items"
    specs = [
        {"title": "Cache pricing table", "labels": ["perf"], "status": "done"},
        {"title": "Login flakes", "labels": ["bug"], "assignee_id": bob_id},
        {"title": "Dark mode", "description": "users asked for it", "status": "in_progress"},
    ]
    for spec in specs:
        harness.advance(minutes=1)
        assert (await harness.client.post(url, json=spec, headers=owner.headers)).status_code == 201

    async def titles(**params: str) -> list[str]:
        response = await harness.client.get(url, params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    assert await titles() == ["Dark mode", "Login flakes", "Cache pricing table"]
    assert await titles(sort="title") == ["Cache pricing table", "Dark mode", "Login flakes"]
    assert await titles(status="done") == ["Cache pricing table"]
    assert await titles(assignee_id=bob_id) == ["Login flakes"]
    assert await titles(label="BUG") == ["Login flakes"]
    assert await titles(q="ASKED") == ["Dark mode"]
    bad = await harness.client.get(url, params={"sort": "-nope"}, headers=owner.headers)
    assert bad.json()["code"] == "pagination.invalid_sort"


async def test_assignee_must_be_member(harness: Harness, owner: Account) -> None:
    stranger = await harness.signup("zed")
    stranger_id = (await harness.client.get("/api/v1/auth/me", headers=stranger.headers)).json()[
        "id"
    ]
    project = await create(harness, owner, "Web")
    response = await harness.client.post(
        f"{API}/{project['id']}/items",
        json={"title": "x", "assignee_id": stranger_id},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "items.invalid_assignee"


async def test_viewers_read_but_do_not_write(harness: Harness, owner: Account) -> None:
    viewer = await harness.signup("vic")
    project = await create(harness, owner, "Web")
    await harness.client.post(
        f"{API}/{project['id']}/members", json={"user": "vic"}, headers=owner.headers
    )
    url = f"{API}/{project['id']}/items"
    await harness.client.post(url, json={"title": "a"}, headers=owner.headers)
    assert (await harness.client.get(url, headers=viewer.headers)).json()["total"] == 1
    denied = await harness.client.post(url, json={"title": "b"}, headers=viewer.headers)
    assert denied.status_code == 403
    assert denied.json()["code"] == "projects.role_required"
