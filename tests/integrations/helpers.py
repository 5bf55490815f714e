"""GitHub webhook deliveries for tests: payloads shaped like GitHub's, signed like GitHub."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.harness import Account, Harness

WEBHOOK = "/api/v1/integrations/github/webhook"
_deliveries = itertools.count(1)


@dataclass
class GitHubProject:
    owner: Account
    project_id: str
    secret: str

    @property
    def settings_url(self) -> str:
        return f"/api/v1/projects/{self.project_id}/integrations/github"


async def github_project(
    h: Harness,
    *,
    repos: list[str],
    owner: Account | None = None,
    name: str = "Checkout",
    secret: str | None = None,
) -> GitHubProject:
    owner = owner or await h.signup("lead")
    project = await h.client.post(
        "/api/v1/projects", json={"name": name, "repos": repos}, headers=owner.headers
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    body = {"secret": secret} if secret else {}
    configured = await h.client.put(
        f"/api/v1/projects/{project_id}/integrations/github", json=body, headers=owner.headers
    )
    assert configured.status_code == 200, configured.text
    return GitHubProject(owner, project_id, configured.json()["secret"])


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_delivery_id() -> str:
    return f"72d3162e-cc78-11e3-81ab-{next(_deliveries):012d}"


async def deliver(
    h: Harness,
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    secret: str | None,
    delivery_id: str | None = None,
    signature_header: str | None = None,
    content_type: str = "application/json",
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or new_delivery_id(),
        "User-Agent": "GitHub-Hookshot/044aadd",
    }
    if signature_header is not None:
        headers["X-Hub-Signature-256"] = signature_header
    elif secret is not None:
        headers["X-Hub-Signature-256"] = signature(secret, body)
    return await h.client.post(WEBHOOK, content=body, headers=headers)


def push_payload(repo: str, commits: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": commits[-1]["id"] if commits else "0" * 40,
        "repository": {"id": 1296269, "full_name": repo, "private": True},
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "sender": {"login": "octocat", "id": 1},
        "commits": commits,
        "head_commit": commits[-1] if commits else None,
    }


def commit(
    sha: str, message: str, at: datetime, *, login: str | None = "octocat", name: str = "Mona"
) -> dict[str, Any]:
    author: dict[str, Any] = {"name": name, "email": "mona@example.com"}
    if login is not None:
        author["username"] = login
    return {
        "id": sha,
        "tree_id": "f" * 40,
        "distinct": True,
        "message": message,
        "timestamp": at.isoformat(),
        "url": f"https://github.com/acme/web/commit/{sha}",
        "author": author,
        "committer": author,
        "added": ["src/app.py"],
        "removed": [],
        "modified": [],
    }


def pull_request_payload(
    repo: str,
    action: str,
    number: int,
    *,
    created: datetime,
    updated: datetime | None = None,
    title: str = "Add checkout retry",
    login: str = "octocat",
    state: str = "open",
    merged: bool = False,
    closed: datetime | None = None,
) -> dict[str, Any]:
    updated = updated or closed or created
    return {
        "action": action,
        "number": number,
        "repository": {"id": 1296269, "full_name": repo},
        "sender": {"login": login},
        "pull_request": {
            "url": f"https://api.github.com/repos/{repo}/pulls/{number}",
            "id": 1000 + number,
            "number": number,
            "state": state,
            "locked": False,
            "title": title,
            "user": {"login": login, "id": 1},
            "body": "Some description",
            "created_at": created.isoformat(),
            "updated_at": updated.isoformat(),
            "closed_at": closed.isoformat() if closed else None,
            "merged_at": closed.isoformat() if merged and closed else None,
            "merged": merged,
            "draft": False,
            "head": {"ref": "feature", "sha": "a" * 40},
            "base": {"ref": "main", "sha": "b" * 40},
        },
    }


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
