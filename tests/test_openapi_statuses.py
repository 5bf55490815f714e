"""Every status an operation can answer is declared in OpenAPI (issue 17, item 8: 400
was undeclared on 18 body-taking operations, 422 on login), as a problem document.

The statuses middleware and body reading answer on every operation come from
`prodlens.openapi` (EVERY_OPERATION, EVERY_API_OPERATION, EVERY_BODY_OPERATION);
tests/http/test_hostile_input.py checks each answer it provokes against the
operation's declared responses."""

from __future__ import annotations

from typing import Any

import httpx

from prodlens.openapi import EVERY_API_OPERATION, EVERY_BODY_OPERATION, EVERY_OPERATION

METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_operation_declares_what_anything_before_its_route_answers(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/api/v1/openapi.json")).json()
    operations = _operations(document)
    with_body = 0
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        expected = dict(EVERY_OPERATION)
        if path.startswith("/api/"):
            expected |= EVERY_API_OPERATION
        if "requestBody" in operation:
            with_body += 1
            expected |= EVERY_BODY_OPERATION
        responses = operation["responses"]
        for status, codes in expected.items():
            assert status in responses, f"{where}: {status} undeclared"
            declared = responses[status]
            assert declared["content"]["application/problem+json"]["schema"] == PROBLEM, where
            for code in codes:
                assert f"`{code}`" in declared["description"], f"{where} {status}: {code}"
        # A route's own problems stay listed beside the ones added.
        for status, declared in responses.items():
            if status.startswith(("4", "5")):
                assert "application/problem+json" in declared.get("content", {}), where
    assert with_body > 30


async def test_the_issue_s_operations_declare_their_answers(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    login = paths["/api/v1/auth/login"]["post"]["responses"]
    assert {"400", "408", "413", "415", "422"} <= login.keys()
    assert "`request.too_deep`" in login["400"]["description"]
    register = paths["/api/v1/auth/register"]["post"]["responses"]
    assert "`request.malformed_json`" in register["400"]["description"]
    # Codes the route declared for a status are kept when more are added.
    users = paths["/api/v1/users"]["get"]["responses"]["422"]["description"]
    assert "`pagination.invalid_sort`" in users
    assert "`validation.failed`" in users
    otlp = paths["/api/v1/ingest/otlp/v1/traces"]["post"]["responses"]["400"]["description"]
    assert "`ingest.invalid_otlp`" in otlp
    assert "`request.too_deep`" in otlp
    # Outside the API, only what can happen there.
    assert set(paths["/health/live"]["get"]["responses"]) == {
        "200",
        "400",
        "500",
    }  # an unparsable request, a bug
