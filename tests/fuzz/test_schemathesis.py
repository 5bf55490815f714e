"""Schemathesis against a running `prodlens serve`: every operation, every phase, both backends.

`st run` (a subprocess, so its report is the CLI's own: each failure with the check,
the response and a curl that reproduces it) tests the served OpenAPI document against
a real server on SQLite and on PostgreSQL + Redis, in all its phases: examples,
coverage (deterministic boundary and invalid values for every parameter and body
field, plus unexpected methods), fuzzing (random cases, shrunk on failure) and
stateful (sequences that feed one response into the next request, along the links
Schemathesis infers from the schemas and `Location` headers plus `EXTRA_LINKS` below).

Credentials: an admin made with `prodlens create-admin` (so the admin-only operations
are tested past their 403). Its access token comes from `POST /api/v1/auth/login`,
and a 401 makes Schemathesis sign in again and replay the request once, so the run
may sign itself out (logout, logout-all, revoking a session) and go on. A project API
key with the `ingest` and `read` scopes serves both key schemes (`X-API-Key` and
`Authorization: Bearer pl_…`).

It fails on any 5xx, any response not matching its schema, any status or header
the document does not declare for the operation, a wrong `Content-Type`, a wrong
`Allow` on 405, an operation that accepts a request without its credentials, a
deleted resource still answering; on any error logged by the server; on an
operation that answers only 401/403 (the run lost its credentials) or 429 (the
run hit a limit); and when the run's account, project or key is gone afterwards.
Checks left out, and why:
- `positive_data_acceptance`: schema-valid requests are rightly refused for reasons
  a schema cannot state (a password the policy finds weak, an unknown one-time
  token, a wrong current password, a GitHub delivery without its event header).
- `negative_data_rejection`: ingest answers 200 with each invalid item rejected and
  its reason in `results`, by design, rather than refusing the batch; an OTLP export
  without a body is answered 200; and Pydantic's lax mode takes `0` for `false` and
  a number for a date. `FUZZ_STRICT=1` turns both back on, for the list.
- `max_response_time`: a loaded CI machine says nothing about the API here.
- `object_level_authorization`: needs a second identity; tests/security/test_isolation.py.

The fuzz server's settings (`SERVER_ENV`): every rate limit at 1,000,000/minute and the
lockout threshold at 1,000,000, so the run is neither answered 429 nor locked out
(the limits are tested in tests/security and tests/ratelimit); argon2 at its lowest
cost, so the budget goes to the API rather than to hashing; the Copilot fetch off
and pointed at a closed local port.

Excluded or changed, narrowly, so the run keeps what every later case needs
(tests/fuzz/hooks.py; the operations themselves are all still tested):
- `DELETE /projects/{project_id}` and `DELETE /projects/{project_id}/api-keys/{key_id}`
  at the run's own project or key, `DELETE /users/{user_id}` at the run's admin and a
  `PATCH /users/{user_id}` demoting or deactivating it: sent at a random id instead (404).
- `PUT /admin/maintenance` with `enabled: true`: sent as `false` (maintenance mode
  would answer 503 to everything after it).
- `POST /projects/{project_id}/ingest/…` (events, litellm, otlp) skip the coverage
  phase: each is the same handler and body as `POST /ingest/…`, which has it (the
  native events' coverage alone is a fifth of the run).
- `use_after_free` is off for `GET …/integrations/copilot` and `…/github`: an
  integration's settings are a singleton that answers `configured: false` after DELETE.
- The stateful phase has no link into `DELETE /auth/sessions/{session_id}` (it would
  revoke the run's own session, and only single requests re-authenticate); that
  operation is tested with unknown ids.
- In the document given to Schemathesis, the access token's scheme is the HTTP bearer
  it is on the wire (the served document calls it OAuth2 password flow, which is how
  `/docs` signs in; Schemathesis tests credential enforcement for `http` and
  `apiKey` schemes only).

Budget: a fixed seed; the coverage phase is deterministic (about 4,100 cases),
fuzzing makes `FUZZ_MAX_EXAMPLES` cases per operation (5: about 450), stateful
`FUZZ_STATEFUL_SCENARIOS` scenarios (30 at most) of at most `FUZZ_STATEFUL_STEPS`
steps (10): about 4,700 cases per backend, 1.5 minutes on SQLite and 2 on PostgreSQL
with both running side by side on a loaded two-core machine (coverage is four fifths
of it). One `st` worker: two threads of it hit a CPython 3.11 race in `ast.parse`
(gh-106905) through Hypothesis. A bigger run, for example before a release (see
CONTRIBUTING.md for the variables; each run's whole output is kept in its pytest
temporary directory as st-output.txt):

    FUZZ_MAX_EXAMPLES=100 FUZZ_STATEFUL_SCENARIOS=300 FUZZ_STATEFUL_STEPS=20 \\
      FUZZ_SEED=$RANDOM FUZZ_DEADLINE_S=7200 .venv/bin/pytest -m fuzz -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Services, pg_admin
from tests.e2e.server import HTTP_TIMEOUT_S, PASSWORD, Server, running_server
from tests.fuzz.hooks import PROTECTED_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

SEED = int(os.environ.get("FUZZ_SEED", "20261117"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "5"))
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_STATEFUL_SCENARIOS", "30"))
STATEFUL_STEPS = int(os.environ.get("FUZZ_STATEFUL_STEPS", "10"))
STRICT = os.environ.get("FUZZ_STRICT") == "1"  # also the two data-acceptance checks
RUN_DEADLINE_S = float(os.environ.get("FUZZ_DEADLINE_S", "900"))  # only a hung run reaches it
USERNAME = "fuzz-admin"

# The fuzz server's own limits: raised so the run is not answered 429 or locked out
# (the limits themselves are tested in tests/security and tests/ratelimit).
SERVER_ENV = {
    **{
        f"PRODLENS_RATE_LIMITS__{name}": "1000000/minute"
        for name in (
            "GENERAL",
            "LOGIN_IP",
            "LOGIN_IDENTIFIER",
            "PASSWORD_RESET",
            "REGISTRATION",
            "REFRESH",
            "INGEST",
        )
    },
    "PRODLENS_AUTH__LOCKOUT_THRESHOLD": "1000000",
    # Hashing at the policy's cost would spend the budget on argon2, not on the API.
    "PRODLENS_AUTH__ARGON2_MEMORY_KIB": "1024",
    "PRODLENS_AUTH__ARGON2_TIME_COST": "1",
    # A Copilot integration the run configures must never reach out of this machine.
    "PRODLENS_COPILOT__FETCH_INTERVAL_MINUTES": "0",
    "PRODLENS_COPILOT__API_URL": "http://127.0.0.1:9",
}


@dataclass(frozen=True)
class Fixture:
    """What the run authenticates with and works on."""

    user_id: str
    project_id: str
    key_id: str
    key: str


def _server_env(workdir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PRODLENS_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/var/e2e.db",
            "PRODLENS_DATA_DIR": str(workdir / "var"),
        }
    )
    environment.update(extra)
    return environment


def _create_admin(workdir: Path, env: Mapping[str, str]) -> None:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "prodlens",
            "create-admin",
            "--email",
            f"{USERNAME}@example.com",
            "--username",
            USERNAME,
            "--password-stdin",
        ],
        input=PASSWORD.encode(),
        cwd=workdir,
        env=_server_env(workdir, env),
        capture_output=True,
        timeout=HTTP_TIMEOUT_S * 2,
        check=False,
    )
    assert created.returncode == 0, created.stderr.decode(errors="replace")


def _seed(base_url: str) -> Fixture:
    """Sign in, make a project with a key and some events, as an admin would."""
    with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S) as client:
        login = client.post("/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        me = client.get("/api/v1/auth/me", headers=headers).json()
        project = client.post("/api/v1/projects", json={"name": "Fuzzed"}, headers=headers)
        assert project.status_code == 201, project.text
        project_id = str(project.json()["id"])
        key = client.post(
            f"/api/v1/projects/{project_id}/api-keys",
            json={"name": "fuzz", "scopes": ["ingest", "read"]},
            headers=headers,
        )
        assert key.status_code == 201, key.text
        start = datetime.now(UTC) - timedelta(days=3)
        events = [
            {
                "event_id": f"seed-{n}",
                "session_id": f"s-{n // 4}",
                "developer_id": f"dev-{n % 3}",
                "started_at": (start + timedelta(minutes=17 * n)).isoformat(),
                "ended_at": (start + timedelta(minutes=17 * n, seconds=2)).isoformat(),
                "provider": "openai",
                "request_model": "gpt-4o",
                "response_model": "gpt-4o",
                "input_tokens": 100 + n,
                "output_tokens": 20 + n,
            }
            for n in range(40)
        ]
        ingested = client.post(
            f"/api/v1/projects/{project_id}/ingest/events",
            json=events,
            headers={"X-API-Key": key.json()["key"]},
        )
        assert ingested.status_code == 200, ingested.text
        return Fixture(str(me["id"]), project_id, str(key.json()["id"]), str(key.json()["key"]))


def _toml(value: Any) -> str:
    return json.dumps(value)  # JSON strings, numbers and booleans are TOML too


def _config(fixture: Fixture, report: Path) -> str:
    login = f"{{ username = {_toml(USERNAME)}, password = {_toml(PASSWORD)} }}"
    return f"""
