"""The fuzz run's hooks spare exactly the run's own fixtures (tests/fuzz/hooks.py)."""

from __future__ import annotations

from typing import Any

from tests.fuzz.hooks import keep_fixtures

OWN = {"own-user", "own-project", "own-key"}


def test_deleting_the_runs_project_or_key_goes_to_another_id() -> None:
    project, _ = keep_fixtures(
        "delete", "/api/v1/projects/{project_id}", {"project_id": "own-project"}, None, OWN
    )
    key, _ = keep_fixtures(
        "DELETE",
        "/api/v1/projects/{project_id}/api-keys/{key_id}",
        {"project_id": "own-project", "key_id": "own-key"},
        None,
        OWN,
    )
    assert project["project_id"] not in OWN
    assert key == {"project_id": "own-project", "key_id": key["key_id"]}
    assert key["key_id"] not in OWN


def test_other_ids_and_harmless_updates_are_sent_as_generated() -> None:
    cases: list[tuple[str, str, dict[str, Any], Any]] = [
        ("DELETE", "/api/v1/projects/{project_id}", {"project_id": "other"}, None),
        ("GET", "/api/v1/projects/{project_id}", {"project_id": "own-project"}, None),
        ("PATCH", "/api/v1/users/{user_id}", {"user_id": "own-user"}, {"display_name": "x"}),
        ("PATCH", "/api/v1/users/{user_id}", {"user_id": "other"}, {"role": "user"}),
        ("DELETE", "/api/v1/users/{user_id}", {"user_id": ["own-user"]}, None),
        ("PUT", "/api/v1/admin/maintenance", {}, {"enabled": False}),
        ("PUT", "/api/v1/admin/maintenance", {}, {"enabled": 1}),
    ]
    for method, path, parameters, body in cases:
        assert keep_fixtures(method, path, parameters, body, OWN) == (parameters, body)


def test_the_runs_admin_is_neither_deleted_nor_demoted_nor_deactivated() -> None:
    path = "/api/v1/users/{user_id}"
    deleted, _ = keep_fixtures("DELETE", path, {"user_id": "own-user"}, None, OWN)
    demoted, _ = keep_fixtures("PATCH", path, {"user_id": "own-user"}, {"role": "user"}, OWN)
    deactivated, _ = keep_fixtures(
        "PATCH", path, {"user_id": "own-user"}, {"is_active": False}, OWN
    )
    assert {deleted["user_id"], demoted["user_id"], deactivated["user_id"]}.isdisjoint(OWN)


def test_maintenance_mode_is_never_switched_on() -> None:
    _, body = keep_fixtures(
        "PUT", "/api/v1/admin/maintenance", {}, {"enabled": True, "extra": 1}, OWN
    )
    assert body == {"enabled": False, "extra": 1}
