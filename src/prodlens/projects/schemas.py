"""Bodies of the project, member, work item and API key routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from prodlens.auth.models import User
from prodlens.kit.schemas import Strict
from prodlens.projects.models import ProjectMember, ProjectRole

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
RepoName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
]
ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)
]
RoleName = Literal["owner", "maintainer", "viewer"]
StatusName = Literal["active", "archived"]
ItemStatusName = Literal["open", "in_progress", "done"]
ScopeName = Literal["ingest", "read"]


class ProjectCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    slug: Slug | None = Field(None, description="Default: derived from the name.")
    description: str = Field("", max_length=5000)
    repos: list[RepoName] = Field(default_factory=list, max_length=50)
    allowed_models: list[ModelName] = Field(default_factory=list, max_length=100)


class ProjectUpdate(Strict):
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    slug: Slug | None = None
    description: str | None = Field(None, max_length=5000)
    status: StatusName | None = None
    repos: list[RepoName] | None = Field(None, max_length=50)
    allowed_models: list[ModelName] | None = Field(None, max_length=100)


class ProjectPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    slug: str
    description: str
    status: str
    repos: list[str]
    allowed_models: list[str]
    created_at: datetime
    updated_at: datetime
    role: RoleName | None = Field(None, description="The caller's role in the project.")


class ProjectSummary(BaseModel):
    projects: int
    by_status: dict[str, int]
    by_role: dict[str, int]
    members: int = Field(description="Distinct members across the caller's projects.")
    open_items: int


class MemberAdd(Strict):
    user: str = Field(min_length=1, max_length=320, description="Username or email.")
    role: RoleName = "viewer"


class MemberUpdate(Strict):
    role: RoleName


class MemberPublic(BaseModel):
    user_id: str
    username: str
    display_name: str
    role: RoleName
    added_at: datetime

    @classmethod
    def of(cls, member: ProjectMember, user: User) -> MemberPublic:
        return cls(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=ProjectRole(member.role).value,
            added_at=member.added_at,
        )


class ItemCreate(Strict):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: str = Field("", max_length=20000)
    status: ItemStatusName = "open"
    assignee_id: str | None = None
    labels: list[Label] = Field(default_factory=list, max_length=20)
    linked_pr: int | None = Field(None, ge=1, le=2_147_483_647)

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[str]) -> list[str]:
        return sorted(set(labels))


class ItemUpdate(Strict):
    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    description: str | None = Field(None, max_length=20000)
    status: ItemStatusName | None = None
    assignee_id: str | None = None
    labels: list[Label] | None = Field(None, max_length=20)
    linked_pr: int | None = Field(None, ge=1, le=2_147_483_647)

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[str] | None) -> list[str] | None:
        return None if labels is None else sorted(set(labels))


class ItemPublic(BaseModel):
    id: str
    project_id: str
    title: str
    description: str
    status: ItemStatusName
    assignee_id: str | None
    labels: list[str]
    linked_pr: int | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    done_at: datetime | None
    cycle_time_hours: float | None = Field(
        description="Done items: hours from start (or creation, if never started) to done."
    )


class ApiKeyCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: list[ScopeName] = Field(min_length=1)


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    scopes: list[ScopeName]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret key. Shown this once; store it now.")
