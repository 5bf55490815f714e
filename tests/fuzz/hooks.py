"""Schemathesis hooks for the fuzz run, loaded by `st run` (config `hooks = "tests.fuzz.hooks"`).

They keep the run's own account, project, key and service alive, and change nothing
else: a case that would destroy one of them is sent at an id that does not exist
instead (so the operation is still exercised, answering 404), and a switch into
maintenance mode becomes a switch out of it. The list and the reasons are in the
docstring of tests/fuzz/test_schemathesis.py.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import schemathesis

# Set by the test for the `st run` process: a JSON object whose values are the protected ids.
PROTECTED_ENV = "FUZZ_PROTECTED"

# (method, path, path parameter) whose value must not be one of the run's own ids.
GUARDED = {
    ("DELETE", "/api/v1/projects/{project_id}", "project_id"),
    ("DELETE", "/api/v1/projects/{project_id}/api-keys/{key_id}", "key_id"),
    # Once the run has made a second admin, it may delete its own.
    ("DELETE", "/api/v1/users/{user_id}", "user_id"),
}
# ... or demote or deactivate it.
USER_UPDATE = ("PATCH", "/api/v1/users/{user_id}")
MAINTENANCE = ("PUT", "/api/v1/admin/maintenance")


def _protected() -> set[str]:
    return {str(value) for value in json.loads(os.environ.get(PROTECTED_ENV, "{}")).values()}


PROTECTED = _protected()


def keep_fixtures(
    method: str,
    path: str,
    path_parameters: dict[str, Any],
    body: Any,
    protected: set[str] = PROTECTED,
) -> tuple[dict[str, Any], Any]:
    """The path parameters and body to send instead, so the run keeps what it needs."""
    method = method.upper()
    parameters = dict(path_parameters)

    def is_protected(name: str) -> bool:
        value = parameters.get(name)  # a negative case may hold a list or an object here
        return isinstance(value, str) and value in protected

    for guarded_method, guarded_path, name in GUARDED:
        if (method, path) == (guarded_method, guarded_path) and is_protected(name):
            parameters[name] = str(uuid.uuid4())
    if (
        (method, path) == USER_UPDATE
        and is_protected("user_id")
        and isinstance(body, dict)
        and (body.get("role") == "user" or body.get("is_active") is False)
    ):
        parameters["user_id"] = str(uuid.uuid4())
    if (method, path) == MAINTENANCE and isinstance(body, dict) and body.get("enabled") is True:
        # Maintenance mode would answer 503 to everything after it.
        body = {**body, "enabled": False}
    return parameters, body


@schemathesis.hook
def map_case(
    context: schemathesis.HookContext, case: schemathesis.Case[Any]
) -> schemathesis.Case[Any]:
    operation = context.operation
    if operation is None:
        return case
    parameters, body = keep_fixtures(
        operation.method, operation.path, case.path_parameters or {}, case.body
    )
    case.path_parameters = parameters
    case.body = body
    return case
