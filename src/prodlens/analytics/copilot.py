"""GitHub Copilot usage metrics: the per-user daily report, as daily facts.

Where the schema comes from: GitHub's Copilot usage metrics REST API (2025-10 on),
https://docs.github.com/en/rest/copilot/copilot-usage-metrics: `GET /orgs/{org}/
copilot/metrics/reports/users-1-day?day=YYYY-MM-DD` (and `/enterprises/{enterprise}/…`,
`…/users-28-day/latest`) answer `{download_links: [...], report_day}` (or
`report_start_day`/`report_end_day`); the links serve NDJSON, one record per user and
day. The fields are those of "Data available in Copilot usage metrics" and "Example
schema for Copilot usage metrics" (github/docs: content/copilot/reference/
copilot-usage-metrics/copilot-usage-metrics.md and example-schema.md).

One record → facts of source "copilot" for (day, `user_login`):

| report field | metric |
|---|---|
| `user_initiated_interaction_count` | `interactions` |
| `code_generation_activity_count` | `code_generations` |
| `code_acceptance_activity_count` | `code_acceptances` |
| `loc_suggested_to_add_sum` | `lines_suggested_added` |
| `loc_suggested_to_delete_sum` | `lines_suggested_deleted` |
| `loc_added_sum` / `loc_deleted_sum` | `lines_added` / `lines_deleted` |
| `totals_by_cli` | `cli_sessions`, `cli_requests`, `cli_prompts`, `tokens` [type, feature=cli] |
| the record; `used_agent` / `used_chat` / `used_cli` | `active_days`; `mode_days` [mode] |

Breakdowns: the report gives several families of the same totals (by IDE, by feature,
by language and feature, by model and feature); summing two of them would count the day
twice. So each metric is split by ONE family: `totals_by_language_feature` (feature and
language) for generations, acceptances and lines, `totals_by_feature` for interactions
(the language family has no interaction count). The other families become dimensions
only where they are unambiguous: `ide` when the user used one IDE that day, `model`
when a feature used one model (GitHub's model breakdowns cover chat, not completions).
What the family does not account for of a top-level total is kept as a row without
those dimensions, so every metric sums to the report's own total.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.analytics.assistant_facts import Fact, replace_facts
from prodlens.kit.errors import ProblemError
from prodlens.kit.json_limits import UNSTORABLE, unstorable_text

SOURCE = "copilot"
MAX_REJECTIONS_LISTED = 20
_PARSE_INLINE_BYTES = 64 * 1024
_EARLIEST, _LATEST = date(2000, 1, 1), date(2200, 1, 1)

# Report field → metric, for the totals every family repeats.
ACTIVITY_FIELDS: dict[str, str] = {
    "code_generation_activity_count": "code_generations",
    "code_acceptance_activity_count": "code_acceptances",
    "loc_suggested_to_add_sum": "lines_suggested_added",
    "loc_suggested_to_delete_sum": "lines_suggested_deleted",
    "loc_added_sum": "lines_added",
    "loc_deleted_sum": "lines_deleted",
}
INTERACTIONS_FIELD = "user_initiated_interaction_count"
MODES = {"used_agent": "agent", "used_chat": "chat", "used_cli": "cli"}


class InvalidReport(ProblemError):
    status, code, title = 422, "copilot.invalid_report", "Not a Copilot per-user usage report"


class CopilotImport(BaseModel):
    """What an import of a Copilot usage report did."""

    records: int = Field(description="Per-user daily records read and stored.")
    days: int = Field(description="Distinct days among them.")
    developers: int = Field(description="Distinct users (`user_login`) among them.")
    facts: int = Field(description="Daily facts written (they replace what those days held).")
    duplicates: int = Field(
        description="Records for a (day, user) given earlier in the same report: the last wins."
    )
    rejected: int = Field(description="Lines or items that could not be read.")
    rejections: list[str] = Field(
        description=f"The first {MAX_REJECTIONS_LISTED} reasons, with line or item numbers."
    )


@dataclass
class ParsedReport:
    """Facts per (day, user), and what could not be read."""

    facts: dict[tuple[date, str], list[Fact]] = field(default_factory=dict)
    duplicates: int = 0
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)

    def reject(self, where: str, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_LISTED:
            self.rejections.append(f"{where}: {reason}")

    def add(self, day: date, developer: str, facts: list[Fact]) -> None:
        key = (day, developer)
        if key in self.facts:
            self.duplicates += 1
        self.facts[key] = facts

    def merge(self, other: ParsedReport) -> None:
        for (day, developer), facts in other.facts.items():
            self.add(day, developer, facts)
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        room = MAX_REJECTIONS_LISTED - len(self.rejections)
        self.rejections.extend(other.rejections[: max(room, 0)])


# --- one record --------------------------------------------------------------------------


class _Rejected(ValueError):
    pass


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if value > 0 else 0.0


def _text(value: Any, limit: int = 64) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip().replace("\x00", "")[:limit]
    return None


def _entries(record: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = record.get(name)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def _day(value: Any) -> date:
    if not isinstance(value, str):
        raise _Rejected("no `day` (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        raise _Rejected(f"`day` {value[:20]!r} is not a date") from None
    if not _EARLIEST <= day < _LATEST:
        raise _Rejected(f"`day` {day} is out of range")
    return day


def _single(entries: Iterable[Mapping[str, Any]], key: str) -> str | None:
    names = {name for entry in entries if (name := _text(entry.get(key))) is not None}
    return names.pop() if len(names) == 1 else None


def _split(
    day: date,
    developer: str,
    total: float,
    metric: str,
    parts: Iterable[tuple[dict[str, str | None], float]],
    base: Mapping[str, str | None],
) -> list[Fact]:
    """`total` split by one family; what the family leaves out stays undimensioned."""
    facts = []
    counted = 0.0
    for dimensions, value in parts:
        if value > 0:
            facts.append(Fact(day, developer, SOURCE, metric, value, {**base, **dimensions}))
            counted += value
    if total > counted:
        facts.append(Fact(day, developer, SOURCE, metric, total - counted, dict(base)))
    return facts


def record_facts(record: Any) -> tuple[date, str, list[Fact]]:
    """The facts of one per-user daily record; raises ValueError with the reason."""
    if not isinstance(record, Mapping):
        raise _Rejected("not a JSON object")
    if "day_totals" in record:
        raise _Rejected("an enterprise or organization total (`day_totals`), not a per-user record")
    if "download_links" in record:
        raise _Rejected(
            "the API's list of download links, not the report: download the files "
            "(or use `prodlens copilot fetch`)"
        )
    day = _day(record.get("day"))
    developer = _text(record.get("user_login"), 128)
    if developer is None:
        raise _Rejected("no `user_login`")

    ide = _single(
        (
            entry
            for entry in _entries(record, "totals_by_ide")
            if any(_number(entry.get(name)) for name in (*ACTIVITY_FIELDS, INTERACTIONS_FIELD))
        ),
        "ide",
    )
    models: dict[str, set[str]] = {}
    for entry in _entries(record, "totals_by_model_feature"):
        feature, model = _text(entry.get("feature")), _text(entry.get("model"), 128)
        if feature and model:
            models.setdefault(feature, set()).add(model)

    def model_of(feature: str | None) -> str | None:
        found = models.get(feature or "", set())
        return next(iter(found)) if len(found) == 1 else None

    base = {"ide": ide}
    facts: list[Fact] = [Fact(day, developer, SOURCE, "active_days", 1.0, {})]
    language_feature = _entries(record, "totals_by_language_feature")
    for report_field, metric in ACTIVITY_FIELDS.items():
        parts = []
        for entry in language_feature:
            feature = _text(entry.get("feature"))
            dimensions = {
                "feature": feature,
                "language": _text(entry.get("language")),
                "model": model_of(feature),
            }
            parts.append((dimensions, _number(entry.get(report_field))))
        facts += _split(day, developer, _number(record.get(report_field)), metric, parts, base)
    interaction_parts = []
    for entry in _entries(record, "totals_by_feature"):
        feature = _text(entry.get("feature"))
        dimensions = {"feature": feature, "model": model_of(feature)}
        interaction_parts.append((dimensions, _number(entry.get(INTERACTIONS_FIELD))))
    facts += _split(
        day,
        developer,
        _number(record.get(INTERACTIONS_FIELD)),
        "interactions",
        interaction_parts,
        base,
    )

    cli = record.get("totals_by_cli")
    if isinstance(cli, Mapping):
        for name, metric in (
            ("session_count", "cli_sessions"),
            ("request_count", "cli_requests"),
            ("prompt_count", "cli_prompts"),
        ):
            if value := _number(cli.get(name)):
                facts.append(Fact(day, developer, SOURCE, metric, value, {}))
        usage = cli.get("token_usage")
        if isinstance(usage, Mapping):
            for name, kind in (("prompt_tokens_sum", "input"), ("output_tokens_sum", "output")):
                if value := _number(usage.get(name)):
                    dimensions = {"type": kind, "feature": "cli"}
                    facts.append(Fact(day, developer, SOURCE, "tokens", value, dimensions))
    for flag, mode in MODES.items():
        if record.get(flag) is True:
            facts.append(Fact(day, developer, SOURCE, "mode_days", 1.0, {"mode": mode}))
    return day, developer, facts


# --- a whole report ----------------------------------------------------------------------


def _items(body: bytes) -> Iterator[tuple[str, Any]]:
    """(where, item) for a JSON array, one JSON object, or NDJSON; an unreadable NDJSON
    line is yielded as a `_Rejected`."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidReport("The report is not UTF-8 text.") from None
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # deep nesting: read per line
        document = None
    else:
        if isinstance(document, list):
            for number, item in enumerate(document, start=1):
                yield f"item {number}", item
            return
        if isinstance(document, Mapping):
            yield "the document", document
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"line {number}", _Rejected(f"not valid JSON ({exc.msg})")
        except RecursionError:
            yield f"line {number}", _Rejected("nested too deeply")


