"""Building events and projects for analytics tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.harness import Account, Harness


@dataclass
class AnalyticsProject:
    owner: Account
    project_id: str
    ingest_key: str
    read_key: str

    @property
    def base(self) -> str:
        return f"/api/v1/projects/{self.project_id}"


async def analytics_project(
    h: Harness, name: str = "Copilot Pilot", **fields: Any
) -> AnalyticsProject:
    owner = await h.signup("lead")
    project = (
        await h.client.post(
            "/api/v1/projects", json={"name": name, **fields}, headers=owner.headers
        )
    ).json()
    keys = {}
    for scope in ("ingest", "read"):
        created = await h.client.post(
            f"/api/v1/projects/{project['id']}/api-keys",
            json={"name": scope, "scopes": [scope]},
            headers=owner.headers,
        )
        keys[scope] = created.json()["key"]
    return AnalyticsProject(owner, project["id"], keys["ingest"], keys["read"])


def event(number: int, at: datetime, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": f"evt-{number}",
        "session_id": f"s-{number // 3}",
        "developer_id": "dev-a",
        "started_at": at.isoformat(),
        "ended_at": (at + timedelta(milliseconds=800)).isoformat(),
        "provider": "openai",
        "request_model": "gpt-4o",
        "response_model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 200,
    }
    base.update(fields)
    return base


async def ingest_all(h: Harness, project: AnalyticsProject, events: list[dict[str, Any]]) -> None:
    """POST `events` in batches of 1,000 (the most one request takes); none may be rejected."""
    for start in range(0, len(events), 1000):
        response = await h.client.post(
            f"{project.base}/ingest/events",
            json=events[start : start + 1000],
            headers={"X-API-Key": project.ingest_key},
        )
        assert response.status_code == 200, response.text
        assert response.json()["summary"]["rejected"] == 0, response.text
