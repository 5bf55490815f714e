"""A fake of GitHub's Copilot usage-metrics REST API over real HTTP: `users-1-day`
answers `{download_links, report_day}` (paged with `Link: rel="next"` when asked), the
links point at a second server (another origin, as GitHub's signed URLs do) serving
NDJSON, and chosen requests are answered with a rate limit first."""

from __future__ import annotations

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

from tests.analytics.copilot_reports import ndjson
from tests.e2e.server import free_port


@dataclass
class Seen:
    host: str
    path: str
    query: dict[str, str]
    authorization: str | None
    status: int


@dataclass
class FakeCopilot:
    token: str
    api_url: str = ""
    files_url: str = ""
    # org or enterprise → day → the day's files (each a list of per-user records)
    reports: dict[str, dict[str, list[list[dict[str, Any]]]]] = field(default_factory=dict)
    links_per_page: int = 0  # 0: all links on one page
    # Answered before anything else, once each: (status, headers).
    rate_limits: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)

    def take_requests(self) -> list[Seen]:
        taken, self.requests = self.requests, []
        return taken

    def _answer(self, request: Request, response: Response) -> Response:
        self.requests.append(
            Seen(
                request.url.netloc,
                request.url.path,
                dict(request.query_params),
                request.headers.get("authorization"),
                response.status_code,
            )
        )
        return response

    async def report_route(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._answer(request, JSONResponse({"message": "Bad credentials"}, 401))
        if self.rate_limits:
            status, limit_headers = self.rate_limits.pop(0)
            message = {"message": "API rate limit exceeded"}
            return self._answer(request, JSONResponse(message, status, headers=limit_headers))
        account = request.path_params["account"]
        if account not in self.reports:
            return self._answer(request, JSONResponse({"message": "Not Found"}, 404))
        day = request.query_params.get("day", "")
        files = self.reports[account].get(day)
        if files is None:
            return self._answer(request, JSONResponse({"message": "Not Found"}, 404))
        links = [f"{self.files_url}/reports/{account}/{day}/{n}.ndjson" for n in range(len(files))]
        headers: dict[str, str] = {}
        if self.links_per_page:
            page = int(request.query_params.get("page", "1"))
            start = (page - 1) * self.links_per_page
            if start + self.links_per_page < len(links):
                next_url = request.url.include_query_params(page=page + 1)
                headers["Link"] = f'<{next_url}>; rel="next"'
            links = links[start : start + self.links_per_page]
        body: dict[str, Any] = {"download_links": links, "report_day": day}
        return self._answer(request, JSONResponse(body, headers=headers))

    async def file_route(self, request: Request) -> Response:
        account, day = request.path_params["account"], request.path_params["day"]
        number = int(request.path_params["number"])
        content = ndjson(self.reports[account][day][number])
        return self._answer(request, Response(content, media_type="application/x-ndjson"))

    def api_app(self) -> Starlette:
        route = "/copilot/metrics/reports/users-1-day"
        return Starlette(
            routes=[
                Route("/orgs/{account}" + route, self.report_route),
                Route("/enterprises/{account}" + route, self.report_route),
            ]
        )

    def files_app(self) -> Starlette:
        path = "/reports/{account}/{day}/{number}.ndjson"
        return Starlette(routes=[Route(path, self.file_route)])


@contextmanager
def _server(app: Starlette) -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake GitHub did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serving(fake: FakeCopilot) -> Iterator[FakeCopilot]:
    with _server(fake.api_app()) as api_port, _server(fake.files_app()) as files_port:
        fake.api_url = f"http://127.0.0.1:{api_port}"
        # Another host name: the files' origin differs from the API's.
        fake.files_url = f"http://localhost:{files_port}"
        yield fake
