// Insights: does AI activity go with more delivery a few working days later, and was
// any day or developer-day far out of the ordinary? Every number the API cites is
// shown, and every relation keeps the API's "observational" label (docs/metrics.md).
import "./insights.css";
import { api, must } from "../api/client";
import type { components } from "../api/schema";
import { Empty, ErrorBox, Loading } from "../components/states";
import { ViewControls } from "../components/view-controls";
import { formatCount, formatDate, formatDateTime, formatPercent, formatUsd } from "../lib/format";
import { useProject } from "../lib/project";
import { type Location, navigate, withQuery } from "../lib/router";
import { useApi } from "../lib/useApi";
import { apiWindow, parseView } from "../lib/urlstate";
import type { PageProps } from "../routes";

type Report = components["schemas"]["InsightsReport"];
type Finding = components["schemas"]["Finding"];
type MetricCorrelation = components["schemas"]["MetricCorrelation"];
type LagResult = components["schemas"]["LagResult"];
type AnomalySeries = components["schemas"]["AnomalySeries"];
type Outlier = components["schemas"]["Outlier"];
type TestStatus = LagResult["status"];

export const DEFAULT_MAX_LAG = 7;
const MAX_LAG_LIMIT = 14;
/** The API's own window when the URL names none (30 days hold too few working days). */
const DEFAULT_DAYS = 60;

// ---------------------------------------------------------------------------
// Words and numbers.

const METRIC_LABELS: Record<MetricCorrelation["metric"], string> = {
  commits: "Commits",
  merged_prs: "Merged pull requests",
};

const SERIES_LABELS: Record<AnomalySeries["name"], string> = {
  daily_events: "The team's AI calls per day",
  daily_cost_usd: "The team's cost per day",
  daily_error_rate: "The share of calls that failed per day",
  developer_day_events: "A developer's AI calls per working day",
};

const METHOD_LABELS: Record<AnomalySeries["method"], string> = {
  poisson_lognormal: "Poisson-lognormal tail",
  log_robust_z: "robust z on a log scale (Student t tail)",
  binomial: "binomial tail",
};

const STATUS_LABELS: Record<TestStatus, string> = {
  ok: "Tested",
  insufficient_data: "Insufficient data",
  constant_input: "Constant input",
};

const WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** r, a bound of its interval: two decimals with a true minus sign. */
export function formatR(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return value.toFixed(2).replace(/^-/, "−");
}

/** A p- or q-value: two significant digits, tiny ones as "< 0.001". */
export function formatP(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  if (value < 0.001) return "< 0.001";
  return value.toPrecision(2);
}

/** How an anomaly series counts its values. */
export function formatSeriesValue(series: string | null, value: number): string {
  if (series === "daily_cost_usd") return formatUsd(value);
  if (series === "daily_error_rate") return formatPercent(value);
  return formatCount(value);
}

export function formatRatio(value: number, expected: number): string {
  return expected > 0 ? `${(value / expected).toFixed(1)}×` : "–";
}

function workingDays(lag: number): string {
  return `${lag} working ${lag === 1 ? "day" : "days"}`;
}

/**
 * Where an interval sits on a −1…1 axis, as percentages of the track: its start,
 * width and point estimate; null without an interval.
 */
export function intervalGeometry(
  r: number | null | undefined,
  low: number | null | undefined,
  high: number | null | undefined,
): { left: number; width: number; point: number } | null {
  if (r === null || r === undefined || low === null || low === undefined || high === null || high === undefined) return null;
  const at = (value: number) => ((Math.min(1, Math.max(-1, value)) + 1) / 2) * 100;
  return { left: at(low), width: at(high) - at(low), point: at(r) };
}

type Evidence = Finding["evidence"];

/**
 * A finding's evidence as labelled, formatted items: the numbers its message cites,
 * with the interval's bounds as one item and the ratio of an anomaly worked out.
 */
