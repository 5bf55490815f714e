"""GitHub payloads (the fields we read, webhook and REST alike) and the API's bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from prodlens.kit.json_limits import sendable
from prodlens.kit.schemas import Strict


def _printable(value: str) -> str:
    # NUL and half a surrogate pair are valid JSON escapes that no database stores: drop
    # NUL and replace the half (U+FFFD) rather than fail the delivery. A JSON body gets
    # here with NUL alone (kit.input_limits refuses the rest); a form's `payload` with both.
    return sendable(value).replace("\x00", "")


Text = Annotated[str, AfterValidator(_printable)]
RepoFullName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
]


class _Payload(BaseModel):
    # GitHub sends far more than we read; unknown fields are ignored, never an error.
    model_config = ConfigDict(extra="ignore")


class _Timestamped(_Payload):
    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: object) -> object:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


class Repository(_Payload):
    full_name: RepoFullName


class GitUser(_Payload):
    name: Text | None = None
    email: Text | None = None
    username: Text | None = None  # the GitHub login, when the email belongs to an account
    date: datetime | None = None  # REST commits only


class PushCommit(_Timestamped):
    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")]
    message: Text = ""
    timestamp: datetime
    author: GitUser | None = None


class PushPayload(_Payload):
    repository: Repository
    commits: list[PushCommit] = Field(default_factory=list, max_length=5000)


class Account(_Payload):
    login: Text


class PullRequestData(_Timestamped):
    """A pull request as both the webhook and `GET /repos/{repo}/pulls` describe it."""

    number: int = Field(ge=1, le=2**31 - 1)
    title: Text = ""
    user: Account | None = None
    state: Literal["open", "closed"]
    merged: bool | None = None  # webhook only; the REST list has merged_at alone
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    merged_at: datetime | None = None

    @property
    def status(self) -> str:
        if self.merged or self.merged_at is not None:
            return "merged"
        return self.state


class PullRequestPayload(_Payload):
    action: Annotated[str, StringConstraints(max_length=64)]
    repository: Repository
    pull_request: PullRequestData


class RestCommitDetail(_Payload):
    message: Text = ""
    author: GitUser | None = None
    committer: GitUser | None = None


class RestCommit(_Payload):
    """One item of `GET /repos/{repo}/commits`."""

    sha: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")]
    commit: RestCommitDetail
    author: Account | None = None  # null when the commit email has no GitHub account


# --- API bodies ---------------------------------------------------------------------------


class WebhookResult(BaseModel):
    status: Literal["processed", "duplicate", "ignored", "pong"] = Field(
        description="`duplicate`: this delivery id was processed before; nothing changed."
    )
    event: str
    delivery_id: str | None = None
    commits_new: int = Field(0, description="Commits stored by this delivery (push).")
    pull_request: int | None = Field(None, description="Number of the pull request updated.")


class WebhookSecretSet(Strict):
    secret: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=16, max_length=256)]
        | None
    ) = Field(
        None,
        description="The webhook secret to use; leave out to have a random one generated.",
    )


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    delivery_id: str
    event: str
    received_at: datetime


class GitHubIntegration(BaseModel):
    configured: bool = Field(description="A webhook secret is set.")
    secret_usable: bool = Field(
        description="The stored secret can be decrypted. False after PRODLENS_SECRET_KEY "
        "changed: set a new secret (and update it on GitHub)."
    )
    secret_set_at: datetime | None
    webhook_url: str
    content_type: str = "application/json"
    events: list[str]
    repos: list[str] = Field(description="Deliveries are accepted for these repositories.")
    last_delivery: DeliveryPublic | None


class GitHubIntegrationCreated(GitHubIntegration):
    secret: str = Field(description="The webhook secret: shown in this response only.")


# --- GitHub Copilot usage metrics ---------------------------------------------------------

GitHubAccountName = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
]


class CopilotIntegrationSet(Strict):
    organization: GitHubAccountName | None = Field(
        None, description="The organization whose per-user reports are fetched."
    )
    enterprise: GitHubAccountName | None = Field(
        None, description="Or the enterprise (its slug): one of the two."
    )
    token: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=20, max_length=512)
    ] = Field(
        description="A token that may read Copilot metrics (fine-grained: the "
        "organization's or enterprise's Copilot metrics permission, read; classic: "
        "`manage_billing:copilot` or `read:org` / `read:enterprise`). Stored encrypted, "
        "never shown again."
    )

    @model_validator(mode="after")
    def _one_account(self) -> CopilotIntegrationSet:
        if (self.organization is None) == (self.enterprise is None):
            raise ValueError("name exactly one of `organization` and `enterprise`")
        return self


class CopilotIntegration(BaseModel):
    configured: bool = Field(description="A token and an account are set.")
    organization: str | None
    enterprise: str | None
    token_usable: bool = Field(
        description="The stored token can be decrypted. False after PRODLENS_SECRET_KEY "
        "changed: set the token again."
    )
    token_set_at: datetime | None
    last_fetched_day: date | None = Field(description="The latest day fetched and stored.")
    last_fetch_at: datetime | None
    last_error: str | None = Field(description="Why the last fetch stopped, if it did.")
    fetch_interval_minutes: int = Field(
        description="How often `prodlens serve` fetches (0: only `prodlens copilot fetch`)."
    )
