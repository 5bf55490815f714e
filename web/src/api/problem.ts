// RFC 9457 problem details as the API sends them (docs/api.md), and the error the
// dashboard throws for any failed call so every page can show title + correlation id.
import type { components } from "./schema";

export type Problem = components["schemas"]["Problem"];

export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly code: string | null;
  readonly detail: string | null;
  readonly correlationId: string | null;
  /** Seconds to wait before trying again (429, 503), from the Retry-After header. */
  readonly retryAfter: number | null;
  readonly problem: Partial<Problem> | null;

  constructor(
    status: number,
    problem: Partial<Problem> | null,
    correlationId: string | null,
    retryAfter: number | null = null,
  ) {
    const title = problem?.title ?? (status === 0 ? "Network error" : `HTTP ${status}`);
    super(problem?.detail ? `${title}: ${problem.detail}` : title);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.code = problem?.code ?? null;
    this.detail = problem?.detail ?? null;
    this.correlationId = correlationId ?? problem?.correlation_id ?? null;
    this.retryAfter = retryAfter;
    this.problem = problem;
  }

  /** Field errors of a 422 answer, keyed by the last part of each field path. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const error of this.problem?.errors ?? []) {
      const field = error.field.split(".").pop() ?? error.field;
      out[field] = error.message;
    }
    return out;
  }
}

function isProblem(body: unknown): body is Partial<Problem> {
  return typeof body === "object" && body !== null && "title" in body;
}

function seconds(header: string | null): number | null {
  const value = header === null ? Number.NaN : Number(header);
  return Number.isFinite(value) && value >= 0 ? value : null;
}

/** The error of a failed answer whose body was already read (openapi-fetch parses it). */
export function problemOf(response: Response, body: unknown): ApiError {
  return new ApiError(
    response.status,
    isProblem(body) ? body : null,
    response.headers.get("X-Correlation-ID"),
    seconds(response.headers.get("Retry-After")),
  );
}
