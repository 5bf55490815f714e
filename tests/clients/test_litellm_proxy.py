"""docs/ingest.md's LiteLLM setup, run with the real package: a LiteLLM proxy configured
exactly as the docs show (only the endpoint, the keys and the model list differ:
mock models, as no provider is reachable), called by the OpenAI client for several
developers, and the SDK snippet as written, all landing in a running ProdLens.

LiteLLM and the OpenAI client live in a venv of their own (tests/clients/envs.py),
built once and cached; its Python runs tests/clients/litellm_client.py, which makes
the calls and records what the client got back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.clients.envs import client_env
from tests.e2e.server import HTTP_TIMEOUT_S, Server, free_port, ingest_account, running_server

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ingest.md"
CLIENT = Path(__file__).with_name("litellm_client.py")
LITELLM = ["litellm[proxy]==1.108.7"]  # 1.107.0 was a compromised release: never that one
PASSWORD = "violet-lantern-ocean-42"
MASTER_KEY = "sk-test-master-0123456789"
# The docs' stand-ins, replaced by the running servers' endpoints and keys.
DOC_PRODLENS = "https://prodlens.example.com"
DOC_INGEST_KEY = "pl_your_key"
DOC_PROXY = "http://litellm.example.com:4000"
DOC_PROXY_KEY = "sk-your-litellm-key"
SNIPPETS = ("proxy-config", "proxy-client", "sdk")
# What only a LiteLLM config or program says.
LITELLM_WORDS = (
    r"generic_api|callback_settings|litellm_settings|litellm_params|GENERIC_LOGGER"
    r"|import litellm|from litellm"
)
FENCE = r"(<!-- litellm-snippet: [a-z-]+ -->\n)?```[a-z]*\n(.*?)```"

PROXY_READY_S = 300.0  # a cold LiteLLM start on a loaded machine
LANDED_S = 120.0  # the logger flushes every second here (DEFAULT_FLUSH_INTERVAL_SECONDS)
CLIENT_TIMEOUT_S = 300.0

# The test's model list: each group as the docs show, answered by LiteLLM's mock.
MODEL_LIST: list[dict[str, Any]] = [
    {
        "model_name": "claude-sonnet",
        "litellm_params": {
            "model": "anthropic/claude-sonnet-4-20250514",
            "api_key": "not-used",
            "mock_response": "COMPLETION-SECRET refactored",
        },
    },
    {
        "model_name": "gpt-4o",
        "litellm_params": {
            "model": "openai/gpt-4o",
            "api_key": "not-used",
            "mock_response": "COMPLETION-SECRET from gpt-4o",
        },
    },
    {  # the provider answers 429: a failed model call, not a refusal
        "model_name": "flaky",
        "litellm_params": {
            "model": "openai/gpt-4o",
            "api_key": "not-used",
            "mock_response": "litellm.RateLimitError",
        },
    },
]
# The model each group's deployment calls, as ProdLens names it.
DEPLOYED = {"claude-sonnet": "claude-sonnet-4-20250514", "gpt-4o": "gpt-4o"}
# $ per token, from src/prodlens/analytics/data/prices.json.
PRICES = {
    "claude-sonnet-4-20250514": (3.0e-6, 15.0e-6),
    "gpt-4o": (2.5e-6, 10.0e-6),
}
SECRETS = ("PROMPT-SECRET", "COMPLETION-SECRET", "Refactor this function", "parse_date")


# --- the docs -----------------------------------------------------------------------


def snippets() -> dict[str, str]:
    """The fenced blocks of docs/ingest.md marked `<!-- litellm-snippet: NAME -->`."""
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- litellm-snippet: ([a-z-]+) -->\n```[a-z]*\n(.*?)\n```", text, re.S)
    return dict(found)


def proxy_config(prodlens_url: str, ingest_key: str) -> dict[str, Any]:
    """The docs' proxy config with the test's ProdLens, key and model list."""
    documented = snippets()["proxy-config"]
    assert DOC_PRODLENS in documented
    assert DOC_INGEST_KEY in documented
    config: dict[str, Any] = yaml.safe_load(
        documented.replace(DOC_PRODLENS, prodlens_url).replace(DOC_INGEST_KEY, ingest_key)
    )
    # The same groups and deployments as the docs, answered by LiteLLM's mock.
    groups = {(m["model_name"], m["litellm_params"]["model"]) for m in config["model_list"]}
    assert groups <= {(m["model_name"], m["litellm_params"]["model"]) for m in MODEL_LIST}
    config["model_list"] = MODEL_LIST
    return config


def test_every_litellm_snippet_in_the_docs_is_one_the_tests_run() -> None:
    """A LiteLLM config or call shown anywhere in the docs is one of the marked
    snippets below: an unmarked one could drift from what LiteLLM does."""
    assert set(snippets()) == set(SNIPPETS)
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(FENCE, text, re.S):
            block = match.group(2)
            if re.search(LITELLM_WORDS, block):
                assert match.group(1), f"{page.name}: an untested LiteLLM snippet:\n{block}"


# --- the servers ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProdLens:
    server: Server
    workdir: Path
    project_id: str
    ingest_key: str
    token: str

    @property
    def endpoint(self) -> str:
        return f"{self.server.base_url}/api/v1/ingest/litellm"

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.server.base_url}/api/v1/projects/{self.project_id}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=HTTP_TIMEOUT_S,
        )
        assert response.status_code == 200, response.text
        return response.json() if "json" in response.headers["content-type"] else response.text

    def raw(self, **params: Any) -> dict[str, Any]:
        now = time.time()
        window = {
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
            "until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        }
        body: dict[str, Any] = self.get("/metrics/raw", **window, **params)
        return body

    def events(self) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.get("/exports/events"))))

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + LANDED_S
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not {what} after {LANDED_S:g} s: {self.raw()}")
            time.sleep(0.25)

    def stored_bytes(self) -> bytes:
        """Everything ProdLens wrote: its database (and WAL), data dir and log."""
        return b"".join(
            path.read_bytes() for path in sorted(self.workdir.rglob("*")) if path.is_file()
        )


def _account(base_url: str, name: str) -> tuple[str, str, str]:
    """A user, a project and an `ingest` key, made over HTTP: (token, project id, key)."""
    account = ingest_account(base_url, project=name, key_name="litellm-proxy")
    return account.token, account.project_id, account.key


@pytest.fixture
def prodlens(tmp_path: Path) -> Iterator[ProdLens]:
    # A directory of its own: all that is in it, ProdLens wrote (database, WAL, log).
    workdir = tmp_path / "prodlens"
    workdir.mkdir()
    with running_server(workdir, env={"PRODLENS_RATE_LIMITS__ENABLED": "false"}) as server:
        token, project_id, key = _account(server.base_url, "Pilot")
        yield ProdLens(server, workdir, project_id, key, token)


@pytest.fixture(scope="module")
def venv() -> Path:
    return client_env("litellm", LITELLM)


def _client_environment(**extra: str) -> dict[str, str]:
    """The machine's environment without ProdLens's own settings (LiteLLM reads
    `DATABASE_URL` as its own), with LiteLLM's cost map from the package (no fetch)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PRODLENS_", "LITELLM_", "GENERIC_LOGGER_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", **extra})
    return environment


