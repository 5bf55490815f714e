"""`/api/v1/admin/maintenance`: switch maintenance mode on and off (admins)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from prodlens.auth.deps import AdminUser
from prodlens.auth.errors import AdminRequired, NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep, ClockDep
from prodlens.kit.errors import problem_responses
from prodlens.kit.schemas import Strict
from prodlens.system import service
from prodlens.system.deps import MaintenanceSwitchDep

MAINTENANCE_PATH = "/api/v1/admin/maintenance"

router = APIRouter(
    tags=["admin"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, AdminRequired),
)


class MaintenanceState(BaseModel):
    enabled: bool
    forced_by_setting: bool = False


class MaintenanceUpdate(Strict):
    enabled: bool


@router.get(MAINTENANCE_PATH, response_model=MaintenanceState, summary="Is maintenance mode on?")
async def get_maintenance(admin: AdminUser, switch: MaintenanceSwitchDep) -> MaintenanceState:
    return MaintenanceState(enabled=await switch.active(), forced_by_setting=switch.forced)


@router.put(
    MAINTENANCE_PATH,
    response_model=MaintenanceState,
    summary="Switch maintenance mode (every worker follows within seconds)",
)
async def set_maintenance(
    body: MaintenanceUpdate,
    admin: AdminUser,
    session: SessionDep,
    switch: MaintenanceSwitchDep,
    clock: ClockDep,
    client: ClientDep,
) -> MaintenanceState:
    await service.set_maintenance(
        session, enabled=body.enabled, switch=switch, admin=admin, clock=clock, client=client
    )
    return MaintenanceState(enabled=switch.forced or body.enabled, forced_by_setting=switch.forced)
