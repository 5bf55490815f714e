"""S34: GitHub webhook signatures are required and verified; a replayed delivery changes
nothing; hostile bodies are refused with a 4xx."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.harness import Harness
from tests.integrations.helpers import (
    commit,
    deliver,
    github_project,
    new_delivery_id,
    push_payload,
    signature,
)

REPO = "acme/web"
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def _counts(h: Harness) -> tuple[int, int]:
    (commits,) = await h.sql("SELECT count(*) FROM commits")
    (deliveries,) = await h.sql("SELECT count(*) FROM webhook_deliveries")
    return commits[0], deliveries[0]


async def test_s34_webhook_signatures(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])
    payload = push_payload(REPO, [commit("a" * 40, "Signed", AT)])
    body = json.dumps(payload).encode()

    missing = await deliver(harness, "push", body, secret=None)
    wrong_key = await deliver(harness, "push", body, secret="not-the-project-secret-000")
    tampered = await deliver(
        harness,
        "push",
        body.replace(b"Signed", b"Forged"),
        secret=None,
        signature_header=signature(project.secret, body),
    )
    not_hex = await deliver(harness, "push", body, secret=None, signature_header="sha256=zz")
    sha1_only = await deliver(
        harness, "push", body, secret=None, signature_header="sha1=" + "0" * 40
    )
    unknown_repo = await deliver(
        harness,
        "push",
        push_payload("acme/secret-plans", [commit("b" * 40, "Probe", AT)]),
        secret=project.secret,
    )
    refused = [missing, wrong_key, tampered, not_hex, sha1_only, unknown_repo]
    for response in refused:
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "github.invalid_signature"
    # An unknown repository looks exactly like a bad signature: nothing is revealed.
    strip = {"correlation_id", "instance"}
    bodies = [{k: v for k, v in r.json().items() if k not in strip} for r in refused]
    assert all(body == bodies[0] for body in bodies)
    assert await _counts(harness) == (0, 0)

    delivery_id = new_delivery_id()
    first = await deliver(harness, "push", body, secret=project.secret, delivery_id=delivery_id)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "processed"
    assert await _counts(harness) == (1, 1)

    # The same delivery again (a replay, or GitHub's "Redeliver"): 200, nothing changes,
    # even when it carries commits the first one did not.
    more = push_payload(REPO, [commit("a" * 40, "Signed", AT), commit("c" * 40, "New", AT)])
    for replay in (body, json.dumps(more).encode()):
        again = await deliver(
            harness, "push", replay, secret=project.secret, delivery_id=delivery_id
        )
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "duplicate"
    assert await _counts(harness) == (1, 1)
    assert await harness.sql("SELECT sha FROM commits") == [("a" * 40,)]


async def test_s34_a_verified_delivery_needs_its_delivery_id(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])
    body = json.dumps(push_payload(REPO, [commit("a" * 40, "x", AT)])).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature(project.secret, body),
    }
    response = await harness.client.post(
        "/api/v1/integrations/github/webhook", content=body, headers=headers
    )
    assert response.status_code == 400
    assert response.json()["code"] == "github.missing_header"
    assert await _counts(harness) == (0, 0)


async def test_s36_hostile_webhook_bodies_get_4xx(harness: Harness) -> None:
    project = await github_project(harness, repos=[REPO])
    deep = b"[" * 100_000 + b"]" * 100_000
    huge_number = b'{"repository": {"full_name": "acme/web"}, "n": ' + b"9" * 5000 + b"}"
    nul = json.dumps(
        push_payload(REPO, [commit("d" * 40, "Nul \x00 inside", AT, name="Eve\x00")])
    ).encode()
    bodies = [b"\xff\xfe not utf-8", b"\x00\x00", deep, huge_number, b"", b"[]", b"null"]
    for body in bodies:
        response = await deliver(harness, "push", body, secret=project.secret)
        assert 400 <= response.status_code < 500, (body[:20], response.text)
    # Signed but odd: NUL characters are dropped, not a database error.
    stored = await deliver(harness, "push", nul, secret=project.secret)
    assert stored.status_code == 200, stored.text
    assert await harness.sql("SELECT message FROM commits") == [("Nul  inside",)]
    no_event = await harness.client.post(
        "/api/v1/integrations/github/webhook", content=b"{}", headers={}
    )
    assert no_event.status_code == 400
