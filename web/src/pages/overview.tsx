// A project's overview: usage totals, KPI cards, trends with the insights' anomalies
// marked, and the latest sessions, for the window and filters in the URL, kept up to
// date by the live feed.
//
// Loading order is for the first paint: the KPI report and the raw sums go first, in
// parallel (with the small sessions list); the charts and the slower insights start
// once those have answered, so they do not compete with the cards for the server.
// A change of window or filter keeps the previous numbers on screen until the new ones
// arrive.
import "./overview.css";
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components, operations } from "../api/schema";
import { Chart, type ChartSeries } from "../components/chart";
import { KpiCard } from "../components/kpi-card";
import { Empty, ErrorBox, Loading } from "../components/states";
import { ViewControls } from "../components/view-controls";
import {
  formatCount,
  formatDate,
  formatDateTime,
  formatDuration,
  formatPercent,
  formatUsd,
} from "../lib/format";
import { type EventsBatch, type LiveStatus, type ResyncReason, useCoalescer, useProjectFeed } from "../lib/live";
import { useProject } from "../lib/project";
import { Link, match, withQuery } from "../lib/router";
import { apiFilters, apiWindow, type Bucket, DEFAULT_PRESET, parseView, type ViewState, viewQuery } from "../lib/urlstate";
import { type Loaded, useApi } from "../lib/useApi";
import type { PageProps } from "../routes";

type RawMetrics = components["schemas"]["RawMetrics"];
type KpiReport = components["schemas"]["KpiReport"];
type SessionList = components["schemas"]["LlmSessionList"];
type Session = SessionList["items"][number];
type TimeSeries = components["schemas"]["TimeSeries"];
type InsightsReport = components["schemas"]["InsightsReport"];
type AnomalyName = components["schemas"]["AnomalySeries"]["name"];
type Outlier = components["schemas"]["Outlier"];
type Metric = NonNullable<NonNullable<operations["project_timeseries"]["parameters"]["query"]>["metric"]>;

const LATEST_SESSIONS = 10;

/** The API query of a view: its window at this moment and its filters. */
function viewParams(view: ViewState) {
  return { ...apiWindow(view, new Date()), ...apiFilters(view) };
}

function loadKpis(projectId: string, view: ViewState): Promise<KpiReport> {
  return must(
    api.GET("/api/v1/projects/{project_id}/metrics", {
      params: { path: { project_id: projectId }, query: viewParams(view) },
    }),
  );
}

function loadRaw(projectId: string, view: ViewState): Promise<RawMetrics> {
  return must(
    api.GET("/api/v1/projects/{project_id}/metrics/raw", {
      params: { path: { project_id: projectId }, query: viewParams(view) },
    }),
  );
}

// ---------------------------------------------------------------------------
// A direct visit's first paint. This module is loaded while the app still asks who is
// signed in and then which project this is (app.tsx, project-frame.tsx); asking for
// the KPI report and the raw sums right then, instead of after both answers, saves
// those round trips before the cards can show. The page takes the answers over when
// they are for its project and view and still fresh; a failed one is simply dropped.

const EARLY_TTL_MS = 10_000;

interface EarlyAnswers {
  kpis: Promise<KpiReport>;
  raw: Promise<RawMetrics>;
}

interface Early {
  projectId: string;
  viewKey: string;
  at: number;
  answers: Partial<EarlyAnswers>;
}

let early: Early | null = null;

/** What identifies a view's data: its URL parameters. */
function viewKeyOf(view: ViewState): string {
  return JSON.stringify(viewQuery(view));
}

function startEarly(): void {
  const params = match("/projects/:project", window.location.pathname);
  if (!params?.project) return;
  const view = parseView(new URLSearchParams(window.location.search));
  const answers: EarlyAnswers = { kpis: loadKpis(params.project, view), raw: loadRaw(params.project, view) };
  const entry: Early = {
    projectId: params.project,
    viewKey: viewKeyOf(view),
    at: Date.now(),
    answers: { ...answers },
  };
  // A refused request (signed out, no such project) must not be served to the page later.
  answers.kpis.catch(() => delete entry.answers.kpis);
  answers.raw.catch(() => delete entry.answers.raw);
  early = entry;
}

