"""Routes of the dashboard: the page shell for every dashboard URL, the hashed assets.

Each page of the single-page app is a real URL (shareable, reloadable), so the
server answers the same ``index.html`` for all of them; the app reads the path.
The list mirrors ``web/src/routes.ts``; anything else keeps its API meaning (an
unknown ``/api/...`` path is still a 404 problem, never a page).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from prodlens.http.access import InstrumentedRoute
from prodlens.http.security_headers import DASHBOARD_CSP
from prodlens.kit.errors import NotFound
from prodlens.web.assets import DIST, IMMUTABLE, NO_CACHE, ROOT_FILES, asset_path, index_html

router = APIRouter(include_in_schema=False, route_class=InstrumentedRoute)

PAGES = (
    "/",
    "/sign-in",
    "/register",
    "/forgot-password",
    "/reset-password",
    "/verify-email",
    "/projects",
    "/projects/{rest:path}",
    "/admin",
    "/admin/{rest:path}",
)


class DashboardNotBuilt(NotFound):
    code, title = "web.not_built", "The dashboard is not built"


async def page() -> Response:
    body = index_html()
    if body is None:
        raise DashboardNotBuilt("Build it with `make web`; the API is at /api/v1.")
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": NO_CACHE, "Content-Security-Policy": DASHBOARD_CSP},
    )


for path in PAGES:
    router.add_api_route(path, page, methods=["GET", "HEAD"], name=f"dashboard:{path}")


@router.api_route("/assets/{name}", methods=["GET", "HEAD"])
async def asset(name: str) -> FileResponse:
    path = asset_path(name)
    if path is None:
        raise NotFound(f"No dashboard asset {name!r}.")
    return FileResponse(path, headers={"Cache-Control": IMMUTABLE})


@router.api_route("/favicon.svg", methods=["GET", "HEAD"])
async def favicon() -> FileResponse:
    return FileResponse(
        DIST / "favicon.svg",
        media_type=ROOT_FILES["favicon.svg"],
        headers={"Cache-Control": "public, max-age=86400"},
    )
