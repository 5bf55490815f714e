// A project's LLM sessions: the list (filters, sort and paging in the URL) and one
// session with its calls.
import "./sessions.css";
import { useEffect, useRef } from "preact/hooks";
import { api, must } from "../api/client";
import { ApiError } from "../api/problem";
import type { components, operations } from "../api/schema";
import { Pager, parseSort, positiveInt, SortHeader, type SortState, sortToken } from "../components/table";
import { ViewControls } from "../components/view-controls";
import { Empty, ErrorBox, Loading } from "../components/states";
import { formatCount, formatDateTime, formatDuration, formatUsd } from "../lib/format";
import { useProject } from "../lib/project";
import { Link, type Location, navigate, withQuery } from "../lib/router";
import { type Loaded, useApi } from "../lib/useApi";
import { apiFilters, apiWindow, parseView } from "../lib/urlstate";
import type { PageProps } from "../routes";

type Session = components["schemas"]["LlmSessionPublic"];
type SessionList = components["schemas"]["LlmSessionList"];
type SessionDetail = components["schemas"]["LlmSessionDetail"];
type SessionEvent = components["schemas"]["LlmSessionEvent"];
type SessionsApiQuery = NonNullable<operations["list_llm_sessions"]["parameters"]["query"]>;

// ---------------------------------------------------------------------------
// The list's state in its URL.

export const SESSION_SORT_KEYS = ["started_at", "tokens", "cost", "latency"] as const;
export type SessionSortKey = (typeof SESSION_SORT_KEYS)[number];
export const DEFAULT_SESSION_SORT: SortState<SessionSortKey> = { key: "started_at", descending: true };
export const PAGE_SIZES = [20, 50, 100] as const;

export interface SessionsQuery {
  accepted: boolean | null;
  status: "ok" | "error" | null;
  sort: SortState<SessionSortKey>;
  /** Keyset position: the `next_cursor` of the page before; null on a numbered page. */
  cursor: string | null;
  /** The page's number: sent in page mode, only shown in cursor mode. */
  page: number;
  pageSize: number;
}

export function parseSessionsQuery(query: URLSearchParams): SessionsQuery {
  const accepted = query.get("accepted");
  const status = query.get("status");
  const pageSize = Number(query.get("page_size"));
  return {
    accepted: accepted === "true" ? true : accepted === "false" ? false : null,
    status: status === "ok" || status === "error" ? status : null,
    sort: parseSort(query.get("sort"), SESSION_SORT_KEYS, DEFAULT_SESSION_SORT),
    cursor: query.get("cursor") || null,
    page: positiveInt(query.get("page"), 1),
    pageSize: (PAGE_SIZES as readonly number[]).includes(pageSize) ? pageSize : PAGE_SIZES[0],
  };
}

/** The API query of the list at `now` (a preset window ends now). */
export function sessionsApiQuery(query: URLSearchParams, now: Date): SessionsApiQuery {
  const view = parseView(query);
  const state = parseSessionsQuery(query);
  return {
    ...apiWindow(view, now),
    ...apiFilters(view),
    ...(state.accepted === null ? {} : { accepted: state.accepted }),
    ...(state.status ? { status: state.status } : {}),
    sort: sortToken(state.sort),
    page_size: state.pageSize,
    // Cursor mode ignores `page`; sending only one of them keeps the request honest.
    ...(state.cursor ? { cursor: state.cursor } : { page: state.page }),
  };
}

/** Everything a cursor depends on: when any of it changes, the cursor no longer applies. */
export function cursorScope(query: URLSearchParams): string {
  const scope = new URLSearchParams(query);
  for (const key of ["cursor", "page"]) scope.delete(key);
  scope.sort();
  return scope.toString();
}

/**
 * Where "Next" and "Previous" lead. Forward is keyset (`cursor`): it stays put while
 * new sessions arrive at the top, and costs the same however deep. The API issues no
 * backward cursor, so "Previous" asks for the numbered page before (`page`).
 */
export function sessionPages(
  location: Location,
  state: SessionsQuery,
  list: Pick<SessionList, "next_cursor">,
): { previous: string | null; next: string | null } {
  const previousPage = state.page - 1;
  return {
    previous:
      previousPage >= 1 ? withQuery(location, { cursor: null, page: previousPage > 1 ? String(previousPage) : null }) : null,
    next: list.next_cursor ? withQuery(location, { cursor: list.next_cursor, page: String(state.page + 1) }) : null,
  };
}

