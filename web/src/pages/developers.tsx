// The developers of a project: the list with their totals (sorts and pages in the
// URL), and one developer's profile: totals, models, cost trend and the hour-of-week
// heatmap.
import "./developers.css";
import { useMemo } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../api/schema";
import { Chart } from "../components/chart";
import { Empty, ErrorBox, Loading } from "../components/states";
import { ViewControls } from "../components/view-controls";
import { formatCount, formatDate, formatDateTime, formatPercent, formatUsd } from "../lib/format";
import { useProject } from "../lib/project";
import { Link, type Location, withQuery } from "../lib/router";
import { useApi } from "../lib/useApi";
import { apiWindow, parseView } from "../lib/urlstate";
import type { PageProps } from "../routes";
import { Pager, parseSort, positiveInt, SortHeader, type SortState, sortToken } from "../components/table";

type DeveloperList = components["schemas"]["Page_DeveloperSummary_"];
type DeveloperProfile = components["schemas"]["DeveloperProfile"];
type Heatmap = components["schemas"]["Heatmap"];

const SORT_KEYS = ["developer_id", "events", "errors", "tokens", "cost", "last_active"] as const;
type DeveloperSortKey = (typeof SORT_KEYS)[number];
const DEFAULT_SORT: SortState<DeveloperSortKey> = { key: "events", descending: true };

/** "?a=1" for a non-empty query, "" otherwise. */
function search(query: URLSearchParams): string {
  return query.toString().replace(/^(?=.)/, "?");
}

/** The API answers these views unfiltered; say so when the URL carries a filter from another tab. */
function UnfilteredNote({ location }: { location: Location }) {
  const view = parseView(location.query);
  if (!view.developer && !view.model) return null;
  return <p class="muted">These figures take no developer or model filter: they cover the whole project.</p>;
}

// ---------------------------------------------------------------------------
// The list.

function acceptance(rate: number | null): string {
  return rate === null ? "–" : formatPercent(rate);
}