export function evidenceItems(evidence: Evidence): { label: string; value: string }[] {
  const series = typeof evidence.series === "string" ? evidence.series : null;
  const items: { label: string; value: string }[] = [];
  const number = (key: string) => (typeof evidence[key] === "number" ? (evidence[key] as number) : null);
  for (const [key, raw] of Object.entries(evidence)) {
    if (raw === null || key === "ci_high") continue;
    const value = typeof raw === "number" ? raw : null;
    switch (key) {
      case "metric":
        items.push({ label: "Delivery", value: METRIC_LABELS[raw as MetricCorrelation["metric"]] ?? String(raw) });
        break;
      case "series":
        items.push({ label: "Series", value: SERIES_LABELS[raw as AnomalySeries["name"]] ?? String(raw) });
        break;
      case "lag":
        items.push({ label: "Lag", value: value === null ? String(raw) : workingDays(value) });
        break;
      case "r":
        items.push({ label: "r", value: formatR(value) });
        break;
      case "ci_low":
        items.push({ label: "95 % interval", value: `${formatR(value)} to ${formatR(number("ci_high"))}` });
        break;
      case "p":
      case "q":
        items.push({ label: key, value: formatP(value) });
        break;
      case "n":
        items.push({ label: "Working-day pairs", value: String(raw) });
        break;
      case "n_effective":
        items.push({ label: "Effective pairs", value: value === null ? String(raw) : value.toFixed(1) });
        break;
      case "day":
        items.push({ label: "Day", value: formatDate(String(raw)) });
        break;
      case "developer":
        items.push({ label: "Developer", value: String(raw) });
        break;
      case "value":
        items.push({ label: "Observed", value: value === null ? String(raw) : formatSeriesValue(series, value) });
        break;
      case "expected": {
        items.push({ label: "Expected", value: value === null ? String(raw) : formatSeriesValue(series, value) });
        const observed = number("value");
        if (observed !== null && value !== null) items.push({ label: "Ratio", value: formatRatio(observed, value) });
        break;
      }
      case "points":
        items.push({ label: "Points examined", value: String(raw) });
        break;
      case "active_days":
        items.push({ label: "Working days with deliveries", value: String(raw) });
        break;
      case "min_active_days":
        items.push({ label: "Working days needed", value: String(raw) });
        break;
      case "total":
        items.push({ label: "Deliveries in the window", value: String(raw) });
        break;
      default:
        items.push({ label: key, value: typeof raw === "number" ? String(Number(raw.toPrecision(3))) : raw });
    }
  }
  return items;
}

// ---------------------------------------------------------------------------
// Pieces of the report.

function FindingCard({ finding, headline = false }: { finding: Finding; headline?: boolean }) {
  const items = evidenceItems(finding.evidence);
  return (
    <article class={headline ? "card finding headline" : "card finding"}>
      <p class="finding-message">{finding.message}</p>
      {items.length ? (
        <dl class="evidence">
          {items.map((item) => (
            <div key={item.label}>
              <dt>{item.label}</dt>
              <dd>{item.value}</dd>
            </div>
          ))}
        </dl>
      ) : null}
    </article>
  );
}

function IntervalBar({ lag }: { lag: LagResult }) {
  const { r, ci_low: low, ci_high: high } = lag.pearson;
  const geometry = intervalGeometry(r, low, high);
  // Drawn for the eye; the same numbers are in the neighbouring cells as text.
  if (!geometry) return <span class="muted">–</span>;
  return (
    <div class={lag.significant ? "interval significant" : "interval"} aria-hidden="true">
      <span class="interval-zero" />
      <span class="interval-floor interval-floor-low" />
      <span class="interval-floor interval-floor-high" />
      <span class="interval-range" style={{ left: `${geometry.left}%`, width: `${geometry.width}%` }} />
      <span class="interval-point" style={{ left: `${geometry.point}%` }} />
    </div>
  );
}

function LagRow({ lag, best }: { lag: LagResult; best: boolean }) {
  const tested = lag.status === "ok";
  const verdict = !tested ? STATUS_LABELS[lag.status] : lag.significant ? "Significant" : "Not significant";
  return (
    <tr class={best ? "best-lag" : undefined}>
      <th scope="row" class="num">
        {lag.lag}
        {best ? <span class="visually-hidden"> (strongest significant lag)</span> : null}
      </th>
      <td class="num">
        {lag.n}
        {lag.n_effective !== null && lag.n_effective !== lag.n ? (
          <span class="muted"> ({lag.n_effective.toFixed(1)} eff.)</span>
        ) : null}
      </td>
      <td class="num">{formatR(lag.pearson.r)}</td>
      <td class="num nowrap">
        {lag.pearson.ci_low === null || lag.pearson.ci_low === undefined
          ? "–"
          : `${formatR(lag.pearson.ci_low)} to ${formatR(lag.pearson.ci_high)}`}
      </td>
      <td class="interval-cell">
        <IntervalBar lag={lag} />
      </td>
      <td class="num">{formatP(lag.pearson.p)}</td>
      <td class="num">{formatP(lag.pearson.q)}</td>
      <td class="num">{formatR(lag.spearman.r)}</td>
      <td>
        <span class={`badge ${lag.significant ? "status-good" : tested ? "" : "status-insufficient_data"}`}>{verdict}</span>
      </td>
    </tr>
  );
}