/** The early answer for this view, once: later loads of the page ask the API. */
function takeEarly<K extends keyof EarlyAnswers>(what: K, projectId: string, viewKey: string): EarlyAnswers[K] | null {
  if (!early || early.projectId !== projectId || early.viewKey !== viewKey) return null;
  if (Date.now() - early.at >= EARLY_TTL_MS) return null;
  const answer = early.answers[what] ?? null;
  delete early.answers[what];
  return answer;
}

startEarly();

// ---------------------------------------------------------------------------
// Usage totals (GET …/metrics/raw).

interface StatDef {
  /** `data-stat` of the card: the RawMetrics field it shows. */
  stat: string;
  label: string;
  value: (raw: RawMetrics) => number | null;
  format: (value: number) => string;
  detail: (raw: RawMetrics) => string;
}

const STATS: StatDef[] = [
  {
    stat: "events",
    label: "Events",
    value: (raw) => raw.events,
    format: formatCount,
    detail: (raw) => `${formatCount(raw.errors)} ${raw.errors === 1 ? "error" : "errors"}`,
  },
  {
    stat: "cost_usd",
    label: "Cost",
    value: (raw) => raw.cost_usd,
    format: formatUsd,
    detail: (raw) => (raw.events > 0 ? `${formatUsd(raw.cost_usd / raw.events)} per call` : "No calls"),
  },
  {
    stat: "total_tokens",
    label: "Tokens",
    value: (raw) => raw.total_tokens,
    format: formatCount,
    detail: (raw) => `${formatCount(raw.input_tokens)} in · ${formatCount(raw.output_tokens)} out`,
  },
  {
    stat: "sessions",
    label: "Sessions",
    value: (raw) => raw.sessions,
    format: formatCount,
    // Sessions span models, so the API does not count them under a model filter.
    detail: (raw) => (raw.sessions === null ? "Not counted under a model filter" : "Started in the window"),
  },
  {
    stat: "active_developers",
    label: "Active developers",
    value: (raw) => raw.active_developers,
    format: formatCount,
    detail: (raw) => `${formatCount(raw.developer_days)} developer-days`,
  },
];

function StatCard({ def, raw }: { def: StatDef; raw: RawMetrics }) {
  const value = def.value(raw);
  return (
    <div class="card stat-card" data-stat={def.stat} data-value={value === null ? "" : String(value)}>
      <p class="stat-label">{def.label}</p>
      <p class="stat-value">{value === null ? "–" : def.format(value)}</p>
      <p class="stat-detail muted">{def.detail(raw)}</p>
    </div>
  );
}

// ---------------------------------------------------------------------------
// Shared: a section's states. Data stays on screen while a newer window loads.

function Loadable<T>({
  result,
  data,
  label,
  children,
}: {
  result: Loaded<T>;
  /** What to show: the answer, or the answer as live messages changed it. */
  data: T | null;
  label: string;
  children: (data: T) => ComponentChildren;
}) {
  const error = result.state === "error" ? <ErrorBox error={result.error} onRetry={result.reload} /> : null;
  if (data === null) return error ?? <Loading label={label} />;
  return (
    <>
      {error}
      {children(data)}
    </>
  );
}

// ---------------------------------------------------------------------------
// Trends (GET …/metrics/timeseries) with anomalies (GET …/insights).

interface ChartDef {
  id: string;
  title: string;
  series: { metric: Metric; label: string }[];
  format: (value: number) => string;
  bars?: boolean;
  /** The insights' anomaly series drawn on this chart. */
  anomalies?: AnomalyName[];
}

