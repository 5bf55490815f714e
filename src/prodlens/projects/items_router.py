"""`/api/v1/projects/{project_id}/items`: work items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from prodlens.auth.errors import NotAuthenticated
from prodlens.http.access import InstrumentedRoute
from prodlens.kit.db import SessionDep
from prodlens.kit.deps import ClockDep
from prodlens.kit.errors import problem_responses
from prodlens.kit.pagination import InvalidSort, Page, PageDep, Sorting, paginate_sorted
from prodlens.projects import items_service
from prodlens.projects.deps import SCOPED, ProjectMaintainer, ProjectReader
from prodlens.projects.errors import InvalidAssignee, ItemNotFound
from prodlens.projects.models import WorkItem
from prodlens.projects.schemas import ItemCreate, ItemPublic, ItemStatusName, ItemUpdate
from prodlens.realtime.deps import PublisherDep

router = APIRouter(
    prefix="/api/v1/projects/{project_id}/items",
    tags=["work items"],
    route_class=InstrumentedRoute,
    responses=problem_responses(NotAuthenticated, *SCOPED),
)

SORTING = Sorting(
    {
        "created_at": WorkItem.created_at,
        "updated_at": WorkItem.updated_at,
        "title": WorkItem.title,
        "status": WorkItem.status,
        "done_at": WorkItem.done_at,
    },
    default="-created_at",
    tiebreaker=WorkItem.id,
)


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
    statement = items_service.list_statement(
        context.project, status=status, assignee_id=assignee_id, label=label, text=q
    )
    return await paginate_sorted(
        session, statement, page, sort=sort, sorting=SORTING, item=items_service.to_public
    )


@router.post(
    "",
    status_code=201,
    response_model=ItemPublic,
    summary="Create a work item (maintainers)",
    responses=problem_responses(InvalidAssignee),
)
async def create_item(
    body: ItemCreate,
    context: ProjectMaintainer,
    session: SessionDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> ItemPublic:
    item = await items_service.create(
        session, project=context.project, data=body, clock=clock, publisher=publisher
    )
    return items_service.to_public(item)


@router.get(
    "/{item_id}",
    response_model=ItemPublic,
    summary="One work item",
    responses=problem_responses(ItemNotFound),
)
async def get_item(item_id: str, context: ProjectReader, session: SessionDep) -> ItemPublic:
    return items_service.to_public(await items_service.get(session, context.project, item_id))


@router.patch(
    "/{item_id}",
    response_model=ItemPublic,
    summary="Update a work item; moving it to done records its cycle time (maintainers)",
    responses=problem_responses(ItemNotFound, InvalidAssignee),
)
async def update_item(
    item_id: str,
    body: ItemUpdate,
    context: ProjectMaintainer,
    session: SessionDep,
    clock: ClockDep,
    publisher: PublisherDep,
) -> ItemPublic:
    item = await items_service.get(session, context.project, item_id)
    updated = await items_service.update(
        session, project=context.project, item=item, data=body, clock=clock, publisher=publisher
    )
    return items_service.to_public(updated)


@router.delete(
    "/{item_id}",
    status_code=204,
    summary="Delete a work item (maintainers)",
    responses=problem_responses(ItemNotFound),
)
async def delete_item(
    item_id: str, context: ProjectMaintainer, session: SessionDep, publisher: PublisherDep
) -> Response:
    item = await items_service.get(session, context.project, item_id)
    await items_service.delete(session, item, publisher)
    return Response(status_code=204)