function CorrelationTable({ correlation, report }: { correlation: MetricCorrelation; report: Report }) {
  const title = `AI activity and ${METRIC_LABELS[correlation.metric].toLowerCase()}`;
  const id = `correlation-${correlation.metric}`;
  return (
    <section class="correlation" aria-labelledby={id}>
      <h4 id={id}>{title}</h4>
      <p class="muted">
        {formatCount(correlation.total)} in the window, on {formatCount(correlation.active_days)} working days ·{" "}
        {correlation.status === "ok"
          ? correlation.best_lag === null
            ? "no lag survived the test"
            : `strongest significant lag: ${workingDays(correlation.best_lag)}`
          : STATUS_LABELS[correlation.status]}
      </p>
      {correlation.status === "insufficient_data" ? (
        <Empty title="Insufficient data">
          At least {report.min_active_days} working days with AI activity and {report.min_active_days} with{" "}
          {METRIC_LABELS[correlation.metric].toLowerCase()} are needed; this window has {correlation.active_days} with
          deliveries.
        </Empty>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`${title}, scrollable`}>
          <table aria-label={`${title}, by lag`} class="lags">
            <thead>
              <tr>
                <th scope="col" class="num">
                  Lag (working days)
                </th>
                <th scope="col" class="num">
                  Pairs
                </th>
                <th scope="col" class="num">
                  r
                </th>
                <th scope="col" class="num">
                  95 % interval
                </th>
                <th scope="col">
                  Interval on −1…1
                </th>
                <th scope="col" class="num">
                  p
                </th>
                <th scope="col" class="num">
                  q
                </th>
                <th scope="col" class="num">
                  Rank r
                </th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {correlation.lags.map((lag) => (
                <LagRow key={lag.lag} lag={lag} best={lag.lag === correlation.best_lag} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function OutlierRows({ series }: { series: AnomalySeries }) {
  return (
    <>
      {series.outliers.map((outlier: Outlier) => (
        <tr key={`${series.name}-${outlier.key}`}>
          <th scope="row">
            {SERIES_LABELS[series.name]}
            {outlier.developer ? <span class="muted">: {outlier.developer}</span> : null}
          </th>
          <td class="nowrap">{formatDate(outlier.day)}</td>
          <td class="num">{formatSeriesValue(series.name, outlier.value)}</td>
          <td class="num">{formatSeriesValue(series.name, outlier.expected)}</td>
          <td class="num">{formatRatio(outlier.value, outlier.expected)}</td>
          <td class="num">{formatP(outlier.p)}</td>
        </tr>
      ))}
    </>
  );
}

function Anomalies({ report }: { report: Report }) {
  const { anomalies } = report;
  const flagged = anomalies.series.some((series) => series.outliers.length > 0);
  return (
    <section aria-labelledby="anomalies-title">
      <h3 id="anomalies-title">Anomalies</h3>
      <p class="muted">
        A point is flagged when its one-sided p is below {anomalies.alpha} / {formatCount(anomalies.points)}{" "}
        points = {anomalies.threshold_p.toPrecision(2)} and it is at least {anomalies.min_ratio}× its baseline. Only
        unusually high values are flagged.
      </p>
      {flagged ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Anomalies, scrollable">
          <table aria-label="Anomalies">
            <thead>
              <tr>
                <th scope="col">What</th>
                <th scope="col">When</th>
                <th scope="col" class="num">
                  Observed
                </th>
                <th scope="col" class="num">
                  Expected
                </th>
                <th scope="col" class="num">
                  Ratio
                </th>
                <th scope="col" class="num">
                  p
                </th>
              </tr>
            </thead>
            <tbody>
              {anomalies.series.map((series) => (
                <OutlierRows key={series.name} series={series} />
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <Empty title="No anomaly">No day or developer-day was far above its baseline.</Empty>
      )}
      <ul class="series-list">
        {anomalies.series.map((series) => (
          <li key={series.name}>
            {SERIES_LABELS[series.name]}:{" "}
            <span class={`badge ${series.status === "ok" ? "" : "status-insufficient_data"}`}>
              {STATUS_LABELS[series.status]}
            </span>{" "}
            <span class="muted">
              {formatCount(series.n)} points, {METHOD_LABELS[series.method]}
              {series.outliers.length ? `, ${series.outliers.length} flagged` : ""}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function AnalysedWindow({ report, explicit }: { report: Report; explicit: boolean }) {
  const weekdays = report.calendar.working_days.map((day) => WEEKDAY_NAMES[day] ?? String(day)).join(", ");
  const holidays = report.calendar.holidays.length;
  return (
    <div class="analysed">
      {explicit ? null : (
        <p>
          No window chosen, so this is the insights' default: the last {DEFAULT_DAYS} days. 30 days hold only about 21
          working days, too few to tell a lagged relation from noise. Choose a window above to change it.
        </p>
      )}
      <p class="muted">
        Analysed {formatDate(report.since)} to {formatDateTime(report.until)}: {formatCount(report.days)} whole UTC days,{" "}
        {formatCount(report.working_days)} of them working days (working week: {weekdays}
        {holidays ? `; ${holidays} ${holidays === 1 ? "holiday" : "holidays"}` : ""}). Days under way are left out.
      </p>
    </div>
  );
}

function MaxLagPicker({ location, maxLag }: { location: Location; maxLag: number }) {
  return (
    <label class="max-lag">
      Lags up to
      <select
        value={String(maxLag)}
        onChange={(event) => {
          const value = event.currentTarget.value;
          navigate(withQuery(location, { max_lag: value === String(DEFAULT_MAX_LAG) ? null : value }));
        }}
      >
        {Array.from({ length: MAX_LAG_LIMIT + 1 }, (_, lag) => (
          <option key={lag} value={String(lag)}>
            {workingDays(lag)}
          </option>
        ))}
      </select>
    </label>
  );
}

export function parseMaxLag(raw: string | null): number {
  const value = raw === null ? Number.NaN : Number(raw);
  return Number.isInteger(value) && value >= 0 && value <= MAX_LAG_LIMIT ? value : DEFAULT_MAX_LAG;
}

function ReportBody({ report, explicit }: { report: Report; explicit: boolean }) {
  const insufficient = report.status === "insufficient_data";
  const others = report.findings.filter(
    (finding) => !report.headline || finding.message !== report.headline.message,
  );
  return (
    <>
      <AnalysedWindow report={report} explicit={explicit} />
      {report.observational ? (
        <p class="observational">
          <span class="badge status-warning">Observational, not causal</span> These relations say what moved together.
          They do not show that AI use caused more or less delivery: a deadline or a holiday season can drive both.
        </p>
      ) : null}
      {insufficient ? (
        <Empty title="Insufficient data">
          This window holds too little activity or delivery to test; the findings below say what is missing.
        </Empty>
      ) : null}
      {report.headline ? (
        <section aria-labelledby="headline-title">
          <h3 id="headline-title">Headline</h3>
          <FindingCard finding={report.headline} headline />
        </section>
      ) : insufficient ? null : (
        <p class="muted">No relation survived and nothing was unusual: there is no headline.</p>
      )}
      {others.length ? (
        <section aria-labelledby="findings-title">
          <h3 id="findings-title">Findings</h3>
          <div class="findings">
            {others.map((finding) => (
              <FindingCard key={finding.message} finding={finding} />
            ))}
          </div>
        </section>
      ) : null}
      {report.recommendations.length ? (
        <section aria-labelledby="recommendations-title">
          <h3 id="recommendations-title">Recommendations</h3>
          <ul class="recommendations">
            {report.recommendations.map((item) => (
              <li key={item.message}>{item.message}</li>
            ))}
          </ul>
        </section>
      ) : null}
      <section aria-labelledby="correlations-title">
        <h3 id="correlations-title">Correlations by lag</h3>
        <p class="muted">
          Daily AI calls against delivery the given number of working days later, after weekday levels, the trend and
          day-to-day autocorrelation are taken out. Significant: q below {report.alpha} and |r| at least{" "}
          {report.effect_floor} (the dashed lines). q is Benjamini-Hochberg across every metric and lag of the report;
          rank r is Spearman's, for robustness.
        </p>
        {report.correlations.map((correlation) => (
          <CorrelationTable key={correlation.metric} correlation={correlation} report={report} />
        ))}
      </section>
      <Anomalies report={report} />
    </>
  );
}

export function InsightsPage({ location }: PageProps) {
  const project = useProject();
  const view = parseView(location.query);
  // The URL's window when it names one; else the API's own default (60 days).
  const explicit = location.query.get("window") === view.preset;
  const maxLag = parseMaxLag(location.query.get("max_lag"));
  const report = useApi(
    () =>
      must(
        api.GET("/api/v1/projects/{project_id}/insights", {
          params: {
            path: { project_id: project.id },
            query: { ...(explicit ? apiWindow(view, new Date()) : {}), max_lag: maxLag },
          },
        }),
      ),
    [project.id, explicit, view.preset, view.from, view.to, maxLag],
  );
  return (
    <section aria-labelledby="insights-title">
      <h2 id="insights-title">Insights</h2>
      <div class="insights-controls">
        <ViewControls location={location} projectId={project.id} models={project.allowed_models} filters={false} />
        <MaxLagPicker location={location} maxLag={maxLag} />
      </div>
      {view.developer || view.model ? (
        <p class="muted">Insights take no developer or model filter: they cover the whole project.</p>
      ) : null}
      {report.state === "error" ? <ErrorBox error={report.error} onRetry={report.reload} /> : null}
      {report.data ? (
        <div aria-busy={report.state === "loading"}>
          <ReportBody report={report.data} explicit={explicit} />
        </div>
      ) : report.state === "loading" ? (
        <Loading label="Analysing…" />
      ) : null}
    </section>
  );
}
