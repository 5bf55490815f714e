// The API client: typed by the OpenAPI document (schema.d.ts is generated from it,
// so a renamed or removed field fails `tsc`), authenticated by the HttpOnly cookies of
// cookie mode. Unsafe methods carry the CSRF token; an expired access cookie is
// refreshed once, silently, and the request retried; when refresh fails the app is
// told the session ended and goes back to sign-in.
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { ApiError, problemOf } from "./problem";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
// Calls that must not trigger a refresh: they are the sign-in flow itself.
const NO_REFRESH = ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"];

export function csrfToken(): string {
  return document.cookie.match(/(?:^|; )prodlens_csrf=([^;]*)/)?.[1] ?? "";
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when the session is gone (refresh refused): the app shows sign-in. */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

let refreshing: Promise<boolean> | null = null;

/** Rotate the cookie pair; concurrent callers share one refresh. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken() },
  })
    .then((response) => response.ok)
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

function withCsrf(request: Request): Request {
  if (SAFE_METHODS.has(request.method)) return request;
  const headers = new Headers(request.headers);
  headers.set("X-CSRF-Token", csrfToken());
  return new Request(request, { headers });
}

export async function authFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const response = await fetch(withCsrf(request));
  const path = new URL(request.url, location.origin).pathname;
  if (response.status !== 401 || NO_REFRESH.includes(path)) return response;
  if (await refreshSession()) return fetch(withCsrf(retry));
  for (const listener of signedOutListeners) listener();
  return response;
}

export const api = createClient<paths>({
  baseUrl: "",
  credentials: "same-origin",
  fetch: authFetch,
});

/** Unwrap an openapi-fetch result: the data, or an ApiError with the problem's title. */
export async function must<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch {
    throw new ApiError(0, { title: "Network error", detail: "The server could not be reached." }, null);
  }
  if (!result.response.ok) throw problemOf(result.response, result.error);
  return result.data as T;
}
