"""Exports: events and daily series as CSV (streamed) and Parquet."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import anyio
import pyarrow.parquet as pq
import pytest

from prodlens.analytics import exports
from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.harness import Harness


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness, name="Export Pilot")


async def ingest(harness: Harness, project: AnalyticsProject, events: list[dict[str, Any]]) -> None:
    response = await harness.client.post(
        f"{project.base}/ingest/events", json=events, headers={"X-API-Key": project.ingest_key}
    )
    assert response.json()["summary"]["accepted"] == len(events), response.text


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@pytest.fixture
async def first_day(harness: Harness, project: AnalyticsProject) -> date:
    """Ten events over days 0-2 of a window three days long, and two outside it."""
    first = harness.clock.now().date() - timedelta(days=5)
    events = [
        event(number, midnight(first) + timedelta(days=number % 3, hours=number), cost_usd=0.25)
        for number in range(10)
    ]
    events[0].update(developer_id='=HYPERLINK("http://evil")', tags=["alpha", "beta"])
    events[1].update(accepted=True, status="error", error_type="Timeout")
    events.append(event(20, midnight(first) - timedelta(hours=1)))
    events.append(event(21, midnight(first) + timedelta(days=3)))
    await ingest(harness, project, events)
    return first


def window(first: date) -> dict[str, str]:
    return {
        "since": midnight(first).isoformat(),
        "until": midnight(first + timedelta(days=3)).isoformat(),
    }


async def download(harness: Harness, project: AnalyticsProject, what: str, **params: Any) -> Any:
    response = await harness.client.get(
        f"{project.base}/exports/{what}", params=params, headers={"X-API-Key": project.read_key}
    )
    assert response.status_code == 200, response.text
    return response


async def test_events_csv_is_streamed_in_chunks(
    harness: Harness,
    project: AnalyticsProject,
    first_day: date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "CHUNK_ROWS", 3)  # 10 rows: four keyset chunks
    response = await download(harness, project, "events", format="csv", **window(first_day))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    last_day = first_day + timedelta(days=2)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="prodlens-export-pilot-events-{first_day}-{last_day}.csv"'
    )
    assert "content-length" not in response.headers  # streamed, not built in memory
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(exports.EVENT_COLUMNS)
    assert [row["event_id"] for row in rows] == [f"evt-{n}" for n in range(10)]
    first, second = rows[0], rows[1]
    # A spreadsheet must not run an ingested string as a formula.
    assert first["developer_id"] == '\'=HYPERLINK("http://evil")'
    assert json.loads(first["tags"]) == ["alpha", "beta"]
    assert datetime.fromisoformat(first["started_at"]) == midnight(first_day)
    assert float(first["cost_usd"]) == pytest.approx(0.25)
    assert first["total_tokens"] == "1200"
    assert first["accepted"] == ""
    assert (second["accepted"], second["status"], second["error_type"]) == (
        "true",
        "error",
        "Timeout",
    )


async def test_events_parquet_is_built_off_the_loop_and_cleaned_up(
    harness: Harness,
    project: AnalyticsProject,
    first_day: date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "CHUNK_ROWS", 4)
    threads: list[threading.Thread] = []
    paths: list[str] = []
    write_chunk, events_parquet = exports._write_chunk, exports.events_parquet

    def recording_write(*args: Any) -> None:
        threads.append(threading.current_thread())
        write_chunk(*args)

    async def recording_build(*args: Any) -> str:
        paths.append(await events_parquet(*args))
        return paths[-1]

    monkeypatch.setattr(exports, "_write_chunk", recording_write)
    monkeypatch.setattr(exports, "events_parquet", recording_build)
    response = await download(harness, project, "events", format="parquet", **window(first_day))
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert response.headers["content-disposition"].endswith('.parquet"')
    assert "prodlens-export-pilot-events-" in response.headers["content-disposition"]
    parquet = pq.ParquetFile(io.BytesIO(response.content))
    assert parquet.metadata.num_row_groups == 3  # 4 + 4 + 2 rows
    table = parquet.read()
    assert table.schema.names == list(exports.EVENT_COLUMNS)
    assert table.num_rows == 10
    records = table.to_pylist()
    assert records[0]["tags"] == ["alpha", "beta"]
    assert records[0]["started_at"] == midnight(first_day)
    assert records[1]["accepted"] is True
    assert sum(record["cost_usd"] for record in records) == pytest.approx(2.5)
    assert threads
    assert all(thread is not threading.current_thread() for thread in threads)
    assert paths
    assert not await anyio.Path(paths[0]).exists()  # the temporary file is gone once sent

    empty = await download(
        harness,
        project,
        "events",
        format="parquet",
        since=midnight(first_day - timedelta(days=30)).isoformat(),
        until=midnight(first_day - timedelta(days=20)).isoformat(),
    )
    empty_table = pq.read_table(io.BytesIO(empty.content))
    assert empty_table.num_rows == 0
    assert empty_table.schema.names == list(exports.EVENT_COLUMNS)


async def test_exports_stay_in_their_project(
    harness: Harness, project: AnalyticsProject, first_day: date
) -> None:
    other = (
        await harness.client.post(
            "/api/v1/projects", json={"name": "Elsewhere"}, headers=project.owner.headers
        )
    ).json()
    other_base = f"/api/v1/projects/{other['id']}"
    stray = event(1, midnight(first_day) + timedelta(hours=1), developer_id="elsewhere")
    await harness.client.post(
        f"{other_base}/ingest/events", json=[stray], headers=project.owner.headers
    )
    mine = await download(harness, project, "events", format="csv", **window(first_day))
    assert "elsewhere" not in mine.text
    assert len(list(csv.DictReader(io.StringIO(mine.text)))) == 10
    theirs = await harness.client.get(
        f"{other_base}/exports/events",
        params={"format": "csv", **window(first_day)},
        headers=project.owner.headers,
    )
    assert [row["developer_id"] for row in csv.DictReader(io.StringIO(theirs.text))] == [
        "elsewhere"
    ]
    series = await harness.client.get(
        f"{other_base}/exports/timeseries", params=window(first_day), headers=project.owner.headers
    )
    assert [row["events"] for row in csv.DictReader(io.StringIO(series.text))] == ["1", "0", "0"]


async def test_timeseries_is_daily_and_zero_filled(
    harness: Harness, project: AnalyticsProject, first_day: date
) -> None:
    params = {
        "since": midnight(first_day).isoformat(),
        "until": midnight(first_day + timedelta(days=5)).isoformat(),
    }
    response = await download(harness, project, "timeseries", format="csv", **params)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    last_day = first_day + timedelta(days=4)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="prodlens-export-pilot-timeseries-{first_day}-{last_day}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "date",
        "events",
        "errors",
        "accepted",
        "rejected",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cost_usd",
    ]
    assert [row["date"] for row in rows] == [
        (first_day + timedelta(days=offset)).isoformat() for offset in range(5)
    ]
    # Days 0-2: events 0-9 by number % 3; day 3: the event just after the window above.
    assert [int(row["events"]) for row in rows] == [4, 3, 3, 1, 0]
    assert [int(row["errors"]) for row in rows] == [0, 1, 0, 0, 0]
    assert [int(row["accepted"]) for row in rows] == [0, 1, 0, 0, 0]
    assert [float(row["cost_usd"]) for row in rows][:3] == pytest.approx([1.0, 0.75, 0.75])
    assert int(rows[0]["total_tokens"]) == 4 * 1200

    parquet = await download(harness, project, "timeseries", format="parquet", **params)
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("date").to_pylist() == [
        first_day + timedelta(days=offset) for offset in range(5)
    ]
    assert table.column("events").to_pylist() == [4, 3, 3, 1, 0]
    assert str(table.schema.field("events").type) == "int64"
    assert str(table.schema.field("cost_usd").type) == "double"


async def test_bad_export_parameters_are_problems(
    harness: Harness, project: AnalyticsProject
) -> None:
    cases = [
        ("events", {"format": "xlsx"}, "validation.failed"),
        ("timeseries", {"interval": "hour"}, "validation.failed"),
        ("events", {"since": "2020-01-01T00:00:00Z", "until": "2021-06-01T00:00:00Z"},
         "analytics.invalid_window"),
        ("timeseries", {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
         "analytics.invalid_window"),
    ]  # fmt: skip
    for what, params, code in cases:
        response = await harness.client.get(
            f"{project.base}/exports/{what}", params=params, headers=project.owner.headers
        )
        assert response.status_code == 422, (what, params, response.text)
        assert response.json()["code"] == code