// ---------------------------------------------------------------------------
// The list.

/** Loads the list the URL describes; `reload()` refetches quietly (rows stay on screen). */
export function useSessionList(projectId: string, query: URLSearchParams): Loaded<SessionList> {
  const request = query.toString();
  return useApi(
    () =>
      must(
        api.GET("/api/v1/projects/{project_id}/sessions", {
          params: { path: { project_id: projectId }, query: sessionsApiQuery(query, new Date()) },
        }),
      ),
    [projectId, request],
  );
}

function acceptanceText(accepted: number, rejected: number): string {
  const decided = accepted + rejected;
  return decided === 0 ? "No decisions" : `${accepted} of ${decided}`;
}

function SessionStatus({ status, errors }: { status: Session["status"]; errors: number }) {
  if (status === "ok") return <span class="badge status-good">OK</span>;
  return <span class="badge status-critical">{errors === 1 ? "1 error" : `${formatCount(errors)} errors`}</span>;
}

/** The rows of the sessions table; each links to its session, carrying the list's query back. */
export function SessionRows({ sessions, location, base }: { sessions: Session[]; location: Location; base: string }) {
  const carried = location.query.toString().replace(/^(?=.)/, "?");
  return (
    <tbody>
      {sessions.map((session) => (
        <tr key={session.session_id} data-session-id={session.session_id}>
          <th scope="row" class="session-id">
            <Link href={`${base}/sessions/${encodeURIComponent(session.session_id)}${carried}`}>
              {session.session_id}
            </Link>
          </th>
          <td>
            {session.developer_id ? (
              <Link href={`${base}/developers/${encodeURIComponent(session.developer_id)}`}>{session.developer_id}</Link>
            ) : (
              <span class="muted">Unknown</span>
            )}
          </td>
          <td class="session-models">{session.models.length ? session.models.join(", ") : <span class="muted">None named</span>}</td>
          <td class="nowrap">{formatDateTime(session.started_at)}</td>
          <td class="nowrap">{formatDateTime(session.ended_at)}</td>
          <td class="num">{formatCount(session.events)}</td>
          <td class="num">{formatCount(session.total_tokens)}</td>
          <td class="num">{formatUsd(session.cost_usd)}</td>
          <td class="num">{session.latency_ms_avg === null ? "–" : formatDuration(session.latency_ms_avg)}</td>
          <td class="num">{acceptanceText(session.accepted, session.rejected)}</td>
          <td>
            <SessionStatus status={session.status} errors={session.errors} />
          </td>
        </tr>
      ))}
    </tbody>
  );
}

