"""`MaintenanceSwitchDep`: this worker's maintenance switch (the setting and the stored flag)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from prodlens.http.maintenance import MaintenanceSwitch


async def _maintenance_switch(request: Request) -> MaintenanceSwitch:
    switch: MaintenanceSwitch = request.app.state.maintenance
    return switch


MaintenanceSwitchDep = Annotated[MaintenanceSwitch, Depends(_maintenance_switch)]
