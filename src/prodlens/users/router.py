"""`/api/v1/users`: account administration, admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from prodlens.auth import service as accounts
from prodlens.auth.deps import AdminUser, AuthDep
from prodlens.auth.errors import AdminRequired, NotAuthenticated, UsernameTaken, WeakPassword
from prodlens.auth.models import User
from prodlens.auth.schemas import SignInSessionPublic
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClientDep
from prodlens.kit.errors import problem_responses
from prodlens.kit.pagination import InvalidSort, Page, PageDep, Sorting, paginate_sorted
from prodlens.users import service
from prodlens.users.schemas import RoleName, Tier, UserAdminView, UserCreate, UserUpdate
from prodlens.users.service import EmailTaken, LastAdmin, SelfChange, UserNotFound

router = APIRouter(
    prefix="/api/v1/users",
    tags=["users"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, AdminRequired),
)

SEARCH_HELP = "Part of the email, username or display name."
SORT_HELP = "created_at, email, username or last_login_at; prefix `-` for descending."
SORTING = Sorting(
    {
        "created_at": User.created_at,
        "email": User.email_key,
        "username": User.username_key,
        "last_login_at": User.last_login_at,
    },
    default="-created_at",
    tiebreaker=User.id,
)


@router.get(
    "",
    response_model=Page[UserAdminView],
    summary="List accounts (search, filters, sort, pagination)",
    responses=problem_responses(InvalidSort),
)
async def list_users(
    admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    search: Annotated[
        str | None, Query(max_length=100, description="In email, username, name.")
    ] = None,
    role: RoleName | None = None,
    active: bool | None = None,
    tier: Tier | None = None,
    sort: Annotated[
        str | None,
        Query(description="created_at, email, username, last_login_at; `-` for descending."),
    ] = None,
) -> Page[UserAdminView]:
    statement = service.list_statement(search=search, role=role, active=active, tier=tier)
    return await paginate_sorted(
        session, statement, page, sort=sort, sorting=SORTING, item=UserAdminView.model_validate
    )


@router.post(
    "",
    status_code=201,
    response_model=UserAdminView,
    summary="Create an account",
    responses=problem_responses(WeakPassword, UsernameTaken, EmailTaken),
)
async def create_user(
    body: UserCreate, admin: AdminUser, session: SessionDep, runtime: AuthDep, client: ClientDep
) -> UserAdminView:
    user = await service.create(session, runtime, admin=admin, data=body, client=client)
    return UserAdminView.model_validate(user)


@router.get(
    "/{user_id}",
    response_model=UserAdminView,
    summary="One account",
    responses=problem_responses(UserNotFound),
)
async def get_user(user_id: str, admin: AdminUser, session: SessionDep) -> UserAdminView:
    return UserAdminView.model_validate(await service.get_user(session, user_id))


@router.patch(
    "/{user_id}",
    response_model=UserAdminView,
    summary="Change role, tier, status or profile (deactivating signs the user out)",
    responses=problem_responses(UserNotFound, LastAdmin, SelfChange),
)
async def update_user(
    user_id: str,
    body: UserUpdate,
    admin: AdminUser,
    session: SessionDep,
    runtime: AuthDep,
    client: ClientDep,
) -> UserAdminView:
    user = await service.get_user(session, user_id, for_change=True)
    updated = await service.update(
        session, runtime, admin=admin, user=user, changes=body, client=client
    )
    return UserAdminView.model_validate(updated)


@router.delete(
    "/{user_id}",
    status_code=204,
    summary="Delete an account and everything it owns",
    responses=problem_responses(UserNotFound, LastAdmin, SelfChange),
)
async def delete_user(
    user_id: str, admin: AdminUser, session: SessionDep, runtime: AuthDep, client: ClientDep
) -> Response:
    user = await service.get_user(session, user_id, for_change=True)
    await service.delete(session, runtime, admin=admin, user=user, client=client)
    return Response(status_code=204)


@router.post(
    "/{user_id}/unlock",
    status_code=204,
    summary="Lift a login lockout",
    responses=problem_responses(UserNotFound),
)
async def unlock_user(
    user_id: str, admin: AdminUser, session: SessionDep, runtime: AuthDep, client: ClientDep
) -> Response:
    user = await service.get_user(session, user_id, for_change=True)
    await service.unlock(session, runtime, admin=admin, user=user, client=client)
    return Response(status_code=204)


@router.get(
    "/{user_id}/sessions",
    response_model=list[SignInSessionPublic],
    summary="An account's signed-in sessions",
    responses=problem_responses(UserNotFound),
)
async def user_sessions(
    user_id: str, admin: AdminUser, session: SessionDep, runtime: AuthDep
) -> list[SignInSessionPublic]:
    user = await service.get_user(session, user_id)
    rows = await accounts.list_open_sessions(session, runtime, user.id)
    return [SignInSessionPublic.of(row, current_id=None) for row in rows]
