"""A small fake of the GitHub REST API, served over real HTTP by uvicorn in a thread:
paginated commits and pull requests with `Link` headers, ETags and 304 answers."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.e2e.server import free_port


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    if_none_match: str | None
    authorization: str | None
    status: int


@dataclass
class FakeGitHub:
    base_url: str = ""
    page_size: int = 2
    commits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    foreign_next: bool = False  # a Link header pointing at another host

    def take_requests(self) -> list[Seen]:
        taken, self.requests = self.requests, []
        return taken

    def _listing(self, request: Request, items: list[dict[str, Any]]) -> Response:
        page = int(request.query_params.get("page", "1"))
        chunk = items[(page - 1) * self.page_size : page * self.page_size]
        body = json.dumps(chunk)
        etag = f'W/"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
        headers = {"ETag": etag}
        if page * self.page_size < len(items):
            next_url = str(request.url.include_query_params(page=page + 1))
            if self.foreign_next:
                next_url = next_url.replace("127.0.0.1", "localhost")
            headers["Link"] = f'<{next_url}>; rel="next"'
        if request.headers.get("if-none-match") == etag:
            return self._answer(request, Response(status_code=304, headers=headers))
        return self._answer(request, Response(body, media_type="application/json", headers=headers))

    def _answer(self, request: Request, response: Response) -> Response:
        self.requests.append(
            Seen(
                request.url.path,
                dict(request.query_params),
                request.headers.get("if-none-match"),
                request.headers.get("authorization"),
                response.status_code,
            )
        )
        return response

    async def commits_route(self, request: Request) -> Response:
        repo = f"{request.path_params['owner']}/{request.path_params['name']}".lower()
        if repo not in self.commits:
            return self._answer(request, JSONResponse({"message": "Not Found"}, 404))
        items = sorted(
            self.commits[repo], key=lambda c: c["commit"]["committer"]["date"], reverse=True
        )
        since = request.query_params.get("since")
        if since:
            items = [c for c in items if c["commit"]["committer"]["date"] >= since]
        return self._listing(request, items)

    async def pulls_route(self, request: Request) -> Response:
        repo = f"{request.path_params['owner']}/{request.path_params['name']}".lower()
        if repo not in self.pulls:
            return self._answer(request, JSONResponse({"message": "Not Found"}, 404))
        assert request.query_params["state"] == "all"
        assert request.query_params["sort"] == "updated"
        items = sorted(self.pulls[repo], key=lambda p: p["updated_at"], reverse=True)
        return self._listing(request, items)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/repos/{owner}/{name}/commits", self.commits_route),
                Route("/repos/{owner}/{name}/pulls", self.pulls_route),
            ]
        )


@contextmanager
def serving(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    port = free_port()
    config = uvicorn.Config(
        fake.app(), host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake GitHub did not start")
        time.sleep(0.01)
    fake.base_url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def rest_commit(sha: str, date: str, message: str, login: str | None, name: str) -> dict[str, Any]:
    person = {"name": name, "email": f"{name.split()[0].lower()}@example.com", "date": date}
    return {
        "sha": sha,
        "node_id": "C_" + sha[:8],
        "commit": {"author": person, "committer": person, "message": message},
        "author": {"login": login, "id": 1} if login else None,
        "committer": {"login": login, "id": 1} if login else None,
        "parents": [],
    }


def rest_pull(
    number: int,
    *,
    created: str,
    updated: str,
    state: str = "open",
    merged_at: str | None = None,
    closed_at: str | None = None,
    login: str = "ana",
    title: str = "A change",
) -> dict[str, Any]:
    return {
        "number": number,
        "state": state,
        "title": title,
        "user": {"login": login, "id": 7},
        "created_at": created,
        "updated_at": updated,
        "closed_at": closed_at,
        "merged_at": merged_at,
        "draft": False,
    }