function DeveloperTable({ page, location, base }: { page: DeveloperList; location: Location; base: string }) {
  const sort = parseSort(location.query.get("sort"), SORT_KEYS, DEFAULT_SORT);
  const header = (label: string, key: DeveloperSortKey) => (
    <SortHeader
      label={label}
      sortKey={key}
      sort={sort}
      defaultSort={DEFAULT_SORT}
      location={location}
      descendingFirst={key !== "developer_id"}
      numeric={key !== "developer_id" && key !== "last_active"}
    />
  );
  return (
    <div class="table-wrap">
      <table aria-label="Developers">
        <thead>
          <tr>
            {header("Developer", "developer_id")}
            {header("Calls", "events")}
            <th scope="col" class="num">
              Sessions
            </th>
            {header("Tokens", "tokens")}
            {header("Cost", "cost")}
            <th scope="col" class="num">
              Acceptance
            </th>
            {header("Errors", "errors")}
            {header("Last active", "last_active")}
          </tr>
        </thead>
        <tbody>
          {page.items.map((developer) => (
            <tr key={developer.developer_id} data-developer-id={developer.developer_id}>
              <th scope="row" class="developer-name">
                <Link href={`${base}/developers/${encodeURIComponent(developer.developer_id)}${search(location.query)}`}>
                  {developer.developer_id}
                </Link>
              </th>
              <td class="num">{formatCount(developer.events)}</td>
              <td class="num">{formatCount(developer.sessions)}</td>
              <td class="num">{formatCount(developer.total_tokens)}</td>
              <td class="num">{formatUsd(developer.cost_usd)}</td>
              <td class="num">{acceptance(developer.acceptance_rate)}</td>
              <td class="num">{formatCount(developer.errors)}</td>
              <td>{developer.last_active ? formatDate(developer.last_active) : "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function DevelopersPage({ location }: PageProps) {
  const project = useProject();
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const page = positiveInt(location.query.get("page"), 1);
  const sort = sortToken(parseSort(location.query.get("sort"), SORT_KEYS, DEFAULT_SORT));
  const view = parseView(location.query);
  const developers = useApi(
    () =>
      must(
        api.GET("/api/v1/projects/{project_id}/developers", {
          params: { path: { project_id: project.id }, query: { ...apiWindow(view, new Date()), sort, page } },
        }),
      ),
    [project.id, view.preset, view.from, view.to, sort, page],
  );
  const data = developers.data;
  let body;
  if (!data) {
    body = developers.state === "error" ? null : <Loading label="Loading developers…" />;
  } else {
    const total = data.total_exact ? formatCount(data.total) : `More than ${formatCount(data.total)}`;
    const status = `Page ${formatCount(page)} of ${formatCount(Math.max(data.pages, 1))} · ${total} ${data.total === 1 ? "developer" : "developers"}`;
    body = (
      <>
        {data.items.length ? (
          <DeveloperTable page={data} location={location} base={base} />
        ) : page > 1 ? (
          <Empty title="No developers on this page">
            <Link href={withQuery(location, { page: null })}>Go to the first page</Link>
          </Empty>
        ) : (
          <Empty title="No developers">No call with a developer id in this window.</Empty>
        )}
        <Pager
          label="Developer pages"
          previous={page > 1 ? withQuery(location, { page: page > 2 ? String(page - 1) : null }) : null}
          next={page < data.pages ? withQuery(location, { page: String(page + 1) }) : null}
          status={status}
        />
      </>
    );
  }
  return (
    <section aria-labelledby="developers-title">
      <h2 id="developers-title">Developers</h2>
      <ViewControls location={location} projectId={project.id} models={project.allowed_models} filters={false} />
      <UnfilteredNote location={location} />
      {developers.state === "error" ? <ErrorBox error={developers.error} onRetry={developers.reload} /> : null}
      {body}
    </section>
  );
}

// ---------------------------------------------------------------------------
// The heatmap.

export const HEAT_STEPS = 4;

/**
 * The shade of a count: 0 for none, else 1..HEAT_STEPS on a square-root scale of the
 * busiest hour, so one runaway hour (an agent loop) does not wash out the rest of the
 * week. Level k holds the counts c with max·(k−1)²/S² < c ≤ max·k²/S², compared in
 * integers so the legend's ranges and the cells agree exactly.
 */
export function heatLevel(count: number, max: number): number {
  if (count <= 0 || max <= 0) return 0;
  for (let level = 1; level < HEAT_STEPS; level += 1) {
    if (count * HEAT_STEPS * HEAT_STEPS <= max * level * level) return level;
  }
  return HEAT_STEPS;
}

/** The whole counts each level holds, for the legend; levels that hold none are left out. */
export function heatLegend(max: number): { level: number; from: number; to: number }[] {
  const steps = [{ level: 0, from: 0, to: 0 }];
  const square = HEAT_STEPS * HEAT_STEPS;
  for (let level = 1; level <= HEAT_STEPS && max > 0; level += 1) {
    const from = Math.floor((max * (level - 1) * (level - 1)) / square) + 1;
    const to = level === HEAT_STEPS ? max : Math.floor((max * level * level) / square);
    if (from <= to) steps.push({ level, from, to });
  }
  return steps;
}

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const HOURS = Array.from({ length: 24 }, (_, hour) => hour);

function range(from: number, to: number): string {
  return from === to ? formatCount(from) : `${formatCount(from)}–${formatCount(to)}`;
}

function calls(count: number): string {
  return `${formatCount(count)} ${count === 1 ? "call" : "calls"}`;
}

export function HeatmapTable({ heatmap }: { heatmap: Heatmap }) {
  const days = heatmap.weekdays?.length === 7 ? heatmap.weekdays : WEEKDAYS;
  const max = Math.max(0, ...heatmap.counts.flat());
  const zone = heatmap.timezone ?? "UTC";
  return (
    <figure class="heatmap card">
      <div class="heatmap-wrap" tabIndex={0} role="region" aria-label="Heatmap, scrollable">
        <table class="heatmap-table">
          <caption>
            Calls by hour of the week ({zone}); darker cells had more calls.
          </caption>
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">Day</span>
              </th>
              {HOURS.map((hour) => (
                <th key={hour} scope="col" class={hour % 3 === 0 ? "hour" : "hour hour-minor"}>
                  {String(hour).padStart(2, "0")}
                  <span class="visually-hidden">:00</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {days.map((day, row) => (
              <tr key={day}>
                <th scope="row">{day}</th>
                {HOURS.map((hour) => {
                  const count = heatmap.counts[row]?.[hour] ?? 0;
                  return (
                    <td key={hour} class={`heat heat-${heatLevel(count, max)}`} title={`${day} ${String(hour).padStart(2, "0")}:00 · ${calls(count)}`}>
                      <span class="visually-hidden">{calls(count)}</span>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <figcaption class="heat-legend">
        <span class="muted">Calls per hour:</span>
        <ul>
          {heatLegend(max).map((step) => (
            <li key={step.level}>
              <span class={`heat-swatch heat-${step.level}`} aria-hidden="true" />
              {range(step.from, step.to)}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

// ---------------------------------------------------------------------------
// The profile.

function Stat({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <div class="card stat">
      <p class="stat-label">{label}</p>
      <p class="stat-value">{value}</p>
      {detail ? <p class="muted stat-detail">{detail}</p> : null}
    </div>
  );
}

function Totals({ profile }: { profile: DeveloperProfile }) {
  const { totals, acceptance: accepted } = profile;
  return (
    <div class="grid developer-totals">
      <Stat label="Calls" value={formatCount(totals.events)} />
      <Stat label="Sessions" value={formatCount(totals.sessions)} />
      <Stat
        label="Errors"
        value={formatCount(totals.errors)}
        detail={totals.error_rate === null ? undefined : `${formatPercent(totals.error_rate)} of calls`}
      />
      <Stat
        label="Tokens"
        value={formatCount(totals.total_tokens)}
        detail={`${formatCount(totals.input_tokens)} in · ${formatCount(totals.output_tokens)} out`}
      />
      <Stat label="Cost" value={formatUsd(totals.cost_usd)} />
      <Stat
        label="Acceptance"
        value={accepted.rate === null ? "No decisions" : formatPercent(accepted.rate)}
        detail={`${formatCount(accepted.accepted)} accepted · ${formatCount(accepted.rejected)} rejected`}
      />
      <Stat
        label="Lines accepted"
        value={formatCount(accepted.lines_accepted)}
        detail={`of ${formatCount(accepted.lines_suggested)} suggested`}
      />
      <Stat label="Last active" value={profile.last_active ? formatDateTime(profile.last_active) : "–"} />
    </div>
  );
}

function ModelsTable({ models }: { models: DeveloperProfile["models"] }) {
  if (models.length === 0) return <Empty title="No models">No call in this window.</Empty>;
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Models used, scrollable">
      <table aria-label="Models used">
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col" class="num">
              Calls
            </th>
            <th scope="col" class="num">
              Share of calls
            </th>
            <th scope="col" class="num">
              Tokens
            </th>
            <th scope="col" class="num">
              Cost
            </th>
          </tr>
        </thead>
        <tbody>
          {models.map((model) => (
            <tr key={model.model ?? ""}>
              <th scope="row" class="developer-name">
                {model.model ?? <span class="muted">No model named</span>}
              </th>
              <td class="num">{formatCount(model.events)}</td>
              <td class="num">{formatPercent(model.share)}</td>
              <td class="num">{formatCount(model.total_tokens)}</td>
              <td class="num">{formatUsd(model.cost_usd)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CostTrend({ trend }: { trend: DeveloperProfile["cost_trend"] }) {
  // Chart redraws when its arrays change identity: build them once per answer.
  const x = useMemo(() => trend.map((day) => Date.parse(`${day.date}T00:00:00Z`) / 1000), [trend]);
  const series = useMemo(() => [{ label: "Cost", values: trend.map((day) => day.cost_usd) }], [trend]);
  if (trend.length === 0) return <Empty title="No cost in this window" />;
  return <Chart title="Cost per UTC day" x={x} series={series} format={formatUsd} bars />;
}

/** The sessions list filtered to one developer, over the same window. */
function sessionsOf(base: string, location: Location, developerId: string): string {
  const query = new URLSearchParams();
  for (const key of ["window", "from", "to"]) {
    const value = location.query.get(key);
    if (value) query.set(key, value);
  }
  query.set("developer", developerId);
  return `${base}/sessions?${query}`;
}

export function DeveloperPage({ params, location }: PageProps) {
  const project = useProject();
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const developerId = params.developer ?? "";
  const view = parseView(location.query);
  const profile = useApi(
    () =>
      must(
        api.GET("/api/v1/projects/{project_id}/developers/{developer_id}", {
          params: { path: { project_id: project.id, developer_id: developerId }, query: apiWindow(view, new Date()) },
        }),
      ),
    [project.id, developerId, view.preset, view.from, view.to],
  );
  const data = profile.data;
  return (
    <section aria-labelledby="developer-title">
      <p class="back-link">
        <Link href={`${base}/developers${search(location.query)}`}>← All developers</Link>
      </p>
      <h2 id="developer-title">{developerId}</h2>
      <ViewControls location={location} projectId={project.id} models={project.allowed_models} filters={false} />
      {profile.state === "error" ? <ErrorBox error={profile.error} onRetry={profile.reload} /> : null}
      {data ? (
        <>
          <p class="muted">
            {formatDate(data.since)} to {formatDateTime(data.until)} · {formatCount(data.days)} UTC days ·{" "}
            <Link href={sessionsOf(base, location, developerId)}>This developer's sessions</Link>
          </p>
          <Totals profile={data} />
          <h3>Models used</h3>
          <ModelsTable models={data.models} />
          <h3>Cost trend</h3>
          <CostTrend trend={data.cost_trend} />
          <h3>When they work</h3>
          <HeatmapTable heatmap={data.heatmap} />
        </>
      ) : profile.state === "loading" ? (
        <Loading label="Loading profile…" />
      ) : null}
    </section>
  );
}
