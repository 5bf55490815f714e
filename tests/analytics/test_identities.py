"""One developer across sources: identities linked to a developer count as that
developer in every KPI, list, profile, series, session and export; unlinking gives
back exactly the figures from before."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from prodlens.analytics.identities import Sighting, load_identity_map, record_sightings
from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.harness import Harness

ALICE = "alice@example.com"
# The same person as LiteLLM's end user and as a GitHub login.
ALICE_LITELLM, ALICE_GITHUB = "alice", "alice-gh"
BOB = "bob@example.com"


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


@pytest.fixture
async def day0(harness: Harness, project: AnalyticsProject) -> datetime:
    """Calls by Alice under three identities and by Bob, over three days; Alice's
    commits under her GitHub login."""
    today = harness.clock.now().date()
    day0 = datetime.combine(today - timedelta(days=3), time(), tzinfo=UTC)
    events = [
        event(1, day0 + timedelta(hours=9), developer_id=ALICE, session_id="s1", cost_usd=1.0,
              accepted=True),
        # the same hour as event 1 under another identity: still one developer-hour
        event(2, day0 + timedelta(hours=9, minutes=20), developer_id=ALICE_LITELLM,
              session_id="s2", cost_usd=2.0, accepted=False),
        event(3, day0 + timedelta(days=1, hours=10), developer_id=ALICE_GITHUB,
              session_id="s3", cost_usd=4.0, accepted=True),
        event(4, day0 + timedelta(days=1, hours=11), developer_id=BOB, session_id="s4",
              cost_usd=8.0),
    ]  # fmt: skip
    response = await harness.client.post(
        f"{project.base}/ingest/events", json=events, headers={"X-API-Key": project.ingest_key}
    )
    assert response.json()["summary"]["accepted"] == 4, response.text
    await harness.sql(
        "INSERT INTO commits (project_id, repo, sha, author, message, committed_at) "
        "VALUES (:p, 'acme/app', 'c1', 'Alice-GH', 'fix', :at)",
        p=project.project_id,
        at=day0 + timedelta(days=1, hours=12),
    )
    return day0


def _window(day0: datetime) -> dict[str, str]:
    return {"since": day0.isoformat(), "until": (day0 + timedelta(days=3)).isoformat()}


async def _developers(harness: Harness, project: AnalyticsProject, day0: datetime) -> Any:
    response = await harness.client.get(
        f"{project.base}/developers",
        params={**_window(day0), "sort": "developer_id"},
        headers=project.owner.headers,
    )
    assert response.status_code == 200, response.text
    return {item["developer_id"]: item for item in response.json()["items"]}


async def _raw(
    harness: Harness, project: AnalyticsProject, day0: datetime, **params: str
) -> dict[str, Any]:
    response = await harness.client.get(
        f"{project.base}/metrics/raw",
        params={**_window(day0), **params},
        headers=project.owner.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _link(
    harness: Harness, project: AnalyticsProject, developer: str, identity: str, kind: str
) -> Any:
    return await harness.client.post(
        f"{project.base}/developers/{developer}/identities",
        json={"identity": identity, "kind": kind},
        headers=project.owner.headers,
    )


async def test_linked_identities_count_as_one_developer_everywhere(
    harness: Harness, project: AnalyticsProject, day0: datetime
) -> None:
    before_list = await _developers(harness, project, day0)
    assert set(before_list) == {ALICE, ALICE_LITELLM, ALICE_GITHUB, BOB}
    before_team = await _raw(harness, project, day0)
    assert before_team["active_developers"] == 4

    for identity, kind in ((ALICE_LITELLM, "litellm"), (ALICE_GITHUB, "github")):
        linked = await _link(harness, project, ALICE, identity, kind)
        assert linked.status_code == 201, linked.text
        assert linked.json()["automatic"] is False

    # The list: one row for Alice with the sums of her three identities.
    developers = await _developers(harness, project, day0)
    assert set(developers) == {ALICE, BOB}
    assert developers[ALICE]["events"] == 3
    assert developers[ALICE]["cost_usd"] == pytest.approx(7.0)
    assert developers[ALICE]["sessions"] == 3
    assert developers[ALICE]["acceptance_rate"] == pytest.approx(2 / 3)

    # KPIs and raw sums, filtered by the developer or by any of her identities.
    for name in (ALICE, ALICE_GITHUB):
        alice = await _raw(harness, project, day0, developer=name)
        assert alice["developer"] == ALICE
        assert alice["events"] == 3
        assert alice["cost_usd"] == pytest.approx(7.0)
        assert alice["active_developer_hours"] == 2  # 09:00 counted once, then 10:00
        assert alice["developer_days"] == 2
        assert alice["commits"] == 1  # by her GitHub login, case aside
    team = await _raw(harness, project, day0)
    assert team["active_developers"] == 2
    assert team["events"] == before_team["events"]
    assert team["cost_usd"] == pytest.approx(before_team["cost_usd"])

    # The profile, asked for by an identity, is the developer's.
    profile = await harness.client.get(
        f"{project.base}/developers/{ALICE_LITELLM}",
        params=_window(day0),
        headers=project.owner.headers,
    )
    assert profile.status_code == 200, profile.text
    assert profile.json()["developer_id"] == ALICE
    assert profile.json()["totals"]["events"] == 3

    # Sessions carry the developer, and filter by it.
    sessions = await harness.client.get(
        f"{project.base}/sessions", params={"developer": ALICE}, headers=project.owner.headers
    )
    assert sessions.status_code == 200, sessions.text
    items = sessions.json()["items"]
    assert sorted(item["session_id"] for item in items) == ["s1", "s2", "s3"]
    assert {item["developer_id"] for item in items} == {ALICE}

    # A time series of active developers counts people, not identities.
    series = await harness.client.get(
        f"{project.base}/metrics/timeseries",
        params={**_window(day0), "metric": "active_developers", "interval": "day"},
        headers=project.owner.headers,
    )
    assert series.status_code == 200, series.text
    assert [point["value"] for point in series.json()["points"]] == [1, 2, 0]

    # The export names the developer and keeps the identity each source sent.
    export = await harness.client.get(
        f"{project.base}/exports/events",
        params={**_window(day0), "format": "csv"},
        headers=project.owner.headers,
    )
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    by_event = {row["event_id"]: (row["developer_id"], row["identity"]) for row in rows}
    assert by_event["evt-2"] == (ALICE, ALICE_LITELLM)
    assert by_event["evt-4"] == (BOB, BOB)

    # Unlinking gives back exactly the figures from before.
    listed = await harness.client.get(
        f"{project.base}/developers/{ALICE}/identities", headers=project.owner.headers
    )
    assert [item["identity"] for item in listed.json()["items"]] == [ALICE_LITELLM, ALICE_GITHUB]
    for item in listed.json()["items"]:
        removed = await harness.client.delete(
            f"{project.base}/developers/{ALICE}/identities/{item['id']}",
            headers=project.owner.headers,
        )
        assert removed.status_code == 204, removed.text
    assert await _developers(harness, project, day0) == before_list
    assert await _raw(harness, project, day0) == before_team


async def test_links_are_one_step_unique_and_for_maintainers(
    harness: Harness, project: AnalyticsProject, day0: datetime
) -> None:
    first = await _link(harness, project, ALICE, ALICE_GITHUB, "github")
    assert first.status_code == 201
    again = await _link(harness, project, ALICE, ALICE_GITHUB, "github")
    assert again.status_code == 200  # already so: nothing changes
    assert again.json()["id"] == first.json()["id"]

    taken = await _link(harness, project, BOB, ALICE_GITHUB, "github")
    assert taken.status_code == 409
    assert taken.json()["code"] == "identities.taken"
    to_itself = await _link(harness, project, BOB, BOB, "email")
    assert to_itself.status_code == 422
    assert to_itself.json()["code"] == "identities.chained"
    chained = await _link(harness, project, ALICE_GITHUB, "someone", "other")
    assert chained.status_code == 422  # alice-gh is itself an identity of Alice
    assert chained.json()["code"] == "identities.chained"
    # A developer with identities of its own cannot become another's identity.
    under = await _link(harness, project, BOB, ALICE, "email")
    assert under.status_code == 422
    assert under.json()["code"] == "identities.chained"
    bad = await harness.client.post(
        f"{project.base}/developers/{BOB}/identities",
        json={"identity": "", "kind": "fax"},
        headers=project.owner.headers,
    )
    assert bad.status_code == 422

    viewer = await harness.signup("viewer")
    added = await harness.client.post(
        f"{project.base}/members",
        json={"user": "viewer", "role": "viewer"},
        headers=project.owner.headers,
    )
    assert added.status_code == 201, added.text
    readable = await harness.client.get(
        f"{project.base}/developers/{ALICE}/identities", headers=viewer.headers
    )
    assert readable.status_code == 200
    denied = await harness.client.post(
        f"{project.base}/developers/{BOB}/identities",
        json={"identity": "bobby", "kind": "other"},
        headers=viewer.headers,
    )
    assert denied.status_code == 403
    gone = await harness.client.delete(
        f"{project.base}/developers/{BOB}/identities/{first.json()['id']}",
        headers=project.owner.headers,
    )
    assert gone.status_code == 404  # the link is Alice's, not Bob's
    audit = await harness.sql(
        "SELECT event_type FROM audit_events WHERE event_type LIKE 'developer.identity%'"
    )
    assert [row[0] for row in audit] == ["developer.identity_linked"]


async def test_sightings_link_an_identity_to_the_developer_of_its_email(
    harness: Harness, project: AnalyticsProject
) -> None:
    now = harness.clock.now()
    for identity in ("alice-laptop", "alice.work@example.com"):
        linked = await _link(harness, project, ALICE, identity, "other")
        assert linked.status_code == 201
    async with harness.app.state.database.sessionmaker() as session, session.begin():
        made = await record_sightings(
            session,
            project.project_id,
            [
                Sighting("uuid-alice", "otel", email=ALICE),
                # The email is itself an identity of Alice: the link goes to Alice.
                Sighting("uuid-alice-2", "otel", email="alice.work@example.com"),
                Sighting("uuid-bob", "otel", email=BOB),
                Sighting(BOB, "email", email=BOB),  # the email itself: nothing to link
                Sighting("uuid-nobody", "otel", email="not an email"),
                Sighting("alice-laptop", "otel", email=BOB),  # already linked: stays
            ],
            now,
        )
    assert made == 3
    async with harness.app.state.database.sessionmaker() as session:
        links = await load_identity_map(session, project.project_id)
    assert links.links == {
        "alice-laptop": ALICE,
        "alice.work@example.com": ALICE,
        "uuid-alice": ALICE,
        "uuid-alice-2": ALICE,
        "uuid-bob": BOB,
    }
    listed = await harness.client.get(
        f"{project.base}/developers/{BOB}/identities", headers=project.owner.headers
    )
    assert [(i["identity"], i["automatic"]) for i in listed.json()["items"]] == [("uuid-bob", True)]
