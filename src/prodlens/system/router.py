"""`/api/v1/admin/maintenance`: switch maintenance mode on and off (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from prodlens.auth.deps import AdminUser
from prodlens.auth.errors import AdminRequired, NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.http.client_ip import client_info
from prodlens.kit.db import SessionDep
from prodlens.kit.errors import problem_responses
from prodlens.system import service

MAINTENANCE_PATH = "/api/v1/admin/maintenance"

router = APIRouter(
    tags=["admin"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, AdminRequired),
)


class MaintenanceState(BaseModel):
    enabled: bool
    forced_by_setting: bool = False


@router.get(MAINTENANCE_PATH, response_model=MaintenanceState, summary="Is maintenance mode on?")
async def get_maintenance(request: Request, admin: AdminUser) -> MaintenanceState:
    switch = request.app.state.maintenance
    return MaintenanceState(enabled=await switch.active(), forced_by_setting=switch.forced)


@router.put(
    MAINTENANCE_PATH,
    response_model=MaintenanceState,
    summary="Switch maintenance mode (every worker follows within seconds)",
)
async def set_maintenance(
    body: MaintenanceState, request: Request, admin: AdminUser, session: SessionDep
) -> MaintenanceState:
    await service.set_maintenance(
        session,
        enabled=body.enabled,
        admin=admin,
        clock=request.app.state.clock,
        client=client_info(request),
    )
    switch = request.app.state.maintenance
    switch.remember(body.enabled)
    return MaintenanceState(enabled=switch.forced or body.enabled, forced_by_setting=switch.forced)
