// Downloads of a project's data for the window in the URL: plain links to the export
// routes (a same-origin GET carries the session cookie), so the browser streams the
// file to disk instead of the page holding it in memory.
import "./exports.css";
import type { operations, paths } from "../api/schema";
import { ViewControls } from "../components/view-controls";
import { formatDate } from "../lib/format";
import { useProject } from "../lib/project";
import { type ApiWindow, apiWindow, parseView } from "../lib/urlstate";
import type { PageProps } from "../routes";

type EventsQuery = NonNullable<operations["export_events"]["parameters"]["query"]>;
type TimeseriesQuery = NonNullable<operations["export_timeseries"]["parameters"]["query"]>;
type Format = NonNullable<EventsQuery["format"] & TimeseriesQuery["format"]>;

const EVENTS_PATH = "/api/v1/projects/{project_id}/exports/events" satisfies keyof paths;
const TIMESERIES_PATH = "/api/v1/projects/{project_id}/exports/timeseries" satisfies keyof paths;

const FORMATS: { format: Format; label: string }[] = [
  { format: "csv", label: "CSV" },
  { format: "parquet", label: "Parquet" },
];

/** An export route's URL: the project in the path, the set parameters in the query. */
export function exportUrl(
  path: typeof EVENTS_PATH | typeof TIMESERIES_PATH,
  projectId: string,
  query: EventsQuery | TimeseriesQuery,
): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined) search.set(key, String(value));
  }
  return `${path.replace("{project_id}", encodeURIComponent(projectId))}?${search}`;
}

/**
 * The UTC days a file covers: the exports count every whole day the window touches,
 * from the day of `since` to the day of the last instant before `until`.
 */
export function coveredDays(window: ApiWindow): { first: string; last: string } {
  const last = new Date(Date.parse(window.until) - 1).toISOString().slice(0, 10);
  return { first: window.since.slice(0, 10), last };
}

interface Dataset {
  id: string;
  title: string;
  path: typeof EVENTS_PATH | typeof TIMESERIES_PATH;
  noun: string;
  description: string;
  columns: string;
}

const DATASETS: Dataset[] = [
  {
    id: "events",
    title: "Events",
    path: EVENTS_PATH,
    noun: "events",
    description:
      "Every AI call of the window, one row each, in the order they were ingested. Metadata only: the conversation text is never stored.",
    columns:
      "event_id, session_id, developer_id, started_at, ended_at, latency_ms, ttft_ms, provider, operation, request_model, response_model, input/output/cache token counts, total_tokens, cost_usd, cost_source (reported or estimated), status, http_status, error_type, finish_reason, accepted, lines_suggested, lines_accepted, repo, tags, attributes, source, ingested_at. In CSV, tags and attributes are JSON text.",
  },
  {
    id: "timeseries",
    title: "Daily time series",
    path: TIMESERIES_PATH,
    noun: "daily time series",
    description: "One row per UTC day of the window, days without calls included (as zeros), from the daily rollups.",
    columns: "date, events, errors, accepted, rejected, input_tokens, output_tokens, total_tokens, cost_usd.",
  },
];

function DatasetCard({ dataset, projectId, range }: { dataset: Dataset; projectId: string; range: ApiWindow }) {
  const titleId = `export-${dataset.id}`;
  return (
    <section class="card export" aria-labelledby={titleId}>
      <h3 id={titleId}>{dataset.title}</h3>
      <p>{dataset.description}</p>
      <p class="muted export-columns">
        <span class="export-columns-label">Columns:</span> {dataset.columns}
      </p>
      <p class="export-links">
        {FORMATS.map(({ format, label }) => (
          <a
            key={format}
            class="button"
            href={exportUrl(dataset.path, projectId, { ...range, format })}
            download
          >
            Download <span class="visually-hidden">{dataset.noun} as </span>
            {label}
          </a>
        ))}
      </p>
    </section>
  );
}

export function ExportsPage({ location }: PageProps) {
  const project = useProject();
  const view = parseView(location.query);
  // A preset ends "now": the link is built when the page renders, and the files
  // count whole days, so a link a few minutes old still covers the same days.
  const range = apiWindow(view, new Date());
  const { first, last } = coveredDays(range);
  return (
    <section aria-labelledby="exports-title">
      <h2 id="exports-title">Exports</h2>
      <ViewControls location={location} projectId={project.id} models={project.allowed_models} filters={false} />
      <p>
        The files cover every whole UTC day the window touches:{" "}
        <strong>
          {formatDate(`${first}T00:00:00Z`)} to {formatDate(`${last}T00:00:00Z`)}
        </strong>
        , the whole project.
        {view.developer || view.model ? (
          <span class="muted"> The exports take no developer or model filter.</span>
        ) : null}
      </p>
      <p class="muted">
        CSV opens in a spreadsheet. Parquet holds the same columns with their types (timestamps in UTC, tags as a list)
        for pandas, DuckDB or Spark.
      </p>
      <div class="exports">
        {DATASETS.map((dataset) => (
          <DatasetCard key={dataset.id} dataset={dataset} projectId={project.id} range={range} />
        ))}
      </div>
    </section>
  );
}