function SessionFilters({ location, state }: { location: Location; state: SessionsQuery }) {
  // A new filter is a new list: paging starts again at its first page.
  const go = (changes: Record<string, string | null>) => navigate(withQuery(location, { ...changes, cursor: null, page: null }));
  return (
    <div class="toolbar session-filters" role="group" aria-label="Session filters">
      <label>
        Acceptance
        <select
          value={state.accepted === null ? "" : String(state.accepted)}
          onChange={(event) => go({ accepted: event.currentTarget.value || null })}
        >
          <option value="">All sessions</option>
          <option value="true">With an accepted suggestion</option>
          <option value="false">With none accepted</option>
        </select>
      </label>
      <label>
        Status
        <select value={state.status ?? ""} onChange={(event) => go({ status: event.currentTarget.value || null })}>
          <option value="">All sessions</option>
          <option value="ok">Without errors</option>
          <option value="error">With errors</option>
        </select>
      </label>
      <label>
        Rows per page
        <select
          value={String(state.pageSize)}
          onChange={(event) => {
            const size = event.currentTarget.value;
            go({ page_size: size === String(PAGE_SIZES[0]) ? null : size });
          }}
        >
          {PAGE_SIZES.map((size) => (
            <option key={size} value={String(size)}>
              {size}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

/**
 * ViewControls changes the window and filters but keeps the other parameters, so a
 * cursor issued for the old list would survive; drop it (and the page number) then.
 */
function useCursorReset(location: Location): void {
  const scope = cursorScope(location.query);
  const previous = useRef(scope);
  useEffect(() => {
    const changed = previous.current !== scope;
    previous.current = scope;
    if (changed && (location.query.has("cursor") || location.query.has("page"))) {
      navigate(withQuery(location, { cursor: null, page: null }), { replace: true });
    }
  }, [scope]);
}

/** A cursor the API refused: its only 400 is `sessions.invalid_cursor`, so the status says it. */
function isInvalidCursor(error: unknown, state: SessionsQuery): boolean {
  return state.cursor !== null && error instanceof ApiError && error.status === 400;
}

export function SessionsPage({ location }: PageProps) {
  const project = useProject();
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const state = parseSessionsQuery(location.query);
  useCursorReset(location);
  // The one place live updates hook into: `sessions.reload()` refetches this page quietly.
  const sessions = useSessionList(project.id, location.query);

  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <ViewControls location={location} projectId={project.id} models={project.allowed_models} />
      <SessionFilters location={location} state={state} />
      <SessionsBody sessions={sessions} state={state} location={location} base={base} />
    </section>
  );
}

function SessionsBody({
  sessions,
  state,
  location,
  base,
}: {
  sessions: Loaded<SessionList>;
  state: SessionsQuery;
  location: Location;
  base: string;
}) {
  const list = sessions.data;
  const error =
    sessions.state === "error" ? (
      <>
        <ErrorBox error={sessions.error} onRetry={sessions.reload} />
        {isInvalidCursor(sessions.error, state) ? (
          <p>
            <Link href={withQuery(location, { cursor: null, page: null })}>Start again from the first page</Link>
          </p>
        ) : null}
      </>
    ) : null;
  if (!list) return error ?? <Loading label="Loading sessions…" />;
  const header = (label: string, key: SessionSortKey) => (
    <SortHeader
      label={label}
      sortKey={key}
      sort={state.sort}
      defaultSort={DEFAULT_SESSION_SORT}
      location={location}
      numeric={key !== "started_at"}
    />
  );
  const { previous, next } = sessionPages(location, state, list);
  const total = list.total ?? null;
  const status =
    total === null
      ? `Page ${formatCount(state.page)}`
      : `Page ${formatCount(state.page)} of ${formatCount(Math.max(list.pages ?? 1, 1))} · ${formatCount(total)} ${total === 1 ? "session" : "sessions"}`;
  return (
    <>
      {error}
      {list.items.length === 0 ? (
        state.page > 1 ? (
          <Empty title="No sessions on this page">
            <Link href={withQuery(location, { cursor: null, page: null })}>Go to the first page</Link>
          </Empty>
        ) : (
          <Empty title="No sessions">No session started in this window with these filters.</Empty>
        )
      ) : (
        <div class="table-wrap" aria-busy={sessions.state === "loading"}>
          <table aria-label="Sessions" class="sessions-table">
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">Developer</th>
                <th scope="col">Models</th>
                {header("Started", "started_at")}
                <th scope="col">Last activity</th>
                <th scope="col" class="num">
                  Calls
                </th>
                {header("Tokens", "tokens")}
                {header("Cost", "cost")}
                {header("Avg latency", "latency")}
                <th scope="col" class="num">
                  Accepted
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <SessionRows sessions={list.items} location={location} base={base} />
          </table>
        </div>
      )}
      <Pager label="Sessions pages" previous={previous} next={next} status={status} />
    </>
  );
}

// ---------------------------------------------------------------------------
// One session.

/** A call's start to the second: calls of one session are often seconds apart. */
function callTime(iso: string): string {
  return new Date(iso).toLocaleString("en-GB", {
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZone: "UTC",
    timeZoneName: "short",
  });
}

function callModel(event: SessionEvent): string {
  const model = event.response_model ?? event.request_model;
  if (!model) return "Not named";
  // A proxy alias answered by another model: show both, the request first.
  return event.request_model && event.response_model && event.request_model !== event.response_model
    ? `${event.request_model} → ${event.response_model}`
    : model;
}

function CallCost({ event }: { event: SessionEvent }) {
  if (event.cost_usd === null) return <span class="muted">Unknown (no price)</span>;
  return (
    <>
      {formatUsd(event.cost_usd)} <span class="muted">{event.cost_source ?? "source unknown"}</span>
    </>
  );
}

function capitalized(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function CallStatus({ event }: { event: SessionEvent }) {
  const failed = event.status !== "ok";
  const detail = [event.http_status === null ? null : `HTTP ${event.http_status}`, event.error_type].filter(Boolean).join(", ");
  return (
    <>
      <span class={`badge ${failed ? "status-critical" : "status-good"}`}>{failed ? capitalized(event.status) : "OK"}</span>
      {detail ? <span class="muted call-detail">{detail}</span> : null}
    </>
  );
}

function acceptedText(accepted: boolean | null): string {
  return accepted === null ? "–" : accepted ? "Accepted" : "Rejected";
}

function SessionSummary({ session, base }: { session: SessionDetail; base: string }) {
  const decided = session.accepted + session.rejected;
  return (
    <dl class="session-summary card">
      <div>
        <dt>Developer</dt>
        <dd>
          {session.developer_id ? (
            <Link href={`${base}/developers/${encodeURIComponent(session.developer_id)}`}>{session.developer_id}</Link>
          ) : (
            <span class="muted">Unknown</span>
          )}
        </dd>
      </div>
      <div>
        <dt>Models</dt>
        <dd>{session.models.length ? session.models.join(", ") : "None named"}</dd>
      </div>
      <div>
        <dt>Started</dt>
        <dd>{formatDateTime(session.started_at)}</dd>
      </div>
      <div>
        <dt>Last activity</dt>
        <dd>{formatDateTime(session.ended_at)}</dd>
      </div>
      <div>
        <dt>Duration</dt>
        <dd>{formatDuration(session.duration_ms)}</dd>
      </div>
      <div>
        <dt>Calls</dt>
        <dd>{formatCount(session.events)}</dd>
      </div>
      <div>
        <dt>Tokens</dt>
        <dd>{formatCount(session.total_tokens)}</dd>
      </div>
      <div>
        <dt>Cost</dt>
        <dd>{formatUsd(session.cost_usd)}</dd>
      </div>
      <div>
        <dt>Average latency</dt>
        <dd>{session.latency_ms_avg === null ? "–" : formatDuration(session.latency_ms_avg)}</dd>
      </div>
      <div>
        <dt>Suggestions accepted</dt>
        <dd>{decided === 0 ? "No decisions" : `${session.accepted} of ${decided}`}</dd>
      </div>
      <div>
        <dt>Status</dt>
        <dd>
          <SessionStatus status={session.status} errors={session.errors} />
        </dd>
      </div>
    </dl>
  );
}

function CallsTable({ events }: { events: SessionEvent[] }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Calls, scrollable">
      <table aria-label="Calls">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Model</th>
            <th scope="col" class="num">
              Tokens in
            </th>
            <th scope="col" class="num">
              Tokens out
            </th>
            <th scope="col">Cost</th>
            <th scope="col" class="num">
              Latency
            </th>
            <th scope="col">Status</th>
            <th scope="col">Suggestion</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={event.event_id} data-event-id={event.event_id}>
              <td class="nowrap">{callTime(event.started_at)}</td>
              <td>
                {callModel(event)}
                {event.operation ? <span class="muted call-detail">{event.operation}</span> : null}
              </td>
              <td class="num">{formatCount(event.input_tokens)}</td>
              <td class="num">{formatCount(event.output_tokens)}</td>
              <td class="nowrap">
                <CallCost event={event} />
              </td>
              <td class="num">{event.latency_ms === null ? "–" : formatDuration(event.latency_ms)}</td>
              <td>
                <CallStatus event={event} />
              </td>
              <td>{acceptedText(event.accepted)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SessionPage({ params, location }: PageProps) {
  const project = useProject();
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const sessionId = params.session ?? "";
  const session = useApi(
    () =>
      must(
        api.GET("/api/v1/projects/{project_id}/sessions/{session_id}", {
          params: { path: { project_id: project.id, session_id: sessionId } },
        }),
      ),
    [project.id, sessionId],
  );
  // The list's query came along in this page's URL: going back restores its filters and page.
  const back = `${base}/sessions${location.query.toString().replace(/^(?=.)/, "?")}`;
  const data = session.data;
  return (
    <section aria-labelledby="session-title">
      <p class="back-link">
        <Link href={back}>← All sessions</Link>
      </p>
      <h2 id="session-title">
        Session <code>{sessionId}</code>
      </h2>
      {session.state === "error" ? <ErrorBox error={session.error} onRetry={session.reload} /> : null}
      {data ? (
        <>
          <SessionSummary session={data} base={base} />
          <h3>Calls</h3>
          {data.events_truncated ? (
            <p class="muted">
              Showing the first {formatCount(data.event_list.length)} of {formatCount(data.events)} calls.
            </p>
          ) : null}
          {data.event_list.length ? <CallsTable events={data.event_list} /> : <Empty title="No calls recorded" />}
        </>
      ) : session.state === "loading" ? (
        <Loading label="Loading session…" />
      ) : null}
    </section>
  );
}
