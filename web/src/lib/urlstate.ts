// The state of an analytics view in its URL: window (a preset or a custom range),
// bucket and filters. Pure functions, so the URL format is tested on its own.

export const PRESETS = { "24h": 1, "7d": 7, "30d": 30, "90d": 90 } as const;
export type Preset = keyof typeof PRESETS;
export type Bucket = "hour" | "day" | "week";

export interface ViewState {
  preset: Preset | "custom";
  /** ISO dates (YYYY-MM-DD) of a custom window; `until` is inclusive for people. */
  from: string | null;
  to: string | null;
  bucket: Bucket;
  developer: string | null;
  model: string | null;
}

export const DEFAULT_PRESET: Preset = "30d";

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar day as YYYY-MM-DD: "2026-02-31" and "2026-13-01" are not. */
function isDate(value: string | null): value is string {
  if (value === null || !DATE.test(value)) return false;
  const time = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === value;
}

function isPreset(value: string | null): value is Preset {
  return value !== null && Object.hasOwn(PRESETS, value);
}

/** The bucket that suits a window when the URL does not say. */
export function defaultBucket(days: number): Bucket {
  if (days <= 2) return "hour";
  if (days <= 120) return "day";
  return "week";
}

export function parseView(query: URLSearchParams): ViewState {
  const window = query.get("window");
  const from = query.get("from");
  const to = query.get("to");
  // A custom range needs two real days in order; anything else falls back to a preset
  // rather than asking the API for an impossible window.
  const custom = window === "custom" && isDate(from) && isDate(to) && from <= to;
  const preset: Preset | "custom" = custom ? "custom" : isPreset(window) ? window : DEFAULT_PRESET;
  const bucketParam = query.get("bucket");
  const bucket: Bucket =
    bucketParam === "hour" || bucketParam === "day" || bucketParam === "week"
      ? bucketParam
      : defaultBucket(preset === "custom" ? daysBetween(from!, to!) + 1 : PRESETS[preset]);
  return {
    preset,
    from: custom ? from : null,
    to: custom ? to : null,
    bucket,
    developer: query.get("developer") || null,
    model: query.get("model") || null,
  };
}

/** The query parameters of a view; defaults are left out, so URLs stay short. */
export function viewQuery(view: ViewState): Record<string, string | null> {
  const custom = view.preset === "custom";
  const days = custom ? daysBetween(view.from!, view.to!) + 1 : PRESETS[view.preset as Preset];
  return {
    window: view.preset === DEFAULT_PRESET ? null : view.preset,
    from: custom ? view.from : null,
    to: custom ? view.to : null,
    bucket: view.bucket === defaultBucket(days) ? null : view.bucket,
    developer: view.developer,
    model: view.model,
  };
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

export interface ApiWindow {
  since: string;
  until: string;
}

/**
 * The API window of a view at `now`: a preset ends now; a custom range covers whole
 * UTC days from `from` to `to` inclusive (the API's `until` is exclusive).
 */
export function apiWindow(view: ViewState, now: Date): ApiWindow {
  if (view.preset === "custom" && view.from && view.to) {
    const until = new Date(Date.parse(`${view.to}T00:00:00Z`) + 86_400_000);
    return { since: `${view.from}T00:00:00Z`, until: until.toISOString() };
  }
  const days = PRESETS[view.preset as Preset];
  // Whole minutes: requests made in the same minute share a window (and a cache entry).
  const end = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 60_000);
  const start = new Date(end.getTime() - days * 86_400_000);
  return { since: start.toISOString(), until: end.toISOString() };
}

/** The filters of a view as API query parameters (only those that are set). */
export function apiFilters(view: ViewState): { developer?: string; model?: string } {
  return {
    ...(view.developer ? { developer: view.developer } : {}),
    ...(view.model ? { model: view.model } : {}),
  };
}