const CHARTS: ChartDef[] = [
  {
    id: "events",
    title: "Events",
    series: [{ metric: "events", label: "Events" }],
    format: formatCount,
    bars: true,
    anomalies: ["daily_events", "developer_day_events"],
  },
  {
    id: "cost",
    title: "Cost",
    series: [{ metric: "cost_usd", label: "Cost" }],
    format: formatUsd,
    anomalies: ["daily_cost_usd"],
  },
  { id: "tokens", title: "Tokens", series: [{ metric: "total_tokens", label: "Tokens" }], format: formatCount },
  {
    id: "acceptance",
    title: "Acceptance rate",
    series: [{ metric: "acceptance_rate", label: "Acceptance" }],
    format: formatPercent,
  },
  {
    id: "error-rate",
    title: "Error rate",
    series: [{ metric: "error_rate", label: "Error rate" }],
    format: formatPercent,
    anomalies: ["daily_error_rate"],
  },
  {
    id: "latency",
    title: "Latency percentiles",
    series: [
      { metric: "latency_p50", label: "p50" },
      { metric: "latency_p95", label: "p95" },
      { metric: "latency_p99", label: "p99" },
    ],
    format: formatDuration,
  },
];

const CHART_METRICS: Metric[] = CHARTS.flatMap((chart) => chart.series.map((item) => item.metric));

type SeriesAnswer = { ok: true; series: TimeSeries };
type SeriesFailure = { ok: false; error: unknown };
type SeriesResult = SeriesAnswer | SeriesFailure;
type SeriesByMetric = Partial<Record<Metric, SeriesResult>>;

/** Every chart's series; one failed metric fails its chart only. */
async function loadSeries(projectId: string, view: ViewState): Promise<SeriesByMetric> {
  const params = viewParams(view);
  const results = await Promise.allSettled(
    CHART_METRICS.map((metric) =>
      must(
        api.GET("/api/v1/projects/{project_id}/metrics/timeseries", {
          params: { path: { project_id: projectId }, query: { ...params, metric, interval: view.bucket } },
        }),
      ),
    ),
  );
  // Nothing answered (offline, rate-limited): fail as a whole, so a refresh keeps the
  // charts on screen with an error above them instead of replacing each by its error.
  const failures = results.filter((result) => result.status === "rejected");
  if (failures.length === results.length) throw failures[0]!.reason;
  const byMetric: SeriesByMetric = {};
  results.forEach((result, index) => {
    byMetric[CHART_METRICS[index]!] =
      result.status === "fulfilled" ? { ok: true, series: result.value } : { ok: false, error: result.reason };
  });
  return byMetric;
}

const BUCKET_SECONDS: Record<Bucket, number> = { hour: 3_600, day: 86_400, week: 604_800 };

/** What an anomaly says, in the unit of its series. */
const ANOMALY_TEXT: Record<AnomalyName, (outlier: Outlier) => string> = {
  daily_events: (o) => `${formatCount(o.value)} calls, usually about ${formatCount(Math.round(o.expected))}`,
  developer_day_events: (o) =>
    `${o.developer ?? "a developer"} made ${formatCount(o.value)} calls, usually about ${formatCount(Math.round(o.expected))}`,
  daily_cost_usd: (o) => `cost ${formatUsd(o.value)}, usually about ${formatUsd(o.expected)}`,
  daily_error_rate: (o) => `error rate ${formatPercent(o.value)}, usually about ${formatPercent(o.expected)}`,
};

/** The start of the bucket (of ascending starts `x`, each `width` long) holding `t`. */
function bucketOf(x: number[], t: number, width: number): number | null {
  let found: number | null = null;
  for (const start of x) {
    if (start > t) break;
    found = start;
  }
  return found !== null && t < found + width ? found : null;
}

/**
 * The anomalies of a chart as marks on its buckets (the bucket holding the day; the
 * day's first hour in an hourly chart). The insights are about the whole team, so under
 * a filter only the chosen developer's own days are marked, and none under a model.
 */
function anomalyMarks(
  insights: InsightsReport,
  names: AnomalyName[],
  x: number[],
  bucket: Bucket,
  view: Pick<ViewState, "developer" | "model">,
): { x: number; label: string }[] {
  if (x.length === 0 || view.model) return [];
  const labels = new Map<number, string[]>();
  for (const series of insights.anomalies.series) {
    if (!names.includes(series.name)) continue;
    for (const outlier of series.outliers) {
      if (view.developer && (series.scope === "day" || outlier.developer !== view.developer)) continue;
      const day = Date.parse(`${outlier.day}T00:00:00Z`) / 1000;
      const at = bucketOf(x, day, BUCKET_SECONDS[bucket]);
      if (at === null) continue;
      const text = `Anomaly on ${formatDate(outlier.day)}: ${ANOMALY_TEXT[series.name](outlier)}`;
      labels.set(at, [...(labels.get(at) ?? []), text]);
    }
  }
  return [...labels.entries()].sort(([a], [b]) => a - b).map(([at, texts]) => ({ x: at, label: texts.join("; ") }));
}