seed = {SEED}
hooks = "tests.fuzz.hooks"
workers = 1
request-timeout = {HTTP_TIMEOUT_S}

[generation]
max-examples = {MAX_EXAMPLES}
database = "none"

[phases.stateful]
max-steps = {STATEFUL_STEPS}

[phases.stateful.generation]
max-examples = {STATEFUL_SCENARIOS}

[checks]
positive_data_acceptance.enabled = {_toml(STRICT)}
negative_data_rejection.enabled = {_toml(STRICT)}

[warnings]
fail-on = ["missing_auth", "unused_openapi_auth", "rate_limited", "unmatched_filter"]

[auth.dynamic.openapi.bearer]
path = "/api/v1/auth/login"
payload = {login}
extract_selector = "/access_token"

[auth.openapi.api_key]
api_key = {_toml(fixture.key)}

[auth.openapi.api_key_bearer]
bearer = {_toml(fixture.key)}

[reports.json]
path = {_toml(str(report))}

# Each ingest door answers at a project's path and at a key's: one handler, one body
# schema. The key's is covered (the native one alone is a fifth of all cases); the
# project's is fuzzed and stateful.
[[operations]]
include-operation-id = [
    "ingest_events",
    "ingest_litellm",
    "ingest_otlp_logs",
    "ingest_otlp_metrics",
    "ingest_otlp_traces",
]
phases.coverage.enabled = false

