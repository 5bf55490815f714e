"""GitHub Copilot usage reports: import (HTTP and `prodlens copilot import`), re-import
replacing a day, breakdowns without double counting, bad lines, the assistant KPIs
(Copilot's and Claude Code's) and the `…/assistants` read side."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from typer.testing import CliRunner

from prodlens.analytics.assistant_facts import Fact, add_facts
from prodlens.cli.main import cli
from tests.analytics.copilot_reports import (
    LINES_FROM_SUGGESTIONS,
    SMALL_TOTALS,
    ndjson,
    small_report,
    user_record,
)
from tests.analytics.helpers import AnalyticsProject, analytics_project
from tests.harness import Harness

COPILOT_KPIS = (
    "copilot_acceptance_by_activity",
    "copilot_acceptance_by_lines",
    "claude_code_edit_acceptance",
)


def _today(h: Harness) -> date:
    return h.clock.now().date()


async def _upload(h: Harness, p: AnalyticsProject, body: bytes, **headers: str) -> dict[str, Any]:
    response = await h.client.post(
        f"{p.base}/ingest/copilot",
        content=body,
        headers={"X-API-Key": p.ingest_key, "Content-Type": "application/x-ndjson", **headers},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _kpis(h: Harness, p: AnalyticsProject, **params: str) -> dict[str, dict[str, Any]]:
    response = await h.client.get(
        f"{p.base}/metrics", params=params, headers={"X-API-Key": p.read_key}
    )
    assert response.status_code == 200, response.text
    return {kpi["name"]: kpi for kpi in response.json()["kpis"] if kpi["name"] in COPILOT_KPIS}


async def _assistants(h: Harness, p: AnalyticsProject, **params: str) -> dict[str, Any]:
    response = await h.client.get(
        f"{p.base}/assistants", params=params, headers={"X-API-Key": p.read_key}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _groups(body: dict[str, Any], source: str = "copilot") -> dict[str | None, dict[str, float]]:
    return {
        group["group"]: group["metrics"] for group in body["groups"] if group["source"] == source
    }


async def test_a_report_imported_twice_counts_once(harness: Harness) -> None:
    project = await analytics_project(harness)
    body = ndjson(small_report(_today(harness)))

    first = await _upload(harness, project, body)
    assert (first["records"], first["days"], first["developers"]) == (3, 2, 2)
    assert (first["rejected"], first["duplicates"]) == (0, 0)
    kpis_once = await _kpis(harness, project)
    totals_once = await _assistants(harness, project, source="copilot")

    second = await _upload(harness, project, body)
    assert second["facts"] == first["facts"]
    assert await _kpis(harness, project) == kpis_once
    assert await _assistants(harness, project, source="copilot") == totals_once

    activity = kpis_once["copilot_acceptance_by_activity"]
    generations = SMALL_TOTALS["code_generations"]
    assert activity["label"] == "Copilot acceptance (by activity)"
    assert activity["value"] == pytest.approx(SMALL_TOTALS["code_acceptances"] / generations)
    assert (activity["sample_size"], activity["status"]) == (generations, "warning")
    lines = kpis_once["copilot_acceptance_by_lines"]
    suggested = SMALL_TOTALS["lines_suggested_added"]
    assert lines["label"] == "Copilot acceptance (by lines)"
    assert lines["value"] == pytest.approx(LINES_FROM_SUGGESTIONS / suggested)
    assert (lines["sample_size"], lines["status"]) == (suggested, "good")
    assert kpis_once["claude_code_edit_acceptance"]["value"] is None

    # The report's own totals, each counted once whatever the breakdowns.
    (totals,) = _groups(totals_once).values()
    for metric, value in SMALL_TOTALS.items():
        assert totals[metric] == value, metric
    assert totals["active_days"] == 3
    assert totals["cli_sessions"] == 2


async def test_breakdowns_add_up_to_the_report_totals(harness: Harness) -> None:
    project = await analytics_project(harness)
    await _upload(harness, project, ndjson(small_report(_today(harness))))

    for group_by in ("feature", "language", "ide", "model", "developer"):
        groups = _groups(await _assistants(harness, project, source="copilot", group_by=group_by))
        for metric in ("code_generations", "code_acceptances", "lines_added"):
            total = sum(metrics.get(metric, 0) for metrics in groups.values())
            assert total == SMALL_TOTALS[metric], (group_by, metric)

    by_feature = _groups(await _assistants(harness, project, group_by="feature"))
    assert by_feature["code_completion"]["code_generations"] == 30 + 20 + 10
    assert by_feature["chat_panel_ask_mode"]["interactions"] == 5
    assert by_feature["agent_edit"]["lines_added"] == 50
    # Ben's 2 generations outside every breakdown stay, undimensioned.
    assert by_feature[None]["code_generations"] == 2

    by_language = _groups(await _assistants(harness, project, group_by="language"))
    assert by_language["go"]["code_acceptances"] == 5
    assert by_language["typescript"]["lines_suggested_added"] == 20

    # Ana used one IDE; Ben two, so his rows have no IDE.
    by_ide = _groups(await _assistants(harness, project, group_by="ide"))
    assert by_ide["vscode"]["code_generations"] == 40 + 10
    assert by_ide[None]["code_generations"] == 22

    # GitHub names models for chat only.
    by_model = _groups(await _assistants(harness, project, group_by="model"))
    assert by_model["gpt-4.1"]["code_generations"] == 10
    assert by_model["gpt-4.1"]["interactions"] == 5

    by_developer = _groups(await _assistants(harness, project, group_by="developer"))
    assert by_developer["ana"]["code_generations"] == 50
    assert by_developer["ben"]["code_generations"] == 22
    assert by_developer["ana"]["tokens"] == 500 + 3800


async def test_reimporting_a_day_replaces_it(harness: Harness) -> None:
    project = await analytics_project(harness)
    today = _today(harness)
    await _upload(harness, project, ndjson(small_report(today)))
    # GitHub recomputed ana's first day: 8 generations, 8 accepted.
    corrected = user_record(
        today - timedelta(days=3),
        "ana",
        user_id=11,
        rows=[("code_completion", "python", 8, 8, 16, 16, 0)],
    )
    await _upload(harness, project, ndjson([corrected]))
    by_developer = _groups(await _assistants(harness, project, group_by="developer"))
    assert by_developer["ana"]["code_generations"] == 8 + 10
    assert by_developer["ana"]["code_acceptances"] == 8 + 2
    assert by_developer["ben"]["code_generations"] == 22  # another (day, user): untouched
    assert "tokens" not in by_developer["ana"]  # the corrected day has no CLI use


async def test_bad_lines_are_counted_and_the_rest_imported(harness: Harness) -> None:
    project = await analytics_project(harness)
    good = small_report(_today(harness))
    lines = [
        json.dumps(good[0]),
        "{not json",
        json.dumps({**good[1], "user_login": None}),
        json.dumps({**good[2], "day": "yesterday"}),
        json.dumps(good[2]),
        json.dumps(good[2]),
    ]
    result = await _upload(harness, project, "\n".join(lines).encode())
    assert (result["records"], result["rejected"], result["duplicates"]) == (2, 3, 1)
    assert result["rejections"][0].startswith("line 2: not valid JSON")
    assert result["rejections"][1] == "line 3: no `user_login`"
    assert result["rejections"][2] == "line 4: `day` 'yesterday' is not a date"

    # A JSON array names items, not lines.
    array = await _upload(
        harness,
        project,
        json.dumps([good[0], 7]).encode(),
        **{"Content-Type": "application/json"},
    )
    assert (array["records"], array["rejections"]) == (1, ["item 2: not a JSON object"])


async def test_what_is_not_a_per_user_report_is_refused(harness: Harness) -> None:
    project = await analytics_project(harness)
    for body, reason in (
        ({"download_links": ["https://example.com/r.ndjson"], "report_day": "2026-03-01"}, "link"),
        ({"day_totals": [], "enterprise_id": "1"}, "day_totals"),
    ):
        response = await harness.client.post(
            f"{project.base}/ingest/copilot",
            json=body,
            headers={"X-API-Key": project.ingest_key},
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "copilot.invalid_report"
        assert reason in response.json()["detail"]
    read_only = await harness.client.post(
        f"{project.base}/ingest/copilot", content=b"[]", headers={"X-API-Key": project.read_key}
    )
    assert read_only.status_code == 403


async def test_the_import_command_reports_bad_lines(harness: Harness, tmp_path: Path) -> None:
    project = await analytics_project(harness, name="Pilot")
    good = small_report(_today(harness))
    report = tmp_path / "copilot-users-1-day.ndjson"
    report.write_text("\n".join([json.dumps(good[0]), "oops", json.dumps(good[1])]) + "\n")
    env = {
        "DATABASE_URL": harness.settings.database_url,
        "PRODLENS_DATA_DIR": str(harness.settings.data_dir),
    }

    def invoke() -> tuple[int, str]:
        result = CliRunner().invoke(
            cli, ["copilot", "import", str(report), "--project", "pilot"], env=env
        )
        return result.exit_code, " ".join(result.output.split())

    for _ in range(2):  # twice: the same figures
        code, output = await anyio.to_thread.run_sync(invoke)
        assert code == 0, output
        assert "2 record(s) of 2 user(s) over 1 day(s)" in output
        assert "1 rejected" in output
        assert "rejected line 2: not valid JSON" in output
        by_developer = _groups(await _assistants(harness, project, group_by="developer"))
        assert by_developer["ana"]["code_generations"] == 40
        assert by_developer["ben"]["code_generations"] == 22

    report.write_text('{"download_links": []}\n')
    code, output = await anyio.to_thread.run_sync(invoke)
    assert code == 1
    assert "No per-user record could be read" in output


async def test_kpis_follow_the_developer_model_and_identity_links(harness: Harness) -> None:
    project = await analytics_project(harness)
    await _upload(harness, project, ndjson(small_report(_today(harness))))

    ben = await _kpis(harness, project, developer="ben")
    assert ben["copilot_acceptance_by_activity"]["value"] == pytest.approx(5 / 22)
    assert ben["copilot_acceptance_by_activity"]["sample_size"] == 22
    chat = await _kpis(harness, project, model="gpt-4.1")
    assert chat["copilot_acceptance_by_activity"]["value"] == pytest.approx(4 / 10)
    assert chat["copilot_acceptance_by_activity"]["status"] == "insufficient_data"  # 10 < 20

    # Ana's GitHub login linked to her email: her Copilot figures are the email's.
    linked = await harness.client.post(
        f"{project.base}/developers/ana@example.com/identities",
        json={"identity": "ana", "kind": "github"},
        headers=project.owner.headers,
    )
    assert linked.status_code == 201, linked.text
    ana = await _kpis(harness, project, developer="ana@example.com")
    assert ana["copilot_acceptance_by_activity"]["value"] == pytest.approx(15 / 50)
    by_developer = _groups(await _assistants(harness, project, group_by="developer"))
    assert set(by_developer) == {"ana@example.com", "ben"}
    filtered = _groups(await _assistants(harness, project, developer="ana@example.com"))
    assert filtered[None]["code_generations"] == 50


async def test_claude_code_edit_acceptance_reads_the_edit_decisions(harness: Harness) -> None:
    project = await analytics_project(harness)
    now = harness.clock.now()
    today = now.date()

    def decisions(day: date, developer: str, decision: str, count: int) -> Fact:
        dimensions = {"decision": decision, "tool": "Edit", "language": "Python"}
        return Fact(day, developer, "claude_code", "edit_decisions", count, dimensions)

    facts = [
        decisions(today, "ana@example.com", "accept", 18),
        decisions(today, "ana@example.com", "reject", 2),
        decisions(today - timedelta(days=1), "ben@example.com", "accept", 3),
        decisions(today - timedelta(days=1), "ben@example.com", "reject", 3),
        # Tool decisions (permission prompts) are not edit acceptance.
        Fact(today, "ana@example.com", "claude_code", "tool_decisions", 40, {"decision": "reject"}),
        # Outside the window: 40 days ago.
        decisions(today - timedelta(days=40), "ana@example.com", "reject", 50),
    ]
    async with harness.app.state.database.sessionmaker() as session, session.begin():
        await add_facts(session, project.project_id, facts, now)

    kpi = (await _kpis(harness, project))["claude_code_edit_acceptance"]
    assert kpi["label"] == "Claude Code edit acceptance"
    assert kpi["value"] == pytest.approx(21 / 26)
    assert (kpi["sample_size"], kpi["status"]) == (26, "good")
    ana = (await _kpis(harness, project, developer="ana@example.com"))[
        "claude_code_edit_acceptance"
    ]
    assert (ana["value"], ana["sample_size"]) == (pytest.approx(0.9), 20)

    # Facts are daily: a window ending early today still counts all of today.
    start_of_today = datetime.combine(today, time(), tzinfo=now.tzinfo)
    early = await _kpis(
        harness,
        project,
        since=(start_of_today - timedelta(days=1)).isoformat(),
        until=(start_of_today + timedelta(minutes=1)).isoformat(),
    )
    assert early["claude_code_edit_acceptance"]["sample_size"] == 26

    by_decision = _groups(
        await _assistants(harness, project, source="claude_code", group_by="decision"),
        "claude_code",
    )
    assert by_decision["accept"] == {"edit_decisions": 21}
    assert by_decision["reject"] == {"edit_decisions": 5, "tool_decisions": 40}


async def test_assistants_validation(harness: Harness) -> None:
    project = await analytics_project(harness)
    for params in (
        {"group_by": "colour"},
        {"source": "cursor"},
        {"since": "2026-02-01", "until": "2026-01-01"},
    ):
        response = await harness.client.get(
            f"{project.base}/assistants", params=params, headers={"X-API-Key": project.read_key}
        )
        assert response.status_code == 422, (params, response.text)
    empty = await _assistants(harness, project)
    assert empty["groups"] == []