def parse_report(body: bytes, *, require_records: bool = True) -> ParsedReport:
    """Every record of a report file (NDJSON, a JSON array or one record). An upload
    with no readable record is refused (`require_records`); a downloaded file may be
    empty (a day nobody used Copilot)."""
    parsed = ParsedReport()
    for where, item in _items(body):
        if isinstance(item, _Rejected):
            parsed.reject(where, str(item))
            continue
        if (bad := unstorable_text(item)) is not None:  # PostgreSQL would fail the import
            parsed.reject(where, f"{bad} {UNSTORABLE}")
            continue
        try:
            day, developer, facts = record_facts(item)
        except ValueError as exc:
            parsed.reject(where, str(exc))
            continue
        parsed.add(day, developer, facts)
    if require_records and not parsed.facts:
        reasons = "; ".join(parsed.rejections[:3])
        raise InvalidReport(
            "No per-user record could be read" + (f": {reasons}." if reasons else "."),
            extra={"rejected": parsed.rejected},
        )
    return parsed


async def parse_report_off_loop(body: bytes, *, require_records: bool = True) -> ParsedReport:
    if len(body) > _PARSE_INLINE_BYTES:
        return await anyio.to_thread.run_sync(
            lambda: parse_report(body, require_records=require_records)
        )
    return parse_report(body, require_records=require_records)


