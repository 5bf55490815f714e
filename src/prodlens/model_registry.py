"""Imports every model so `Base.metadata` is complete (Alembic autogenerate, tests)."""

from prodlens.analytics.models import (
    Commit,
    DailyRollup,
    DailySketch,
    Event,
    HourlyRollup,
    HourlySketch,
    LlmSession,
    PullRequest,
    WebhookDelivery,
)
from prodlens.audit.models import AuditEvent
from prodlens.auth.models import AuthSession, OneTimeToken, RefreshToken, User
from prodlens.projects.models import ApiKey, Project, ProjectMember, WorkItem, WorkItemLabel
from prodlens.ratelimit.models import Plan
from prodlens.system.models import SystemFlag

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "Commit",
    "DailyRollup",
    "DailySketch",
    "Event",
    "HourlyRollup",
    "HourlySketch",
    "LlmSession",
    "OneTimeToken",
    "Plan",
    "Project",
    "ProjectMember",
    "PullRequest",
    "RefreshToken",
    "SystemFlag",
    "User",
    "WebhookDelivery",
    "WorkItem",
    "WorkItemLabel",
]