/** A chart's answers, once all of its series have one. */
function chartResults(data: SeriesByMetric | null, def: ChartDef): SeriesResult[] | null {
  if (!data) return null;
  const results = def.series.map((item) => data[item.metric]);
  return results.every((result) => result !== undefined) ? (results as SeriesResult[]) : null;
}

function ChartFrame({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {children}
    </figure>
  );
}

function TrendChart({
  def,
  results,
  insights,
  view,
  onRetry,
}: {
  def: ChartDef;
  results: SeriesResult[] | null;
  insights: InsightsReport | null;
  view: ViewState;
  onRetry: () => void;
}) {
  // uPlot is rebuilt when its inputs change identity: derive them once per answer.
  const drawn = useMemo(() => {
    if (!results || !results.every((result): result is SeriesAnswer => result.ok)) return null;
    const all = results.map((result) => result.series);
    const x = (all[0]?.points ?? []).map((point) => Date.parse(point.start) / 1000);
    const series: ChartSeries[] = all.map((item, index) => ({
      label: def.series[index]!.label,
      values: item.points.map((point) => point.value),
    }));
    // Counts are zero-filled and rates null in empty buckets: either way, nothing to draw.
    const empty = series.every((item) => item.values.every((value) => value === null || value === 0));
    return { x, series, empty, bucket: all[0]!.interval };
  }, [results, def]);
  const { developer, model } = view;
  const marks = useMemo(
    () =>
      drawn && insights && def.anomalies
        ? anomalyMarks(insights, def.anomalies, drawn.x, drawn.bucket, { developer, model })
        : [],
    [drawn, insights, def, developer, model],
  );

  const failed = results?.find((result): result is SeriesFailure => !result.ok);
  if (failed) {
    return (
      <ChartFrame title={def.title}>
        <ErrorBox error={failed.error} onRetry={onRetry} />
      </ChartFrame>
    );
  }
  if (!drawn) {
    return (
      <ChartFrame title={def.title}>
        <Loading label="Loading chart…" />
      </ChartFrame>
    );
  }
  if (drawn.empty) {
    return (
      <ChartFrame title={def.title}>
        <Empty title="No data in this window" />
      </ChartFrame>
    );
  }
  return <Chart title={def.title} x={drawn.x} series={drawn.series} format={def.format} marks={marks} bars={def.bars ?? false} />;
}

/** Commits and merged PRs have no per-interval series in the API: their window totals. */
function DeliveryTotals({ raw }: { raw: RawMetrics | null }) {
  return (
    <ChartFrame title="Commits and merged PRs">
      {raw ? (
        <>
          <dl class="delivery">
            <div>
              <dt>Commits</dt>
              <dd>{formatCount(raw.commits)}</dd>
            </div>
            <div>
              <dt>Merged PRs</dt>
              <dd>{formatCount(raw.prs_merged)}</dd>
            </div>
            <div>
              <dt>Median time to merge</dt>
              <dd>{raw.pr_merge_hours_median === null ? "–" : `${raw.pr_merge_hours_median.toFixed(1)} h`}</dd>
            </div>
          </dl>
          <p class="muted delivery-note">Totals for the window: the API offers no per-interval series for delivery yet.</p>
        </>
      ) : (
        <Loading />
      )}
    </ChartFrame>
  );
}

