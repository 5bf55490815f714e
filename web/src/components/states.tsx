// Loading, empty and error states: every view shows one of them rather than
// drawing zeros or nothing.
import type { ComponentChildren } from "preact";
import { ApiError } from "../api/problem";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty" role="status">
      <p class="state-title">{title}</p>
      {children ? <div class="state-body">{children}</div> : null}
    </div>
  );
}

/** A failed call: the problem's title and detail, and its correlation id for support. */
export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const problem = error instanceof ApiError ? error : null;
  const title = problem?.title ?? "Something went wrong";
  const detail = problem ? problem.detail : error instanceof Error ? error.message : String(error);
  return (
    <div class="state state-error" role="alert">
      <p class="state-title">{title}</p>
      {detail ? <p>{detail}</p> : null}
      {problem?.correlationId ? (
        <p class="muted">
          Correlation id: <code>{problem.correlationId}</code>
        </p>
      ) : null}
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
