"""`/api/v1/projects/{project_id}/items`: work items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.errors import problem_responses
from prodlens.kit.pagination import InvalidSort, Page, PageDep, order_by, paginate
from prodlens.projects import items
from prodlens.projects.deps import SCOPED, ProjectMaintainer, ProjectReader
from prodlens.projects.errors import InvalidAssignee, ItemNotFound
from prodlens.projects.models import WorkItem
from prodlens.projects.schemas import ItemCreate, ItemPublic, ItemStatusName, ItemUpdate

router = APIRouter(
    prefix="/api/v1/projects/{project_id}/items",
    tags=["work items"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, *SCOPED),
)

SORTABLE = {
    "created_at": WorkItem.created_at,
    "updated_at": WorkItem.updated_at,
    "title": WorkItem.title,
    "status": WorkItem.status,
    "done_at": WorkItem.done_at,
}


@router.get(
    "",
    response_model=Page[ItemPublic],
    summary="Work items (filter by status, assignee, label, text)",
    responses=problem_responses(InvalidSort),
)
async def list_items(
    context: ProjectReader,
    session: SessionDep,
    page: PageDep,
    status: ItemStatusName | None = None,
    assignee_id: str | None = None,
    label: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=200, description="In title and description.")] = None,
    sort: Annotated[
        str | None, Query(description="created_at, updated_at, title, status, done_at; `-` desc.")
    ] = None,
) -> Page[ItemPublic]:
    statement = items.list_statement(
        context.project, status=status, assignee_id=assignee_id, label=label, text=q
    )
    statement = statement.order_by(*order_by(sort, SORTABLE, default="-created_at"), WorkItem.id)
    rows, total = await paginate(session, statement, page)
    return Page[ItemPublic].build([items.to_public(row) for row in rows], total=total, params=page)


@router.post(
    "",
    status_code=201,
    response_model=ItemPublic,
    summary="Create a work item (maintainers)",
    responses=problem_responses(InvalidAssignee),
)
async def create_item(
    body: ItemCreate, request: Request, context: ProjectMaintainer, session: SessionDep
) -> ItemPublic:
    item = await items.create(
        session, project=context.project, data=body, clock=request.app.state.clock
    )
    return items.to_public(item)


@router.get(
    "/{item_id}",
    response_model=ItemPublic,
    summary="One work item",
    responses=problem_responses(ItemNotFound),
)
async def get_item(item_id: str, context: ProjectReader, session: SessionDep) -> ItemPublic:
    return items.to_public(await items.get(session, context.project, item_id))


@router.patch(
    "/{item_id}",
    response_model=ItemPublic,
    summary="Update a work item; moving it to done records its cycle time (maintainers)",
    responses=problem_responses(ItemNotFound, InvalidAssignee),
)
async def update_item(
    item_id: str,
    body: ItemUpdate,
    request: Request,
    context: ProjectMaintainer,
    session: SessionDep,
) -> ItemPublic:
    item = await items.get(session, context.project, item_id)
    updated = await items.update(
        session, project=context.project, item=item, data=body, clock=request.app.state.clock
    )
    return items.to_public(updated)


@router.delete(
    "/{item_id}",
    status_code=204,
    summary="Delete a work item (maintainers)",
    responses=problem_responses(ItemNotFound),
)
async def delete_item(item_id: str, context: ProjectMaintainer, session: SessionDep) -> Response:
    await items.delete(session, await items.get(session, context.project, item_id))
    return Response(status_code=204)