function Trends({
  projectId,
  view,
  viewKey,
  raw,
  refresh,
}: {
  projectId: string;
  view: ViewState;
  viewKey: string;
  raw: RawMetrics | null;
  /** Bumped by the page when the live feed says the charts are stale. */
  refresh: number;
}) {
  const series = useApi(() => loadSeries(projectId, view), [projectId, viewKey]);
  useEffect(() => {
    if (refresh > 0) series.reload();
  }, [refresh]);
  // Anomalies are per whole day: live updates cannot change them, so they load once per view.
  const insights = useApi(
    () =>
      must(
        api.GET("/api/v1/projects/{project_id}/insights", {
          params: { path: { project_id: projectId }, query: apiWindow(view, new Date()) },
        }),
      ),
    [projectId, viewKey],
  );
  const perChart = useMemo(
    () => new Map(CHARTS.map((def) => [def.id, chartResults(series.data, def)])),
    [series.data],
  );

  // With nothing to draw yet, one error says it for every chart.
  const nothingDrawn = series.state === "error" && series.data === null;
  return (
    <>
      {series.state === "error" ? <ErrorBox error={series.error} onRetry={series.reload} /> : null}
      <div class="chart-grid">
        {nothingDrawn
          ? null
          : CHARTS.map((def) => (
              <TrendChart
                key={def.id}
                def={def}
                results={perChart.get(def.id) ?? null}
                insights={insights.data}
                view={view}
                onRetry={series.reload}
              />
            ))}
        <DeliveryTotals raw={raw} />
      </div>
      {insights.state === "error" ? (
        <div class="overview-insights-error">
          <p class="muted">The charts are shown without their anomalies, which could not be loaded:</p>
          <ErrorBox error={insights.error} onRetry={insights.reload} />
        </div>
      ) : null}
    </>
  );
}

// ---------------------------------------------------------------------------
// Latest sessions (GET …/sessions).

function SessionStatus({ session }: { session: Session }) {
  if (session.status === "ok") return <span class="badge status-good">OK</span>;
  const errors = session.errors === 1 ? "1 error" : `${formatCount(session.errors)} errors`;
  return <span class="badge status-critical">{errors}</span>;
}

