"""API information and the public (non-secret) configuration."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from prodlens import __version__
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.deps import SettingsDep, StateStoreDep
from prodlens.kit.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from prodlens.system.deps import MaintenanceSwitchDep

API_PREFIX = "/api/v1"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"

router = APIRouter(prefix=API_PREFIX, tags=["meta"], route_class=InstrumentedRoute)


class ApiInfo(BaseModel):
    name: str
    version: str
    api_version: str
    docs_url: str | None
    redoc_url: str | None
    openapi_url: str | None
    health_url: str


class PublicLimits(BaseModel):
    max_body_bytes: int
    max_ingest_body_bytes: int
    default_page_size: int
    max_page_size: int


class PublicConfig(BaseModel):
    version: str
    environment: str
    maintenance: bool
    docs_enabled: bool
    shared_state: str
    limits: PublicLimits


@router.get("", response_model=ApiInfo, summary="API name, version and where the docs are")
async def api_info(settings: SettingsDep) -> ApiInfo:
    docs = settings.serve_docs
    return ApiInfo(
        name="ProdLens",
        version=__version__,
        api_version="v1",
        docs_url=DOCS_URL if docs else None,
        redoc_url=REDOC_URL if docs else None,
        openapi_url=OPENAPI_URL if docs else None,
        health_url="/health",
    )


@router.get("/config", response_model=PublicConfig, summary="Public configuration (no secrets)")
async def public_config(
    settings: SettingsDep, maintenance: MaintenanceSwitchDep, store: StateStoreDep
) -> PublicConfig:
    return PublicConfig(
        version=__version__,
        environment=settings.env.value,
        maintenance=await maintenance.active(),
        docs_enabled=settings.serve_docs,
        shared_state=store.backend,
        limits=PublicLimits(
            max_body_bytes=settings.http.max_body_bytes,
            max_ingest_body_bytes=settings.http.max_ingest_body_bytes,
            default_page_size=DEFAULT_PAGE_SIZE,
            max_page_size=MAX_PAGE_SIZE,
        ),
    )