async def store_parsed(
    session: AsyncSession, project_id: str, parsed: ParsedReport, now: datetime
) -> CopilotImport:
    """Replace what the report's (day, user) pairs held: importing a day twice counts it
    once. In the caller's transaction."""
    scope = sorted(parsed.facts)
    written = 0
    # Slices keep one statement's parameters within every database's limits.
    for start in range(0, len(scope), 200):
        pairs = scope[start : start + 200]
        facts = [fact for pair in pairs for fact in parsed.facts[pair]]
        written += await replace_facts(session, project_id, SOURCE, pairs, facts, now)
    # Copilot reports a GitHub login only (no email), so there is nothing to link
    # automatically; maintainers link logins to developers (…/developers/{id}/identities).
    return CopilotImport(
        records=len(scope),
        days=len({day for day, _ in scope}),
        developers=len({developer for _, developer in scope}),
        facts=written,
        duplicates=parsed.duplicates,
        rejected=parsed.rejected,
        rejections=list(parsed.rejections),
    )


async def import_report(
    session: AsyncSession,
    project_id: str,
    body: bytes,
    now: datetime,
    *,
    require_records: bool = True,
) -> CopilotImport:
    """Parse and store one report file (the upload route, the scheduled fetch)."""
    parsed = await parse_report_off_loop(body, require_records=require_records)
    return await store_parsed(session, project_id, parsed, now)


def report_days(parsed: ParsedReport) -> Sequence[date]:
    return sorted({day for day, _ in parsed.facts})
