"""GitHub Copilot per-user daily records shaped as GitHub documents them (github/docs:
content/copilot/reference/copilot-usage-metrics/example-schema.md), and the figures a
small report of them adds up to."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

ACTIVITY = (
    "code_generation_activity_count",
    "code_acceptance_activity_count",
    "loc_suggested_to_add_sum",
    "loc_suggested_to_delete_sum",
    "loc_added_sum",
    "loc_deleted_sum",
)


def _activity(
    generations: int, acceptances: int, suggested: int, added: int, deleted: int = 0
) -> dict[str, int]:
    return dict(
        zip(ACTIVITY, (generations, acceptances, suggested, 0, added, deleted), strict=True)
    )


def user_record(
    day: date,
    login: str,
    *,
    user_id: int,
    rows: Sequence[tuple[str, str, int, int, int, int, int]],
    ides: Sequence[str] = ("vscode",),
    chat_models: dict[str, str] | None = None,
    interactions: dict[str, int] | None = None,
    extra_generations: int = 0,
    cli: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`rows`: (feature, language, generations, acceptances, suggested, added, deleted);
    `extra_generations` are in the top-level total but in no breakdown."""
    totals = dict.fromkeys(ACTIVITY, 0)
    language_feature = []
    by_feature: dict[str, dict[str, int]] = {}
    for feature, language, generations, acceptances, suggested, added, deleted in rows:
        activity = _activity(generations, acceptances, suggested, added, deleted)
        language_feature.append({"feature": feature, "language": language, **activity})
        feature_totals = by_feature.setdefault(feature, dict.fromkeys(ACTIVITY, 0))
        for name, value in activity.items():
            totals[name] += value
            feature_totals[name] += value
    totals["code_generation_activity_count"] += extra_generations
    interactions = interactions or {}
    record: dict[str, Any] = {
        "day": day.isoformat(),
        "enterprise_id": "1",
        "user_id": user_id,
        "user_login": login,
        "user_initiated_interaction_count": sum(interactions.values()),
        **totals,
        "totals_by_feature": [
            {
                "feature": feature,
                "user_initiated_interaction_count": interactions.get(feature, 0),
                **values,
            }
            for feature, values in by_feature.items()
        ],
        "totals_by_ide": [
            {
                "ide": ide,
                "user_initiated_interaction_count": 0,
                # Split between the IDEs: the IDE family repeats the same totals.
                **{name: value // len(ides) for name, value in totals.items()},
                "last_known_ide_version": {"ide_version": "1.99.0", "sampled_at": day.isoformat()},
            }
            for ide in ides
        ],
        "totals_by_language_feature": language_feature,
        "totals_by_language_model": [],
        "totals_by_model_feature": [
            {"feature": feature, "model": model, **by_feature.get(feature, {})}
            for feature, model in (chat_models or {}).items()
        ],
        "used_agent": any(row[0] == "agent_edit" for row in rows),
        "used_chat": any(row[0].startswith("chat") for row in rows),
        "used_cli": cli is not None,
        "etl_id": "green",
        "day_partition": day.isoformat(),
    }
    if cli is not None:
        record["totals_by_cli"] = cli
    return record


def small_report(today: date) -> list[dict[str, Any]]:
    """Two users over two days (see SMALL_TOTALS)."""
    day1, day2 = today - timedelta(days=3), today - timedelta(days=2)
    return [
        user_record(
            day1,
            "ana",
            user_id=11,
            rows=[
                ("code_completion", "python", 30, 9, 60, 18, 0),
                ("chat_panel_ask_mode", "python", 10, 4, 40, 16, 0),
                ("agent_edit", "python", 0, 0, 0, 50, 10),
            ],
            chat_models={"chat_panel_ask_mode": "gpt-4.1"},
            interactions={"chat_panel_ask_mode": 5},
            cli={
                "session_count": 2,
                "request_count": 7,
                "prompt_count": 3,
                "token_usage": {"output_tokens_sum": 500, "prompt_tokens_sum": 3800},
            },
        ),
        user_record(
            day1,
            "ben",
            user_id=12,
            rows=[("code_completion", "go", 20, 5, 30, 6, 0)],
            ides=("vscode", "jetbrains"),
            extra_generations=2,
        ),
        user_record(
            day2,
            "ana",
            user_id=11,
            rows=[("code_completion", "typescript", 10, 2, 20, 5, 0)],
        ),
    ]


# What small_report adds up to.
SMALL_TOTALS = {
    "code_generations": 40 + 22 + 10,
    "code_acceptances": 13 + 5 + 2,
    "lines_suggested_added": 100 + 30 + 20,
    "lines_added": 84 + 6 + 5,  # with ana's 50 agent-edit lines
    "lines_deleted": 10,
    "interactions": 5,
}
# Acceptance by lines leaves agent edits out: (18 + 16) + 6 + 5 = 45 of 150 suggested.
LINES_FROM_SUGGESTIONS = 45


def ndjson(records: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()
