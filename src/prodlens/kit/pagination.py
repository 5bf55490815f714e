"""The page envelope `{items, total, page, page_size, pages}` and allow-listed sorting."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from prodlens.kit.errors import ProblemError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Page numbers stop here (a million rows at 100 a page): an offset far beyond any list
# reads nothing but costs a scan, and past 2^63 no database can even bind it.
MAX_PAGE = 10_000
# Counting stops here: an exact total of a huge list costs as much as reading it, while
# page 1 should cost the same at any size. Beyond it, `total_exact` is false.
COUNT_LIMIT = 10_000

T = TypeVar("T")
Sortable = ColumnElement[Any] | QueryableAttribute[Any]


class InvalidSort(ProblemError):
    status, code, title = 422, "pagination.invalid_sort", "Unknown sort field"


class PageParams(BaseModel):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def _page_params(
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"1-based page number (at most {MAX_PAGE:,}).")
    ] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (max 100).")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


PageDep = Annotated[PageParams, Depends(_page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description=f"Exact up to {COUNT_LIMIT:,}; see `total_exact`.")
    total_exact: bool = Field(True, description=f"False when there are more than {COUNT_LIMIT:,}.")
    page: int
    page_size: int
    pages: int

    @classmethod
    def build(cls, items: Sequence[T], *, total: int, params: PageParams) -> Page[T]:
        exact = total <= COUNT_LIMIT
        total = min(total, COUNT_LIMIT)
        return cls(
            items=list(items),
            total=total,
            total_exact=exact,
            page=params.page,
            page_size=params.page_size,
            pages=math.ceil(total / params.page_size) if total else 0,
        )


def order_by(
    sort: str | None,
    allowed: Mapping[str, Sortable],
    *,
    default: str,
) -> list[ColumnElement[Any]]:
    """`sort=field` or `sort=-field` from an allow-list, as ORDER BY clauses; anything
    else (`-`, an empty value, `--field`) is `InvalidSort`."""
    key = default if sort is None else sort
    descending = key.startswith("-")
    name = key[1:] if descending else key
    column = allowed.get(name)
    if column is None:
        raise InvalidSort(
            f"Cannot sort by {name!r}; allowed: {', '.join(sorted(allowed))}.",
            extra={"allowed": sorted(allowed)},
        )
    return [column.desc() if descending else column.asc()]


async def paginate(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    params: PageParams,
    *,
    scalars: bool = True,
) -> tuple[list[Any], int]:
    """One page of `statement` and its row count (counted up to `COUNT_LIMIT` + 1): the
    first column of each row (`scalars`, the usual ORM case) or whole rows."""
    counted = statement.order_by(None).limit(COUNT_LIMIT + 1).subquery()
    count_statement = select(func.count()).select_from(counted)
    total = (await session.execute(count_statement)).scalar_one()
    page = statement.limit(params.page_size).offset(params.offset)
    if scalars:
        return list(await session.scalars(page)), total
    return [tuple(row) for row in await session.execute(page)], total


@dataclass(frozen=True)
class Sorting:
    """The fields a list sorts by, its default (`-` for descending) and a unique column
    that orders ties, so that no row shows on two pages or on none."""

    fields: Mapping[str, Sortable]
    default: str
    tiebreaker: Sortable


async def paginate_sorted(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    params: PageParams,
    *,
    sort: str | None,
    sorting: Sorting,
    item: Callable[[Any], T],
    scalars: bool = True,
) -> Page[T]:
    """One page of `statement` in the order `sort` asks for (from `sorting`), each row
    (see `paginate` for `scalars`) made into an item by `item`."""
    ordering = order_by(sort, sorting.fields, default=sorting.default)
    ordered = statement.order_by(*ordering, sorting.tiebreaker)
    rows, total = await paginate(session, ordered, params, scalars=scalars)
    return Page.build([item(row) for row in rows], total=total, params=params)