# An integration's settings are a singleton: after DELETE, GET answers its unconfigured
# state (`configured: false`), which is not a deleted resource still served.
[[operations]]
include-operation-id = ["get_copilot_integration", "get_github_integration"]
checks.use_after_free.enabled = false
"""


# Links the stateful phase follows on top of those Schemathesis infers (from response
# schemas and `Location` headers), for the pairs its inference misses: what a create or
# list answers is what these take. (producer path, method, status, target operationId,
# parameters)
EXTRA_LINKS: list[tuple[str, str, str, str, dict[str, str]]] = [
    (
        "/api/v1/projects/{project_id}/items",
        "post",
        "201",
        "delete_item",
        {"project_id": "$request.path.project_id", "item_id": "$response.body#/id"},
    ),
    (
        "/api/v1/projects/{project_id}/api-keys",
        "post",
        "201",
        "revoke_api_key",
        {"project_id": "$request.path.project_id", "key_id": "$response.body#/id"},
    ),
    (
        "/api/v1/projects/{project_id}/developers/{developer_id}/identities",
        "post",
        "201",
        "unlink_developer_identity",
        {
            "project_id": "$request.path.project_id",
            "developer_id": "$request.path.developer_id",
            "link_id": "$response.body#/id",
        },
    ),
    ("/api/v1/users", "post", "201", "delete_user", {"user_id": "$response.body#/id"}),
    (
        "/api/v1/projects/{project_id}/members",
        "post",
        "201",
        "remove_member",
        {"project_id": "$request.path.project_id", "user_id": "$response.body#/user_id"},
    ),
    (
        "/api/v1/projects/{project_id}/members",
        "post",
        "201",
        "change_member_role",
        {"project_id": "$request.path.project_id", "user_id": "$response.body#/user_id"},
    ),
    (
        "/api/v1/projects/{project_id}/developers",
        "get",
        "200",
        "get_developer_profile",
        {
            "project_id": "$request.path.project_id",
            "developer_id": "$response.body#/items/0/developer_id",
        },
    ),
    (
        "/api/v1/projects/{project_id}/sessions",
        "get",
        "200",
        "get_llm_session",
        {
            "project_id": "$request.path.project_id",
            "session_id": "$response.body#/items/0/session_id",
        },
    ),
]


def _schema(base_url: str, path: Path) -> None:
    """The served OpenAPI document, as Schemathesis needs it to test everything it says.

    The access token's scheme becomes the HTTP bearer it is on the wire (the document
    calls it OAuth2, password flow, which is how `/docs` offers a sign-in): Schemathesis
    checks that an operation refuses a request without its credentials only for
    `http` and `apiKey` schemes. And the links above are added.
    """
    document = httpx.get(f"{base_url}/api/v1/openapi.json", timeout=HTTP_TIMEOUT_S).json()
    schemes = document["components"]["securitySchemes"]
    schemes["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    for producer, method, status, target, parameters in EXTRA_LINKS:
        response = document["paths"][producer][method]["responses"][status]
        response.setdefault("links", {})[target] = {
            "operationId": target,
            "parameters": parameters,
        }
    path.write_text(json.dumps(document))


def _still_usable(base_url: str, fixture: Fixture) -> None:
    """The run kept its credentials: otherwise its second half tested only 401s."""
    with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S) as client:
        login = client.post("/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD})
        assert login.status_code == 200, f"the run lost its account: {login.text}"
        project = client.get(
            f"/api/v1/projects/{fixture.project_id}", headers={"X-API-Key": fixture.key}
        )
        assert project.status_code == 200, f"the run lost its project or key: {project.text}"


def _logged_errors(log: str) -> list[str]:
    """Error lines of the server's JSON log: an unhandled exception is a bug even when
    the client saw no 5xx (it went away first, or the error was in work after the answer)."""
    errors = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line:
                errors.append(line)
            continue
        if isinstance(entry, dict) and entry.get("level") in {"error", "critical"}:
            errors.append(line[:2000])
    return errors


def _failure_report(output: str, limit: int = 30_000) -> str:
    """The CLI's failures (each with a curl to reproduce it) and its summary."""
    start = output.find("=== FAILURES ===")
    start = output.rfind("\n", 0, start) + 1 if start >= 0 else 0
    report = output[start:]
    if len(report) > limit:
        summary = report[report.find("=== SUMMARY ===") - 40 :]
        cut = "\n[… cut; the whole output is in st-output.txt]\n"
        report = f"{report[: limit - len(summary)]}{cut}{summary}"
    return report


