"""A TypeScript client generated from the server's own document type-checks, and catches typos.

openapi-typescript (the dashboard's version, from web/node_modules) turns the
document that `prodlens openapi` prints into types; `tsc --strict` checks a file
that signs in, lists projects, reads KPIs and ingests with openapi-fetch, and
must refuse a file that misspells an ingest field.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
NPM_CI_TIMEOUT_S = 900.0
TOOL_TIMEOUT_S = 300.0

TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "lib": ["ES2022", "DOM"],
        "module": "ESNext",
        "moduleResolution": "bundler",
        "strict": True,
        "noEmit": True,
        "noUncheckedIndexedAccess": True,
        "skipLibCheck": False,  # the generated schema.d.ts is checked too
        "types": [],
    }
}

TOUR = """\
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type EventIn = components["schemas"]["EventIn"];

export async function tour(baseUrl: string, apiKey: string): Promise<number> {
  const api = createClient<paths>({ baseUrl });
  const login = await api.POST("/api/v1/auth/login", {
    body: { username: "ada", password: "violet-lantern-ocean-42", device_name: "tour" },
  });
  if (login.error) throw new Error(login.error.title);
  if (login.data.token_type !== "bearer") throw new Error("asked for a token, got cookies");
  const headers = { Authorization: `Bearer ${login.data.access_token}` };

  const projects = await api.GET("/api/v1/projects", {
    headers,
    params: { query: { page_size: 10, sort: "name" } },
  });
  const project = projects.data?.items[0];
  if (project === undefined) return 0;

  const report = await api.GET("/api/v1/projects/{project_id}/metrics", {
    headers,
    params: { path: { project_id: project.id }, query: { since: "2026-01-01T00:00:00Z" } },
  });
  const values: (number | null)[] = (report.data?.kpis ?? []).map((kpi) => kpi.value);

  const event: EventIn = {
    started_at: "2026-01-05T10:00:00Z",
    request_model: "gpt-4o",
    input_tokens: 120,
    output_tokens: 40,
    developer_id: "ada@example.com",
  };
  const keyHeaders = { "X-API-Key": apiKey };
  const one = await api.POST("/api/v1/ingest/events", { headers: keyHeaders, body: event });
  const many = await api.POST("/api/v1/ingest/events", { headers: keyHeaders, body: [event] });
  const batch = await api.POST("/api/v1/ingest/events", {
    headers: keyHeaders,
    body: { events: [event, { ...event, session_id: "s-1", accepted: true }] },
  });
  const accepted = [one, many, batch].map((answer) => answer.data?.summary.accepted ?? 0);
  return accepted.reduce((sum, count) => sum + count, 0) + values.length;
}
"""

# openapi-fetch infers `init`, so TypeScript checks excess properties of a body that is
# declared with the generated type (`satisfies`, an annotation) and of the body's own top
# level: both typos below must be errors (docs/api.md says so to client authors).
MISSPELLED = """\
import createClient from "openapi-fetch";
import type { paths } from "./schema";

type Ingest = paths["/api/v1/ingest/events"]["post"];
type IngestBody = Ingest["requestBody"]["content"]["application/json"];

export async function misspelled(apiKey: string): Promise<void> {
  const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });
  const headers = { "X-API-Key": apiKey };
  const batch = { events: [{ started_at: "2026-01-05", input_token: 120 }] } satisfies IngestBody;
  await api.POST("/api/v1/ingest/events", { headers, body: batch });
  await api.POST("/api/v1/ingest/events", { headers, body: { evnts: [] } });
}
"""


def _node_tools() -> Path:
    """web/node_modules/.bin, installed with `npm ci` when missing (never a build)."""
    tools = WEB / "node_modules" / ".bin"
    if (tools / "tsc").exists() and (tools / "openapi-typescript").exists():
        return tools
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        message = "Node.js and npm are needed to type-check the generated TypeScript client"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    lock_dir = REPO / ".cache"
    lock_dir.mkdir(exist_ok=True)
    with (lock_dir / "npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be installing right now
        if not (tools / "tsc").exists():
            installed = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=WEB,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT_S,
                check=False,
            )
            assert installed.returncode == 0, installed.stdout + installed.stderr
    return tools


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the server's document, its generated types and a tsconfig."""
    tools = _node_tools()
    where = tmp_path_factory.mktemp("ts-client")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRODLENS_")}
    printed = subprocess.run(
        [sys.executable, "-m", "prodlens", "openapi", "-o", str(where / "openapi.json")],
        cwd=where,
        env={**environment, "DATABASE_URL": f"sqlite+aiosqlite:///{where}/unused.db"},
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    made = subprocess.run(
        [str(tools / "openapi-typescript"), "openapi.json", "--output", "schema.d.ts"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    (where / "node_modules").symlink_to(WEB / "node_modules")  # openapi-fetch, as the web has it
    return where


def tsc(where: Path, source: str, name: str) -> subprocess.CompletedProcess[str]:
    (where / name).write_text(source)
    config = {**TSCONFIG, "files": [name]}
    (where / f"tsconfig.{name}.json").write_text(json.dumps(config))
    return subprocess.run(
        [str(WEB / "node_modules" / ".bin" / "tsc"), "--strict", "-p", f"tsconfig.{name}.json"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


def test_a_client_using_login_projects_kpis_and_ingest_type_checks(generated: Path) -> None:
    checked = tsc(generated, TOUR, "tour.ts")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    schema = (generated / "schema.d.ts").read_text()
    assert "prodlens__" not in schema
    assert '"SignInSessionPublic"' in schema or "SignInSessionPublic:" in schema


def test_a_misspelled_ingest_field_fails_tsc(generated: Path) -> None:
    checked = tsc(generated, MISSPELLED, "misspelled.ts")
    output = checked.stdout + checked.stderr
    assert checked.returncode != 0, "tsc accepted an event with `input_token`"
    errors = [line for line in output.splitlines() if "error TS" in line]
    assert len(errors) == 2, output  # the two typos, and nothing else
    assert errors[0].startswith("misspelled.ts(10,"), output
    assert "'input_token' does not exist" in output, output
    assert "Did you mean to write 'input_tokens'?" in output, output
    assert errors[1].startswith("misspelled.ts(12,"), output
    assert "'evnts' does not exist" in errors[1], output
