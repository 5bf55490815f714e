"""S35: API keys are shown once, stored hashed, revocable and limited to their scopes."""

from __future__ import annotations

from typing import Any

from tests.harness import Account, Harness


async def _project_with_key(
    h: Harness, owner: Account, scopes: list[str]
) -> tuple[str, dict[str, Any]]:
    project = (
        await h.client.post("/api/v1/projects", json={"name": "Keys"}, headers=owner.headers)
    ).json()
    created = await h.client.post(
        f"/api/v1/projects/{project['id']}/api-keys",
        json={"name": "ci", "scopes": scopes},
        headers=owner.headers,
    )
    assert created.status_code == 201
    return project["id"], created.json()


async def test_s35_key_shown_once_and_stored_hashed(harness: Harness) -> None:
    owner = await harness.signup("ada")
    project_id, created = await _project_with_key(harness, owner, ["read"])
    secret = created["key"]
    assert secret.startswith(created["prefix"] + "_")
    assert len(secret) > 40
    listed = await harness.client.get(
        f"/api/v1/projects/{project_id}/api-keys", headers=owner.headers
    )
    assert secret not in listed.text
    assert "key" not in listed.json()[0]
    rows = await harness.sql("SELECT prefix, key_hash FROM api_keys")
    assert rows
    assert all(secret not in str(value) for row in rows for value in row)
    assert rows[0][1] != secret


async def test_s35_key_works_in_both_headers_and_revocation_is_immediate(harness: Harness) -> None:
    owner = await harness.signup("ada")
    project_id, created = await _project_with_key(harness, owner, ["read"])
    url = f"/api/v1/projects/{project_id}"
    for headers in ({"X-API-Key": created["key"]}, {"Authorization": f"Bearer {created['key']}"}):
        response = await harness.client.get(url, headers=headers)
        assert response.status_code == 200
        assert response.json()["name"] == "Keys"
    revoked = await harness.client.delete(f"{url}/api-keys/{created['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    after = await harness.client.get(url, headers={"X-API-Key": created["key"]})
    assert after.status_code == 401
    assert after.json()["code"] == "api_keys.invalid"
    forged = await harness.client.get(url, headers={"X-API-Key": created["prefix"] + "_forged"})
    assert forged.status_code == 401


async def test_s35_scopes_limit_what_a_key_does(harness: Harness) -> None:
    owner = await harness.signup("ada")
    project_id, read_key = await _project_with_key(harness, owner, ["read"])
    _, ingest_key = await _project_with_key(harness, owner, ["ingest"])
    url = f"/api/v1/projects/{project_id}"
    # A read key reads, but cannot write or manage anything.
    assert (
        await harness.client.get(f"{url}/items", headers={"X-API-Key": read_key["key"]})
    ).status_code == 200
    write = await harness.client.post(
        f"{url}/items", json={"title": "x"}, headers={"X-API-Key": read_key["key"]}
    )
    assert write.status_code == 403
    assert write.json()["code"] == "api_keys.scope_missing"
    # An ingest key cannot read, and a key of one project is nothing to another.
    assert (
        await harness.client.get(url, headers={"X-API-Key": ingest_key["key"]})
    ).status_code == 404
    other = (
        await harness.client.post("/api/v1/projects", json={"name": "Other"}, headers=owner.headers)
    ).json()
    foreign = await harness.client.get(
        f"/api/v1/projects/{other['id']}", headers={"X-API-Key": read_key["key"]}
    )
    assert foreign.status_code == 404
