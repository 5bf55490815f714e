"""Projects and members, as their users see them."""

from __future__ import annotations

from typing import Any

from tests.harness import Account, Harness

API = "/api/v1/projects"


async def create(h: Harness, owner: Account, name: str, **fields: Any) -> dict[str, Any]:
    response = await h.client.post(API, json={"name": name, **fields}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_get_by_id_or_slug_update(harness: Harness) -> None:
    ada = await harness.signup("ada")
    project = await create(
        harness, ada, "Checkout Service", repos=["acme/checkout"], allowed_models=["gpt-4o"]
    )
    assert project["slug"] == "checkout-service"
    assert project["role"] == "owner"
    by_slug = await harness.client.get(f"{API}/checkout-service", headers=ada.headers)
    assert by_slug.json()["id"] == project["id"]
    updated = await harness.client.patch(
        f"{API}/{project['id']}", json={"description": "Pays the bills"}, headers=ada.headers
    )
    assert updated.json()["description"] == "Pays the bills"
    assert updated.json()["repos"] == ["acme/checkout"]


async def test_slugs_are_unique(harness: Harness) -> None:
    ada = await harness.signup("ada")
    await create(harness, ada, "Billing")
    second = await create(harness, ada, "Billing")
    assert second["slug"] == "billing-2"
    taken = await harness.client.post(
        API, json={"name": "Other", "slug": "billing"}, headers=ada.headers
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "projects.slug_taken"
    bad = await harness.client.post(
        API, json={"name": "X", "slug": "Not A Slug"}, headers=ada.headers
    )
    assert bad.status_code == 422


async def test_list_filters_sort_and_pagination(harness: Harness) -> None:
    ada = await harness.signup("ada")
    bob = await harness.signup("bob")
    for name in ("Alpha", "Beta", "Gamma"):
        harness.advance(seconds=1)
        await create(harness, ada, name)
    shared = await create(harness, bob, "Bob's Delta")
    await harness.client.post(
        f"{API}/{shared['id']}/members", json={"user": "ada", "role": "viewer"}, headers=bob.headers
    )
    everything = (await harness.client.get(API, headers=ada.headers)).json()
    assert everything["total"] == 4
    by_name = await harness.client.get(API, params={"sort": "name"}, headers=ada.headers)
    assert [p["name"] for p in by_name.json()["items"]] == ["Alpha", "Beta", "Bob's Delta", "Gamma"]
    viewer_of = await harness.client.get(API, params={"role": "viewer"}, headers=ada.headers)
    assert [p["name"] for p in viewer_of.json()["items"]] == ["Bob's Delta"]
    searched = await harness.client.get(API, params={"search": "AMM"}, headers=ada.headers)
    assert [p["name"] for p in searched.json()["items"]] == ["Gamma"]
    page = await harness.client.get(
        API, params={"page": 2, "page_size": 3, "sort": "name"}, headers=ada.headers
    )
    assert [p["name"] for p in page.json()["items"]] == ["Gamma"]
    for bad in ({"sort": "secret"}, {"page_size": 0}, {"page_size": 10_000}, {"status": "gone"}):
        response = await harness.client.get(API, params=bad, headers=ada.headers)
        assert response.status_code == 422, bad
    bob_sees = (await harness.client.get(API, headers=bob.headers)).json()
    assert [p["name"] for p in bob_sees["items"]] == ["Bob's Delta"]


async def test_archive_needs_owner_and_delete_removes_data(harness: Harness) -> None:
    ada = await harness.signup("ada")
    bob = await harness.signup("bob")
    project = await create(harness, ada, "Search")
    url = f"{API}/{project['id']}"
    await harness.client.post(
        f"{url}/members",
        json={"user": "bob@example.com", "role": "maintainer"},
        headers=ada.headers,
    )
    archive = await harness.client.patch(url, json={"status": "archived"}, headers=bob.headers)
    assert archive.status_code == 403
    assert archive.json()["code"] == "projects.role_required"
    assert (await harness.client.delete(url, headers=bob.headers)).status_code == 403
    archived = await harness.client.patch(url, json={"status": "archived"}, headers=ada.headers)
    assert archived.json()["status"] == "archived"
    listed = await harness.client.get(API, params={"status": "archived"}, headers=ada.headers)
    assert listed.json()["total"] == 1
    await harness.client.post(f"{url}/items", json={"title": "t"}, headers=ada.headers)
    assert (await harness.client.delete(url, headers=ada.headers)).status_code == 204
    assert (await harness.client.get(url, headers=ada.headers)).status_code == 404
    assert await harness.sql("SELECT count(*) FROM work_items") == [(0,)]
    assert await harness.sql("SELECT count(*) FROM project_members") == [(0,)]


async def test_members_roles_and_last_owner(harness: Harness) -> None:
    ada = await harness.signup("ada")
    bob = await harness.signup("bob")
    project = await create(harness, ada, "Payments")
    url = f"{API}/{project['id']}/members"
    added = await harness.client.post(
        url, json={"user": "BOB", "role": "viewer"}, headers=ada.headers
    )
    assert added.status_code == 201
    bob_id = added.json()["user_id"]
    again = await harness.client.post(url, json={"user": "bob"}, headers=ada.headers)
    assert again.json()["code"] == "projects.already_member"
    nobody = await harness.client.post(url, json={"user": "nobody"}, headers=ada.headers)
    assert nobody.json()["code"] == "projects.user_not_found"
    # A viewer cannot manage members.
    denied = await harness.client.post(url, json={"user": "ada"}, headers=bob.headers)
    assert denied.status_code == 403

    ada_id = (await harness.client.get("/api/v1/auth/me", headers=ada.headers)).json()["id"]
    demote = await harness.client.patch(
        f"{url}/{ada_id}", json={"role": "viewer"}, headers=ada.headers
    )
    assert demote.json()["code"] == "projects.last_owner"
    leave = await harness.client.delete(f"{url}/{ada_id}", headers=ada.headers)
    assert leave.json()["code"] == "projects.last_owner"

    promoted = await harness.client.patch(
        f"{url}/{bob_id}", json={"role": "owner"}, headers=ada.headers
    )
    assert promoted.json()["role"] == "owner"
    assert (await harness.client.delete(f"{url}/{ada_id}", headers=ada.headers)).status_code == 204
    members = (await harness.client.get(url, headers=bob.headers)).json()
    assert [(m["username"], m["role"]) for m in members] == [("bob", "owner")]

    admin = await harness.signup("root")
    await harness.make_admin(admin)
    audit = await harness.client.get(
        "/api/v1/audit", params={"event_type": "project.member_left"}, headers=admin.headers
    )
    assert audit.json()["total"] == 1


async def test_summary(harness: Harness) -> None:
    ada = await harness.signup("ada")
    bob = await harness.signup("bob")
    first = await create(harness, ada, "One")
    await create(harness, ada, "Two")
    await harness.client.patch(
        f"{API}/{first['id']}", json={"status": "archived"}, headers=ada.headers
    )
    await harness.client.post(
        f"{API}/{first['id']}/members", json={"user": "bob"}, headers=ada.headers
    )
    await harness.client.post(
        f"{API}/{first['id']}/items", json={"title": "a"}, headers=ada.headers
    )
    summary = (await harness.client.get(f"{API}/stats/summary", headers=ada.headers)).json()
    assert summary == {
        "projects": 2,
        "by_status": {"active": 1, "archived": 1},
        "by_role": {"owner": 2},
        "members": 2,
        "open_items": 1,
    }
    assert (await harness.client.get(f"{API}/stats/summary", headers=bob.headers)).json()[
        "projects"
    ] == 1
