from __future__ import annotations

from prodlens.kit.errors import NotFound, ProblemError


class ProjectNotFound(NotFound):
    code, title = "projects.not_found", "No such project"


class ProjectRoleRequired(ProblemError):
    status, code, title = 403, "projects.role_required", "Your project role does not allow this"


class SlugTaken(ProblemError):
    status, code, title = 409, "projects.slug_taken", "Project slug already in use"


class LastOwner(ProblemError):
    status, code, title = 409, "projects.last_owner", "A project keeps at least one owner"


class AlreadyMember(ProblemError):
    status, code, title = 409, "projects.already_member", "Already a member"


class MemberNotFound(NotFound):
    code, title = "projects.member_not_found", "No such member"


class UserToAddNotFound(NotFound):
    code, title = "projects.user_not_found", "No account with that username or email"


class ItemNotFound(NotFound):
    code, title = "items.not_found", "No such work item"


class InvalidAssignee(ProblemError):
    status, code, title = 422, "items.invalid_assignee", "The assignee is not a project member"


class ApiKeyNotFound(NotFound):
    code, title = "api_keys.not_found", "No such API key"


class InvalidApiKey(ProblemError):
    status, code, title = 401, "api_keys.invalid", "Invalid or revoked API key"


class ApiKeyScopeMissing(ProblemError):
    status, code, title = 403, "api_keys.scope_missing", "The API key lacks the scope this needs"