def run_schemathesis(server: Server, workdir: Path) -> None:
    fixture = _seed(server.base_url)
    schema = workdir / "openapi.json"
    _schema(server.base_url, schema)
    config = workdir / "schemathesis.toml"
    report_path = workdir / "st-report.json"
    config.write_text(_config(fixture, report_path))
    st = Path(sys.executable).with_name("st")
    environment = {
        **os.environ,
        PROTECTED_ENV: json.dumps(
            {"user": fixture.user_id, "project": fixture.project_id, "key": fixture.key_id}
        ),
        # `st` imports the hooks as `tests.fuzz.hooks`.
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    output_path = workdir / "st-output.txt"
    started = time.monotonic()
    command = [str(st), "--config-file", str(config), "--no-color", "run", str(schema)]
    with output_path.open("wb") as output_file:
        process = subprocess.Popen(
            [*command, "--url", server.base_url],
            cwd=workdir,
            env=environment,
            stdout=output_file,
            stderr=subprocess.STDOUT,
        )
        try:
            returncode = process.wait(timeout=RUN_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(
                f"st run did not finish in {RUN_DEADLINE_S:g} s; its output so far:\n"
                + _failure_report(output_path.read_text(errors="replace"))
            ) from None
    elapsed = time.monotonic() - started
    output = output_path.read_text(errors="replace")
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    cases = report.get("test_cases", {}).get("generated")
    # Shown with `pytest -s` or `-rP`: what the budget bought.
    print(f"schemathesis: {cases} cases in {elapsed:.0f} s (seed {SEED})")
    assert server.process.poll() is None, server.failure("the server died during the run")
    assert returncode == 0, _failure_report(output)
    errors = _logged_errors(server.output())
    assert not errors, "the server logged errors:\n" + "\n".join(errors)
    _still_usable(server.base_url, fixture)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, env=SERVER_ENV) as server:
        _create_admin(tmp_path, SERVER_ENV)
        yield server


@pytest.fixture
def postgres_server(tmp_path: Path, shared_services: Services) -> Iterator[Server]:
    env = {
        **SERVER_ENV,
        "DATABASE_URL": shared_services.database_url,
        "REDIS_URL": shared_services.redis_url,
        "PRODLENS_REDIS__KEY_PREFIX": shared_services.key_prefix,
    }
    # Durability is not under test here; waiting for each commit's flush to disk only
    # slows the ingest cases on a busy machine.
    database = make_url(shared_services.database_url).database
    pg_admin(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    with running_server(tmp_path, env=env) as server:
        _create_admin(tmp_path, env)
        yield server


def test_every_operation_holds_up_on_sqlite(sqlite_server: Server, tmp_path: Path) -> None:
    run_schemathesis(sqlite_server, tmp_path)


def test_every_operation_holds_up_on_postgres_and_redis(
    postgres_server: Server, tmp_path: Path
) -> None:
    run_schemathesis(postgres_server, tmp_path)
