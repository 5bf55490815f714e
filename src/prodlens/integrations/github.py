"""GitHub delivery data: the webhook (signature, replay guard, push and pull_request),
the per-project webhook secret, and the commit and pull-request rows that the
webhook and the backfill both write.

A delivery belongs to the project that lists its repository and whose secret
verifies its `X-Hub-Signature-256`. Everything an unauthenticated caller can get
wrong (no signature, a wrong one, a repository nobody tracks, a project without
a secret) answers the same 401, so the endpoint reveals nothing about projects.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
from pydantic import ValidationError
from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.models import Commit, PullRequest, WebhookDelivery
from prodlens.audit import service as audit
from prodlens.auth.models import User
from prodlens.integrations.schemas import (
    DeliveryPublic,
    GitHubIntegration,
    PullRequestData,
    PullRequestPayload,
    PushPayload,
    WebhookResult,
)
from prodlens.integrations.sealing import seal, unseal
from prodlens.kit.client import ClientInfo
from prodlens.kit.clock import Clock
from prodlens.kit.db import insert_ignoring_conflicts
from prodlens.kit.errors import MalformedJson, ProblemError
from prodlens.kit.secrets import new_secret
from prodlens.projects.models import Project
from prodlens.realtime.service import Publisher, refresh_kpis_after_commit

SETTINGS_KEY = "github"  # Project.settings["github"]: sealed secret, backfill ETags
SECRET_PURPOSE = "github-webhook-secret"
WEBHOOK_PATH = "/api/v1/integrations/github/webhook"
EVENTS = ["push", "pull_request"]
_SIGNATURE_PREFIX = "sha256="
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_PARSE_INLINE_BYTES = 64 * 1024
_CHUNK = 500


class InvalidSignature(ProblemError):
    status, code, title = 401, "github.invalid_signature", "Webhook signature not valid"


class MissingWebhookHeader(ProblemError):
    status, code, title = 400, "github.missing_header", "Not a GitHub webhook delivery"


class InvalidPayload(ProblemError):
    status, code, title = 422, "github.invalid_payload", "Webhook payload not understood"


# One detail for every reason, so that a 401 tells an outsider nothing.
_UNVERIFIED = "No project could verify this delivery's X-Hub-Signature-256."


# --- the webhook secret ------------------------------------------------------------------


def config_of(project: Project) -> dict[str, Any]:
    return dict((project.settings or {}).get(SETTINGS_KEY) or {})


def webhook_secret(project: Project, *, secret_key: str) -> str | None:
    sealed = config_of(project).get("webhook_secret")
    if not isinstance(sealed, str):
        return None
    return unseal(sealed, secret_key=secret_key, purpose=SECRET_PURPOSE)


async def update_config(
    session: AsyncSession, project: Project, change: Callable[[dict[str, Any]], None]
) -> None:
    """Read-modify-write of `settings["github"]` with the project row locked, so that a
    concurrent writer (a secret rotation, a backfill saving its ETags) is not lost."""
    await session.refresh(project, attribute_names=["settings"], with_for_update=True)
    settings = dict(project.settings or {})
    config = dict(settings.get(SETTINGS_KEY) or {})
    change(config)
    settings[SETTINGS_KEY] = config
    project.settings = settings  # a new object: JSON columns do not see in-place changes
    await session.flush()


async def set_webhook_secret(
    session: AsyncSession,
    project: Project,
    *,
    secret: str | None,
    secret_key: str,
    actor: User,
    clock: Clock,
    client: ClientInfo,
) -> str:
    """Set or rotate the secret (a random one when none is given); returns it in clear,
    for the one response that shows it."""
    plain = secret or new_secret()
    sealed = seal(plain, secret_key=secret_key, purpose=SECRET_PURPOSE)
    now = clock.now()

    def change(config: dict[str, Any]) -> None:
        config["webhook_secret"] = sealed
        config["secret_set_at"] = now.isoformat()

    await update_config(session, project, change)
    audit.record(
        session,
        "project.github_secret_set",
        at=now,
        client=client,
        user_id=actor.id,
        actor_id=actor.id,
        details={"project_id": project.id},
    )
    return plain


async def remove_webhook_secret(
    session: AsyncSession, project: Project, *, actor: User, clock: Clock, client: ClientInfo
) -> None:
    def change(config: dict[str, Any]) -> None:
        config.pop("webhook_secret", None)
        config.pop("secret_set_at", None)

    await update_config(session, project, change)
    audit.record(
        session,
        "project.github_secret_removed",
        at=clock.now(),
        client=client,
        user_id=actor.id,
        actor_id=actor.id,
        details={"project_id": project.id},
    )


async def integration_status(
    session: AsyncSession, project: Project, *, secret_key: str, webhook_url: str
) -> GitHubIntegration:
    config = config_of(project)
    last = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.project_id == project.id)
        .order_by(WebhookDelivery.received_at.desc())
        .limit(1)
    )
    set_at = config.get("secret_set_at")
    return GitHubIntegration(
        configured="webhook_secret" in config,
        secret_usable=webhook_secret(project, secret_key=secret_key) is not None,
        secret_set_at=datetime.fromisoformat(set_at) if isinstance(set_at, str) else None,
        webhook_url=webhook_url,
        events=EVENTS,
        repos=list(project.repos),
        last_delivery=DeliveryPublic.model_validate(last) if last is not None else None,
    )


# --- rows shared with the backfill -------------------------------------------------------


def first_line(message: str, limit: int = 500) -> str:
    return message.strip().split("\n", 1)[0].strip()[:limit]


@dataclass(frozen=True)
class CommitRow:
    sha: str
    author: str | None
    message: str
    committed_at: datetime


async def store_commits(
    session: AsyncSession, project_id: str, repo: str, commits: Sequence[CommitRow]
) -> int:
    """Insert what is new (unique on project, repo, sha); returns how many were new."""
    rows = {
        commit.sha.lower(): {
            "project_id": project_id,
            "repo": repo,
            "sha": commit.sha.lower(),
            "author": commit.author[:200] if commit.author else None,
            "message": first_line(commit.message),
            "committed_at": commit.committed_at,
        }
        for commit in commits
    }
    if not rows:
        return 0
    statement = insert_ignoring_conflicts(
        session, Commit, index_elements=["project_id", "repo", "sha"]
    ).returning(Commit.sha)
    values = list(rows.values())
    inserted = 0
    for start in range(0, len(values), _CHUNK):
        result = await session.execute(statement.values(values[start : start + _CHUNK]))
        inserted += len(result.all())
    return inserted


def _pull_fields(pr: PullRequestData) -> dict[str, Any]:
    return {
        "title": pr.title[:300],
        "author": pr.user.login[:200] if pr.user else None,
        "state": pr.status,
        "created_at": pr.created_at,
        "merged_at": pr.merged_at,
        "closed_at": pr.closed_at,
        "updated_at": pr.updated_at,
    }


async def upsert_pull_request(
    session: AsyncSession, project_id: str, repo: str, pr: PullRequestData, *, reopened: bool
) -> tuple[PullRequest, bool]:
    """Insert or update one pull request; returns it and whether it was new.

    Deliveries can arrive out of order: an older snapshot (by GitHub's `updated_at`)
    never overwrites a newer one, but a reopening is always counted."""
    # ON CONFLICT rather than a savepoint: a concurrent first delivery of the same pull
    # request waits for the other transaction and then finds the row to update.
    new_id = await session.scalar(
        insert_ignoring_conflicts(
            session, PullRequest, index_elements=["project_id", "repo", "number"]
        )
        .values(
            project_id=project_id,
            repo=repo,
            number=pr.number,
            reopened_count=int(reopened),
            **_pull_fields(pr),
        )
        .returning(PullRequest.id)
    )
    if new_id is not None:
        row = await session.get(PullRequest, new_id)
        assert row is not None
        return row, True
    existing = await session.scalar(
        select(PullRequest)
        .where(
            PullRequest.project_id == project_id,
            PullRequest.repo == repo,
            PullRequest.number == pr.number,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert existing is not None  # it just conflicted, and rows are never deleted here
    if pr.updated_at >= existing.updated_at:
        for name, value in _pull_fields(pr).items():
            setattr(existing, name, value)
    if reopened:
        existing.reopened_count += 1
    await session.flush()
    return existing, False


# --- the webhook ------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What the webhook route hands over: headers and the raw body (signed as sent)."""

    event: str | None
    delivery_id: str | None
    signature: str | None
    content_type: str
    body: bytes


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC of the raw body>`, compared in constant time."""
    if not header:
        return False
    expected = _SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def _parse(body: bytes, content_type: str) -> Any:
    try:
        raw: bytes | str = body
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            # GitHub's other content type: the JSON document in a `payload` form field.
            raw = parse_qs(body.decode("ascii"), max_num_fields=20).get("payload", [""])[0]
        return json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd numbers, deep nesting
        raise MalformedJson("The body is not a JSON webhook payload.") from None


async def _document(delivery: Delivery) -> Any:
    if len(delivery.body) > _PARSE_INLINE_BYTES:
        return await anyio.to_thread.run_sync(_parse, delivery.body, delivery.content_type)
    return _parse(delivery.body, delivery.content_type)


def _repository_of(document: Any) -> str | None:
    repository = document.get("repository") if isinstance(document, dict) else None
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name if isinstance(name, str) and _REPO_NAME.fullmatch(name) else None


async def _verified_project(
    session: AsyncSession, repo: str, delivery: Delivery, *, secret_key: str
) -> tuple[Project, str] | None:
    """The project that tracks `repo` and whose secret signed this body, and the repo
    as that project spells it (rows are keyed on it, for the webhook and the backfill)."""
    if not delivery.signature:
        return None
    wanted = repo.lower()
    # A cheap text filter on the JSON list first; the exact comparison follows in Python.
    candidates = await session.scalars(
        select(Project)
        .where(func.lower(cast(Project.repos, String)).contains(f'"{wanted}"', autoescape=True))
        .order_by(Project.created_at, Project.id)
    )
    for project in candidates:
        spelled = next((name for name in project.repos if name.lower() == wanted), None)
        secret = webhook_secret(project, secret_key=secret_key)
        if spelled and secret and signature_matches(secret, delivery.body, delivery.signature):
            return project, spelled
    return None


async def receive(
    session: AsyncSession,
    delivery: Delivery,
    *,
    secret_key: str,
    clock: Clock,
    publisher: Publisher | None = None,
) -> WebhookResult:
    event = (delivery.event or "").strip().lower()
    if not event:
        raise MissingWebhookHeader("X-GitHub-Event is missing.")
    document = await _document(delivery)
    repo = _repository_of(document)
    if repo is None and event == "ping":
        # An organization hook's ping names no repository, so no project can verify it;
        # answering it changes nothing.
        return WebhookResult(status="pong", event=event, delivery_id=delivery.delivery_id)
    verified = (
        await _verified_project(session, repo, delivery, secret_key=secret_key)
        if repo is not None
        else None
    )
    if verified is None:
        raise InvalidSignature(_UNVERIFIED)
    project, repo = verified
    if not delivery.delivery_id or not _DELIVERY_ID.fullmatch(delivery.delivery_id):
        raise MissingWebhookHeader("X-GitHub-Delivery is missing or not a delivery id.")

    result = WebhookResult(status="processed", event=event, delivery_id=delivery.delivery_id)
    # Recorded first and in the same transaction: a replay, even a concurrent one (which
    # waits for this transaction), inserts nothing and changes nothing; a delivery that
    # fails leaves no trace and can be redelivered.
    recorded = await session.scalar(
        insert_ignoring_conflicts(session, WebhookDelivery, index_elements=["delivery_id"])
        .values(
            delivery_id=delivery.delivery_id,
            project_id=project.id,
            event=event[:32],
            received_at=clock.now(),
        )
        .returning(WebhookDelivery.delivery_id)
    )
    if recorded is None:
        result.status = "duplicate"
        return result

    try:
        if event == "push":
            push = PushPayload.model_validate(document)
            commits = [
                CommitRow(
                    sha=commit.id,
                    author=(commit.author.username or commit.author.name)
                    if commit.author
                    else None,
                    message=commit.message,
                    committed_at=commit.timestamp,
                )
                for commit in push.commits
            ]
            result.commits_new = await store_commits(session, project.id, repo, commits)
        elif event == "pull_request":
            change = PullRequestPayload.model_validate(document)
            await upsert_pull_request(
                session,
                project.id,
                repo,
                change.pull_request,
                reopened=change.action == "reopened",
            )
            result.pull_request = change.pull_request.number
        elif event == "ping":
            result.status = "pong"
        else:
            result.status = "ignored"
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"]) or "payload"
        raise InvalidPayload(f"{event} payload: {where} is missing or invalid.") from None
    if result.status == "processed":
        refresh_kpis_after_commit(session, publisher, project.id)
    return result


def repository_name(value: str) -> str:
    """`owner/name` as typed on the command line, validated like a project's repos."""
    name = value.strip()
    if not _REPO_NAME.fullmatch(name):
        raise ValueError(f"{value!r} is not owner/name")
    return name
