"""Work items: CRUD, filters, status transitions and cycle time."""

from __future__ import annotations

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.kit.clock import Clock
from prodlens.kit.ids import is_valid_id
from prodlens.projects.errors import InvalidAssignee, ItemNotFound
from prodlens.projects.models import ItemStatus, Project, WorkItem, WorkItemLabel
from prodlens.projects.schemas import ItemCreate, ItemPublic, ItemUpdate
from prodlens.projects.service import is_member
from prodlens.realtime.service import Publisher, refresh_kpis_after_commit


async def _check_assignee(session: AsyncSession, project: Project, assignee_id: str | None) -> None:
    if assignee_id is not None and not await is_member(session, project.id, assignee_id):
        raise InvalidAssignee("Assign items to members of this project only.")


def _apply_status(item: WorkItem, status: str, clock: Clock) -> None:
    now = clock.now()
    item.status = status
    if status in (ItemStatus.IN_PROGRESS, ItemStatus.DONE) and item.started_at is None:
        item.started_at = now
    item.done_at = now if status == ItemStatus.DONE else None


async def create(
    session: AsyncSession,
    *,
    project: Project,
    data: ItemCreate,
    clock: Clock,
    publisher: Publisher | None = None,
) -> WorkItem:
    await _check_assignee(session, project, data.assignee_id)
    now = clock.now()
    item = WorkItem(
        project_id=project.id,
        title=data.title,
        description=data.description,
        assignee_id=data.assignee_id,
        linked_pr=data.linked_pr,
        created_at=now,
        updated_at=now,
        labels=[WorkItemLabel(label=label) for label in data.labels],
    )
    _apply_status(item, data.status, clock)
    session.add(item)
    await session.flush()
    refresh_kpis_after_commit(session, publisher, project.id)
    return item


def list_statement(
    project: Project,
    *,
    status: str | None,
    assignee_id: str | None,
    label: str | None,
    text: str | None,
) -> Select[WorkItem]:
    statement = select(WorkItem).where(WorkItem.project_id == project.id)
    if status:
        statement = statement.where(WorkItem.status == status)
    if assignee_id:
        statement = statement.where(WorkItem.assignee_id == assignee_id)
    if label:
        statement = statement.where(
            exists().where(
                WorkItemLabel.item_id == WorkItem.id, WorkItemLabel.label == label.strip().lower()
            )
        )
    if text:
        pattern = f"%{text.strip().lower()}%"
        statement = statement.where(
            or_(
                func.lower(WorkItem.title).like(pattern),
                func.lower(WorkItem.description).like(pattern),
            )
        )
    return statement


async def get(session: AsyncSession, project: Project, item_id: str) -> WorkItem:
    item = await session.get(WorkItem, item_id) if is_valid_id(item_id) else None
    if item is None or item.project_id != project.id:
        raise ItemNotFound()
    return item


async def update(
    session: AsyncSession,
    *,
    project: Project,
    item: WorkItem,
    data: ItemUpdate,
    clock: Clock,
    publisher: Publisher | None = None,
) -> WorkItem:
    fields = data.model_dump(exclude_unset=True)
    if "assignee_id" in fields:
        await _check_assignee(session, project, fields["assignee_id"])
        item.assignee_id = fields["assignee_id"]
    for name in ("title", "description", "linked_pr"):
        if name in fields and (fields[name] is not None or name == "linked_pr"):
            setattr(item, name, fields[name])
    if fields.get("labels") is not None:
        item.labels = [WorkItemLabel(label=label) for label in fields["labels"]]
    if fields.get("status") is not None and fields["status"] != item.status:
        _apply_status(item, fields["status"], clock)
    item.updated_at = clock.now()
    await session.flush()
    refresh_kpis_after_commit(session, publisher, project.id)
    return item


async def delete(session: AsyncSession, item: WorkItem, publisher: Publisher | None = None) -> None:
    await session.delete(item)
    await session.flush()
    refresh_kpis_after_commit(session, publisher, item.project_id)


def to_public(item: WorkItem) -> ItemPublic:
    cycle = None
    if item.done_at is not None:
        start = item.started_at or item.created_at
        cycle = round((item.done_at - start).total_seconds() / 3600, 3)
    return ItemPublic(
        id=item.id,
        project_id=item.project_id,
        title=item.title,
        description=item.description,
        status=item.status,
        assignee_id=item.assignee_id,
        labels=[label.label for label in item.labels],
        linked_pr=item.linked_pr,
        created_at=item.created_at,
        updated_at=item.updated_at,
        started_at=item.started_at,
        done_at=item.done_at,
        cycle_time_hours=cycle,
    )
