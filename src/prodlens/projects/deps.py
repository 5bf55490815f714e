"""`ProjectAccess(role, key_scope)`: the one check every project-scoped route uses.

The caller is a signed-in member with at least `role`, or (on routes that name
a `key_scope`) an API key of this very project with that scope. Non-members
get 404, as if the project did not exist; members below the role get 403.

The OpenAPI document declares what each route takes: routes with a `key_scope`
(and the key-only `KeyAccess` routes) declare the API-key schemes (`api_key`,
`api_key_bearer`), member-only routes declare none, so a generated client never
offers a credential the route refuses (tests/test_openapi.py sends each one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.auth.deps import (
    AuthDep,
    authenticate_request,
    bearer_scheme,
    cookie_scheme,
    load_current_user,
)
from prodlens.auth.models import User
from prodlens.auth.runtime import AuthRuntime
from prodlens.kit.db import SessionDep
from prodlens.projects import api_keys_service
from prodlens.projects.api_key_format import looks_like_key
from prodlens.projects.errors import (
    ApiKeyScopeMissing,
    InvalidApiKey,
    ProjectNotFound,
    ProjectRoleRequired,
)
from prodlens.projects.models import ApiKey, KeyScope, Project, ProjectMember, ProjectRole
from prodlens.projects.service import find_project
from prodlens.ratelimit.deps import note_api_key

API_KEY_HEADER = "X-API-Key"
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="api_key",
    description="A project API key (`pl_…`) in the `X-API-Key` header.",
    auto_error=False,
)
# The same key as a bearer token, for clients that can only send one. A scheme of its
# own, so the document never suggests a user's access token where only keys work.
api_key_bearer_scheme = HTTPBearer(
    scheme_name="api_key_bearer",
    bearerFormat="pl_…",
    description="A project API key sent as `Authorization: Bearer pl_…`.",
    auto_error=False,
)
KeyAsBearer = Annotated[HTTPAuthorizationCredentials | None, Depends(api_key_bearer_scheme)]


@dataclass(frozen=True)
class ProjectContext:
    project: Project
    user: User | None  # None when an API key is calling
    role: ProjectRole | None
    api_key: ApiKey | None


async def _verified_key(
    request: Request, session: AsyncSession, runtime: AuthRuntime, presented: str
) -> ApiKey:
    """The key a presented secret belongs to; the general rate limit learns the outcome."""
    try:
        key = await api_keys_service.authenticate(session, presented, now=runtime.clock.now())
    except InvalidApiKey:
        note_api_key(request, presented, None)
        raise
    note_api_key(request, presented, key.id)
    if api_keys_service.needs_touch(key, runtime.clock.now()):
        runtime.tasks.spawn(
            api_keys_service.touch(runtime.sessionmaker, key.id, runtime.clock.now()),
            name="api_key_used",
        )
    return key


def ProjectAccess(role: ProjectRole, *, key_scope: KeyScope | None = None) -> Any:
    async def access(
        project_id: str,
        request: Request,
        session: SessionDep,
        runtime: AuthDep,
        bearer: str | None,
        cookie: str | None,
        api_key: str | None,
    ) -> ProjectContext:
        presented = api_key or (bearer if bearer and looks_like_key(bearer) else None)
        if presented is not None:
            key = await _verified_key(request, session, runtime, presented)
            project = await find_project(session, project_id)
            if project is None or key.project_id != project.id:
                raise ProjectNotFound()
            if key_scope is None or key_scope not in key.scopes:
                raise ApiKeyScopeMissing(
                    "This needs a signed-in member"
                    + (f" or a key with the {key_scope!r} scope." if key_scope else ".")
                )
            return ProjectContext(project, None, None, key)

        principal = await authenticate_request(request, runtime, bearer, cookie)
        user = await load_current_user(request, principal, session)
        project = await find_project(session, project_id)
        membership = None
        if project is not None:
            membership = await session.get(ProjectMember, (project.id, user.id))
        if project is None or membership is None:
            raise ProjectNotFound()
        member_role = ProjectRole(membership.role)
        if member_role.rank < role.rank:
            raise ProjectRoleRequired(f"This needs the {role.value} role or higher.")
        return ProjectContext(project, user, member_role, None)

    if key_scope is None:

        async def members_only(
            project_id: str,
            request: Request,
            session: SessionDep,
            runtime: AuthDep,
            bearer: Annotated[str | None, Depends(bearer_scheme)],
            cookie: Annotated[str | None, Depends(cookie_scheme)],
        ) -> ProjectContext:
            # No key scheme declared (keys are refused here), but a key sent anyway is
            # read, so its caller learns it needs a member (403), not "invalid token".
            api_key = request.headers.get(API_KEY_HEADER)
            return await access(project_id, request, session, runtime, bearer, cookie, api_key)

        return Depends(members_only)

    async def members_or_key(
        project_id: str,
        request: Request,
        session: SessionDep,
        runtime: AuthDep,
        bearer: Annotated[str | None, Depends(bearer_scheme)],
        cookie: Annotated[str | None, Depends(cookie_scheme)],
        api_key: Annotated[str | None, Depends(api_key_scheme)],
        _key_as_bearer: KeyAsBearer,  # declares the scheme; `bearer` holds the same value
    ) -> ProjectContext:
        return await access(project_id, request, session, runtime, bearer, cookie, api_key)

    return Depends(members_or_key)


def KeyAccess(scope: KeyScope) -> Any:
    """Routes without a project in the path: the API key names its project."""

    async def access(
        request: Request,
        session: SessionDep,
        runtime: AuthDep,
        api_key: Annotated[str | None, Depends(api_key_scheme)],
        bearer: KeyAsBearer,
    ) -> ProjectContext:
        as_bearer = bearer.credentials if bearer is not None else None
        presented = api_key or (as_bearer if as_bearer and looks_like_key(as_bearer) else None)
        if presented is None:
            raise InvalidApiKey("Send a project API key as X-API-Key or Bearer pl_….")
        key = await _verified_key(request, session, runtime, presented)
        if scope not in key.scopes:
            raise ApiKeyScopeMissing(f"This needs a key with the {scope.value!r} scope.")
        project = await session.get(Project, key.project_id)
        if project is None:
            raise InvalidApiKey()
        return ProjectContext(project, None, None, key)

    return Depends(access)


ProjectViewer = Annotated[ProjectContext, ProjectAccess(ProjectRole.VIEWER)]
ProjectReader = Annotated[
    ProjectContext, ProjectAccess(ProjectRole.VIEWER, key_scope=KeyScope.READ)
]
ProjectMaintainer = Annotated[ProjectContext, ProjectAccess(ProjectRole.MAINTAINER)]
ProjectOwner = Annotated[ProjectContext, ProjectAccess(ProjectRole.OWNER)]
ProjectIngest = Annotated[
    ProjectContext, ProjectAccess(ProjectRole.MAINTAINER, key_scope=KeyScope.INGEST)
]
IngestKey = Annotated[ProjectContext, KeyAccess(KeyScope.INGEST)]

# Every project-scoped route can answer these (see ProjectAccess).
SCOPED = (ProjectNotFound, ProjectRoleRequired, InvalidApiKey, ApiKeyScopeMissing)
