from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel
from sqlalchemy import Integer, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from prodlens.app import create_app
from prodlens.kit.db import SessionDep
from prodlens.kit.pagination import Page, PageDep, Sorting, paginate_sorted
from tests.conftest import SettingsFactory, serving


class FruitBase(DeclarativeBase):
    """Its own metadata: a test table must not join the application's schema."""


class Fruit(FruitBase):
    __tablename__ = "test_fruits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class FruitPublic(BaseModel):
    id: int
    name: str


SORTING = Sorting({"id": Fruit.id, "name": Fruit.name}, default="id", tiebreaker=Fruit.id)


def with_fruit_routes(app: FastAPI) -> FastAPI:
    @app.get("/api/v1/_test/fruits", response_model=Page[FruitPublic])
    async def list_fruits(
        session: SessionDep, params: PageDep, sort: Annotated[str | None, Query()] = None
    ) -> Page[FruitPublic]:
        return await paginate_sorted(
            session,
            select(Fruit),
            params,
            sort=sort,
            sorting=SORTING,
            item=lambda row: FruitPublic(id=row.id, name=row.name),
        )

    return app


NAMES = ["kiwi", "apple", "mango", "banana", "cherry"]


@pytest.fixture
async def fruits(make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = with_fruit_routes(create_app(make_settings()))
    async with serving(app) as client:
        async with app.state.database.engine.begin() as conn:
            await conn.run_sync(lambda sync: Fruit.__table__.create(sync))  # type: ignore[attr-defined]
            for number, name in enumerate(NAMES, start=1):
                await conn.execute(
                    text("INSERT INTO test_fruits (id, name) VALUES (:i, :n)"),
                    {"i": number, "n": name},
                )
        yield client


async def test_page_envelope(fruits: httpx.AsyncClient) -> None:
    body = (await fruits.get("/api/v1/_test/fruits", params={"page_size": 2, "page": 2})).json()
    assert body == {
        "items": [{"id": 3, "name": "mango"}, {"id": 4, "name": "banana"}],
        "total": 5,
        "total_exact": True,
        "page": 2,
        "page_size": 2,
        "pages": 3,
    }


async def test_default_page_and_past_the_end(fruits: httpx.AsyncClient) -> None:
    first = (await fruits.get("/api/v1/_test/fruits")).json()
    assert (first["page"], first["page_size"], len(first["items"])) == (1, 20, 5)
    beyond = (await fruits.get("/api/v1/_test/fruits", params={"page": 9})).json()
    assert beyond["items"] == []
    assert beyond["total"] == 5


async def test_sorting(fruits: httpx.AsyncClient) -> None:
    ascending = (await fruits.get("/api/v1/_test/fruits", params={"sort": "name"})).json()
    assert [item["name"] for item in ascending["items"]] == sorted(NAMES)
    descending = (await fruits.get("/api/v1/_test/fruits", params={"sort": "-name"})).json()
    assert [item["name"] for item in descending["items"]] == sorted(NAMES, reverse=True)


async def test_unknown_sort_field_is_422(fruits: httpx.AsyncClient) -> None:
    response = await fruits.get("/api/v1/_test/fruits", params={"sort": "-password"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "pagination.invalid_sort"
    assert body["allowed"] == ["id", "name"]


@pytest.mark.parametrize(
    "params", [{"page_size": 0}, {"page_size": 10_000}, {"page": 0}, {"page": "x"}]
)
async def test_bad_page_parameters_are_422(
    fruits: httpx.AsyncClient, params: dict[str, int | str]
) -> None:
    response = await fruits.get("/api/v1/_test/fruits", params=params)
    assert response.status_code == 422
    assert response.json()["code"] == "validation.failed"


async def test_counting_stops_at_the_limit(
    fruits: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prodlens.kit import pagination

    monkeypatch.setattr(pagination, "COUNT_LIMIT", 3)
    body = (await fruits.get("/api/v1/_test/fruits", params={"page_size": 2})).json()
    assert (body["total"], body["total_exact"], body["pages"]) == (3, False, 2)
    last = (await fruits.get("/api/v1/_test/fruits", params={"page_size": 2, "page": 3})).json()
    assert [item["id"] for item in last["items"]] == [5]  # pages past the count still work