function LatestSessions({ list, base, carried }: { list: SessionList; base: string; carried: string }) {
  if (list.items.length === 0) return <Empty title="No sessions in this window" />;
  return (
    <div class="table-wrap">
      <table aria-label="Latest sessions">
        <thead>
          <tr>
            <th scope="col">Session</th>
            <th scope="col">Developer</th>
            <th scope="col">Models</th>
            <th scope="col">Started</th>
            <th scope="col" class="num">
              Calls
            </th>
            <th scope="col" class="num">
              Tokens
            </th>
            <th scope="col" class="num">
              Cost
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {list.items.map((session) => (
            <tr key={session.session_id} data-session-id={session.session_id}>
              <th scope="row" class="overview-session-id">
                <Link href={`${base}/sessions/${encodeURIComponent(session.session_id)}${carried}`}>{session.session_id}</Link>
              </th>
              <td>{session.developer_id ?? <span class="muted">Unknown</span>}</td>
              <td class="overview-models">{session.models.length ? session.models.join(", ") : <span class="muted">None named</span>}</td>
              <td class="overview-nowrap">{formatDateTime(session.started_at)}</td>
              <td class="num">{formatCount(session.events)}</td>
              <td class="num">{formatCount(session.total_tokens)}</td>
              <td class="num">{formatUsd(session.cost_usd)}</td>
              <td>
                <SessionStatus session={session} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// ---------------------------------------------------------------------------
// The connection indicator: a word, not colour alone.

const LIVE_TEXT: Record<LiveStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function LiveIndicator({ status }: { status: LiveStatus }) {
  return (
    <p class={`live-indicator live-${status}`} role="status" data-live={status}>
      <span class="live-dot" aria-hidden="true" />
      {LIVE_TEXT[status]}
    </p>
  );
}

// ---------------------------------------------------------------------------
// Live updates. Every request counts against the user's budget (100 a minute, shared
// by every tab), so what a message carries is applied at once where it fits the view:
// a batch's sums to the unfiltered totals, the `kpis` report to the default view, a
// `session` to the table. What a message cannot say (sessions and developers counted,
// filtered views) is refetched quietly, at most every few seconds however busy the
// feed, and the charts less often still.

const SUMMARY_DELAY_MS = 300;
const SUMMARY_GAP_MS = 10_000;
const CHARTS_DELAY_MS = 5_000;
const CHARTS_GAP_MS = 60_000;

/**
 * The raw sums with an ingest batch added. Exact for an unfiltered window that ends now
 * (new calls fall inside it); the refetch that follows corrects the rare backfill of
 * calls older than the window.
 */
function withBatch(raw: RawMetrics, batch: EventsBatch): RawMetrics {
  return {
    ...raw,
    events: raw.events + batch.accepted,
    errors: raw.errors + batch.errors,
    total_tokens: raw.total_tokens + batch.total_tokens,
    cost_usd: raw.cost_usd + batch.cost_usd,
  };
}

/** The view the `kpis` messages are computed for: the last 30 days, unfiltered. */
function isDefaultView(view: ViewState): boolean {
  return view.preset === DEFAULT_PRESET && !view.developer && !view.model;
}

/** Whether a session from the feed belongs in the table of this view now. */
function sessionInView(session: Session, view: ViewState, now: Date): boolean {
  const { since, until } = apiWindow(view, now);
  const started = Date.parse(session.started_at);
  if (started < Date.parse(since) || started >= Date.parse(until)) return false;
  if (view.developer && session.developer_id !== view.developer) return false;
  return !view.model || session.models.includes(view.model);
}

/** The latest sessions with one new or extended session in place, newest first. */
function withSession(list: SessionList, session: Session, limit: number): SessionList {
  const items = [session, ...list.items.filter((item) => item.session_id !== session.session_id)]
    .sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at))
    .slice(0, limit);
  return { ...list, items };
}

/**
 * A loaded value that live messages may change in place; the next answer from the API
 * replaces their changes (it was asked for later, so it is newer).
 */
function useLiveValue<T>(fetched: T | null): [T | null, (change: (current: T) => T) => void] {
  const [override, setOverride] = useState<{ base: T; value: T } | null>(null);
  const value = override !== null && override.base === fetched ? override.value : fetched;
  const update = (change: (current: T) => T) => {
    if (fetched === null) return;
    setOverride((previous) => ({
      base: fetched,
      value: change(previous !== null && previous.base === fetched ? previous.value : fetched),
    }));
  };
  return [value, update];
}

// ---------------------------------------------------------------------------
// The page.

type SummaryKey = "kpis" | "raw" | "sessions";

export function OverviewPage({ location }: PageProps) {
  const project = useProject();
  const projectId = project.id;
  const view = parseView(location.query);
  const query = viewQuery(view);
  const viewKey = viewKeyOf(view);

  const kpis = useApi<KpiReport>(
    () => takeEarly("kpis", projectId, viewKey) ?? loadKpis(projectId, view),
    [projectId, viewKey],
  );
  const raw = useApi<RawMetrics>(
    () => takeEarly("raw", projectId, viewKey) ?? loadRaw(projectId, view),
    [projectId, viewKey],
  );
  const sessions = useApi<SessionList>(
    () =>
      must(
        api.GET("/api/v1/projects/{project_id}/sessions", {
          params: {
            path: { project_id: projectId },
            query: { ...viewParams(view), sort: "-started_at", page_size: LATEST_SESSIONS },
          },
        }),
      ),
    [projectId, viewKey],
  );
  const [shownRaw, updateRaw] = useLiveValue(raw.data);
  const [shownKpis, updateKpis] = useLiveValue(kpis.data);
  const [shownSessions, updateSessions] = useLiveValue(sessions.data);
  // The charts wait for the cards' first answers (see the top of this file); once
  // started they stay, and follow the view like the cards.
  const chartsStarted = useRef(false);
  chartsStarted.current ||= kpis.state !== "loading" && raw.state !== "loading";

  const summary = useRef({ kpis, raw, sessions });
  summary.current = { kpis, raw, sessions };
  const stale = useRef(new Set<SummaryKey>());
  const summaryRefresh = useCoalescer(
    () => {
      for (const key of stale.current) summary.current[key].reload();
      stale.current.clear();
    },
    SUMMARY_DELAY_MS,
    SUMMARY_GAP_MS,
  );
  const markStale = (...keys: SummaryKey[]) => {
    if (keys.length === 0) return;
    for (const key of keys) stale.current.add(key);
    summaryRefresh.trigger();
  };
  const [chartsRefresh, setChartsRefresh] = useState(0);
  const chartsLater = useCoalescer(() => setChartsRefresh((count) => count + 1), CHARTS_DELAY_MS, CHARTS_GAP_MS);

  // A custom window that ended in the past cannot change: new data lands after it.
  const following = view.preset !== "custom" || Date.parse(apiWindow(view, new Date()).until) > Date.now();
  const status = useProjectFeed(projectId, {
    onEvents: (batch) => {
      if (!following) return;
      if (!view.developer && !view.model) updateRaw((current) => withBatch(current, batch));
      markStale("raw");
      chartsLater.trigger();
    },
    onSession: (session) => {
      if (following && sessionInView(session, view, new Date())) {
        updateSessions((list) => withSession(list, session, LATEST_SESSIONS));
      }
    },
    onKpis: (report) => {
      if (!following) return;
      if (isDefaultView(view)) updateKpis(() => report);
      else markStale("kpis");
      // Commits and pull requests change the KPIs without an `events` batch.
      markStale("raw");
    },
    onResync: (reason: ResyncReason) => {
      // What is loading now was asked for after the (re)subscription and is current.
      markStale(...(["kpis", "raw", "sessions"] as const).filter((key) => summary.current[key].state !== "loading"));
      if (reason !== "subscribed") chartsLater.trigger();
    },
  });

  const base = `/projects/${encodeURIComponent(projectId)}`;
  const carried = location.query.toString().replace(/^(?=.)/, "?");
  // The sessions page has no interval: the window and filters travel, the bucket not.
  const sessionsHref = withQuery({ path: `${base}/sessions`, query: new URLSearchParams() }, { ...query, bucket: null });

  return (
    <div class="overview">
      <div class="overview-head">
        <h2>Overview</h2>
        <LiveIndicator status={status} />
      </div>
      <ViewControls location={location} projectId={projectId} models={project.allowed_models} bucket />

      <section aria-labelledby="overview-usage">
        <h3 id="overview-usage" class="visually-hidden">
          Usage
        </h3>
        <Loadable result={raw} data={shownRaw} label="Loading totals…">
          {(data) => (
            <div class="grid stat-grid" aria-live="polite">
              {STATS.map((def) => (
                <StatCard key={def.stat} def={def} raw={data} />
              ))}
            </div>
          )}
        </Loadable>
      </section>

      <section aria-labelledby="overview-kpis">
        <h3 id="overview-kpis">KPIs</h3>
        <Loadable result={kpis} data={shownKpis} label="Loading KPIs…">
          {(report) =>
            report.kpis.length === 0 ? (
              <Empty title="No KPIs for this window" />
            ) : (
              // The window the numbers are for, as the API answered it (tests compare with it).
              <div class="grid kpi-grid" aria-live="polite" data-since={report.since}
                data-until={report.until}
                data-developer={report.developer ?? ""}
                data-model={report.model ?? ""}
              >
                {report.kpis.map((kpi) => (
                  <KpiCard key={kpi.name} kpi={kpi} />
                ))}
              </div>
            )
          }
        </Loadable>
      </section>

      <section aria-labelledby="overview-trends">
        <h3 id="overview-trends">Trends</h3>
        {chartsStarted.current ? (
          <Trends projectId={projectId} view={view} viewKey={viewKey} raw={raw.data} refresh={chartsRefresh} />
        ) : (
          <Loading label="Loading charts…" />
        )}
      </section>

      <section aria-labelledby="overview-sessions">
        <div class="overview-section-head">
          <h3 id="overview-sessions">Latest sessions</h3>
          <Link href={sessionsHref}>All sessions</Link>
        </div>
        <Loadable result={sessions} data={shownSessions} label="Loading sessions…">
          {(list) => <LatestSessions list={list} base={base} carried={carried} />}
        </Loadable>
      </section>
    </div>
  );
}