def run_client(venv: Path, mode: str, stdin: str, record: Path, **env: str) -> None:
    result = subprocess.run(
        [str(venv / "bin" / "python"), str(CLIENT), mode],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        env=_client_environment(PRODLENS_TEST_RECORD=str(record), **env),
        check=False,
    )
    assert result.returncode == 0, f"{mode} exited {result.returncode}:\n{result.stderr[-4000:]}"


def recorded(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/health/liveliness", timeout=5).status_code == 200
        except httpx.TransportError:
            return False


@pytest.fixture
def proxy(venv: Path, prodlens: ProdLens, tmp_path: Path) -> Iterator[Proxy]:
    config = tmp_path / "litellm-config.yaml"
    config.write_text(yaml.safe_dump(proxy_config(prodlens.server.base_url, prodlens.ingest_key)))
    port = free_port()
    log = tmp_path / "litellm-proxy.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(venv / "bin" / "litellm"),
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=tmp_path,
            env=_client_environment(
                LITELLM_MASTER_KEY=MASTER_KEY, DEFAULT_FLUSH_INTERVAL_SECONDS="1"
            ),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Proxy(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + PROXY_READY_S
        while not running.answers():
            tail = log.read_text(errors="replace")[-4000:]
            assert process.poll() is None, f"the proxy exited with {process.returncode}:\n{tail}"
            assert time.monotonic() < deadline, f"no proxy after {PROXY_READY_S:g} s:\n{tail}"
            time.sleep(0.25)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the proxy -------------------------------------------------------------------------


def _call(model: str, user: str | None, **fields: Any) -> dict[str, Any]:
    prompt = f"PROMPT-SECRET for {model} by {user}"
    return {"model": model, "user": user, "api_key": MASTER_KEY, "prompt": prompt, **fields}


ADA, BOB, CY, DEE = "ada@example.com", "bob", "cy", "dee"
ADA_SESSION = "refactor-2025-05-01-ada"  # the docs' client snippet's session
CALLS = [
    # Ada's first call is the docs' client snippet; this is her second, same session.
    _call("claude-sonnet", ADA, metadata={"session_id": ADA_SESSION}),
    _call("gpt-4o", BOB, stream=True),
    _call("gpt-4o", BOB),
    # A shared bot's `user`, but the caller names its developer: that wins.
    _call("gpt-4o", "ci-bot", metadata={"developer_id": CY}),
    _call("gpt-4o", DEE),
    _call("flaky", DEE),  # the provider's 429: a failed call
    _call("nope-model", DEE),  # no such model on the proxy: refused
    _call("gpt-4o", "eve", api_key="sk-not-a-key"),  # a wrong key: refused, nobody's
]


def _cost(model: str, usage: dict[str, Any]) -> float:
    per_input, per_output = PRICES[model]
    return float(usage["prompt_tokens"] * per_input + usage["completion_tokens"] * per_output)


def test_proxy_configured_as_documented_credits_each_developer(
    venv: Path, prodlens: ProdLens, proxy: Proxy, tmp_path: Path
) -> None:
    record = tmp_path / "calls.jsonl"
    client_snippet = (
        snippets()["proxy-client"]
        .replace(DOC_PROXY, proxy.base_url)
        .replace(DOC_PROXY_KEY, MASTER_KEY)
    )
    run_client(venv, "snippet", client_snippet, record)
    run_client(venv, "calls", json.dumps({"base_url": proxy.base_url, "calls": CALLS}), record)
    made = recorded(record)
    assert [(c["user"], c["model"], c["ok"]) for c in made] == [
        (ADA, "claude-sonnet", True),
        *((c["user"], c["model"], c["model"] in {"claude-sonnet", "gpt-4o"}) for c in CALLS[:5]),
        (DEE, "flaky", False),
        (DEE, "nope-model", False),
        ("eve", "gpt-4o", False),
    ]

    def landed() -> bool:
        raw = prodlens.raw()
        return (raw["events"], raw["refused"]) == (7, 2)

    prodlens.wait_for("all 7 calls and 2 refusals", landed)

    events = prodlens.events()
    assert all(e["source"] == "litellm" for e in events)
    by_developer: dict[str, list[dict[str, str]]] = {}
    for event in events:
        by_developer.setdefault(event["developer_id"], []).append(event)
    # Four people, and the proxy's master-key placeholder is none of them.
    assert set(by_developer) == {ADA, BOB, CY, DEE, ""}
    listed = {d["developer_id"]: d for d in prodlens.get("/developers")["items"]}
    assert set(listed) == {ADA, BOB, CY, DEE}
    assert "default_user_id" not in json.dumps(events)

    client_calls: dict[str, list[dict[str, Any]]] = {}
    for call, sent in zip(made, [{"user": ADA}, *CALLS], strict=True):
        developer = (sent.get("metadata") or {}).get("developer_id") or sent["user"]
        client_calls.setdefault(developer, []).append(call)

    for developer in (ADA, BOB, CY, DEE):
        calls = [c for c in client_calls[developer] if c["ok"]]
        stored = [e for e in by_developer[developer] if e["status"] != "refused"]
        summary, raw = listed[developer], prodlens.raw(developer=developer)
        tokens = sum(c["usage"]["total_tokens"] for c in calls)
        cost = sum(_cost(DEPLOYED[c["model"]], c["usage"]) for c in calls)
        # count, tokens and cost as the client saw them (failed calls have none)
        assert summary["events"] == raw["events"] == len(client_calls[developer]) - raw["refused"]
        assert summary["total_tokens"] == raw["total_tokens"] == tokens, developer
        assert summary["cost_usd"] == pytest.approx(cost, rel=1e-6), developer
        for event in stored:
            if event["status"] == "ok":
                # the latency LiteLLM measured, within what the client waited
                waited = max(c["elapsed_ms"] for c in calls)
                assert 0 < float(event["latency_ms"]) <= waited, (developer, event)

    ada = by_developer[ADA]
    # Through the group alias: the deployment's model answered, priced from the table
    # (LiteLLM reports 0 for it); the alias is the requested model and an attribute.
    assert {(e["request_model"], e["response_model"], e["cost_source"]) for e in ada} == {
        ("claude-sonnet", "claude-sonnet-4-20250514", "estimated")
    }
    assert all(json.loads(e["attributes"])["model_group"] == "claude-sonnet" for e in ada)
    assert {e["session_id"] for e in ada} == {ADA_SESSION}
    sessions = prodlens.get("/sessions")["items"]
    assert [(s["session_id"], s["developer_id"], s["events"]) for s in sessions] == [
        (ADA_SESSION, ADA, 2)
    ]

    bob = {e["ttft_ms"] != "": e for e in by_developer[BOB]}
    streamed, plain = bob[True], bob[False]
    assert 0 < float(streamed["ttft_ms"]) <= float(streamed["latency_ms"])
    assert (streamed["response_model"], streamed["cost_source"]) == ("gpt-4o", "reported")
    assert plain["status"] == "ok"
    assert all(e["session_id"] == "" for e in by_developer[BOB])  # no session was given

    assert [(e["status"], e["response_model"]) for e in by_developer[CY]] == [("ok", "gpt-4o")]

    dee = Counter((e["status"], e["error_type"], e["http_status"]) for e in by_developer[DEE])
    assert dee == Counter(
        {("ok", "", ""): 1, ("error", "RateLimitError", "429"): 1,
         ("refused", "ProxyModelNotFoundError", "400"): 1}
    )  # fmt: skip
    dee_raw = prodlens.raw(developer=DEE)
    assert (dee_raw["events"], dee_raw["errors"], dee_raw["refused"]) == (2, 1, 1)
    [nobody] = by_developer[""]
    assert nobody["status"] == "refused"  # the wrong key: LiteLLM knew no user for it

    everyone = prodlens.raw()
    assert (everyone["events"], everyone["errors"], everyone["refused"]) == (7, 1, 2)

    # Message logging is on (the docs' config leaves LiteLLM's default): the proxy sent
    # the prompts and answers, and none of it was kept.
    stored_bytes = prodlens.stored_bytes()
    for secret in SECRETS:
        assert secret.encode() not in stored_bytes, secret


# --- the SDK -------------------------------------------------------------------------


def test_sdk_snippet_as_documented_lands_and_sync_calls_are_not_sent(
    venv: Path, prodlens: ProdLens, tmp_path: Path
) -> None:
    record = tmp_path / "sdk.jsonl"
    sdk = (
        snippets()["sdk"]
        .replace(f"{DOC_PRODLENS}/api/v1/ingest/litellm", prodlens.endpoint)
        .replace(DOC_INGEST_KEY, prodlens.ingest_key)
    )
    # The snippet flushes before it exits: its call is there when it returns.
    run_client(venv, "sdk", sdk, record)
    [event] = prodlens.events()
    assert (event["developer_id"], event["session_id"], event["repo"]) == (
        "grace@example.com",
        "tests-grace-1",
        "acme/app",
    )
    assert (event["status"], event["response_model"], event["cost_source"]) == (
        "ok",
        "gpt-4o",
        "reported",
    )
    assert int(event["total_tokens"]) > 0
    assert float(event["cost_usd"]) == pytest.approx(
        _cost("gpt-4o", {"prompt_tokens": int(event["input_tokens"]),
                         "completion_tokens": int(event["output_tokens"])}), rel=1e-6
    )  # fmt: skip

    run_client(
        venv,
        "sdk-sync",
        "",
        record,
        PRODLENS_TEST_ENDPOINT=prodlens.endpoint,
        PRODLENS_TEST_KEY=prodlens.ingest_key,
    )
    # Both flushes ran after both calls: what is not there was never queued.
    developers = {e["developer_id"] for e in prodlens.events()}
    assert developers == {"grace@example.com", "async-caller"}
    for secret in SECRETS:
        assert secret.encode() not in prodlens.stored_bytes(), secret
