// Who is signed in. Cookie mode: the tokens live in HttpOnly cookies the page
// cannot read; the page only learns the user from GET /auth/me.
import { api, must, onSignedOut } from "../api/client";
import type { components } from "../api/schema";
import { createStore } from "./store";

export type User = components["schemas"]["UserPublic"];
export type PublicConfig = components["schemas"]["PublicConfig"];

export type SessionState =
  | { status: "loading" }
  | { status: "signed-out"; expired: boolean }
  | { status: "signed-in"; user: User };

export const session = createStore<SessionState>({ status: "loading" });
export const publicConfig = createStore<PublicConfig | null>(null);

onSignedOut(() => {
  if (session.get().status === "signed-in") session.set({ status: "signed-out", expired: true });
});

export async function loadSession(): Promise<void> {
  const [me, config] = await Promise.all([
    api.GET("/api/v1/auth/me").catch(() => null),
    api.GET("/api/v1/config").catch(() => null),
  ]);
  if (config?.data) publicConfig.set(config.data);
  if (me?.data) session.set({ status: "signed-in", user: me.data });
  else session.set({ status: "signed-out", expired: false });
}

export async function signIn(username: string, password: string): Promise<void> {
  await must(
    api.POST("/api/v1/auth/login", {
      body: { username, password, use_cookies: true, device_name: "Dashboard" },
    }),
  );
  const user = await must(api.GET("/api/v1/auth/me"));
  session.set({ status: "signed-in", user });
}

export async function signOut(): Promise<void> {
  try {
    await api.POST("/api/v1/auth/logout");
  } finally {
    session.set({ status: "signed-out", expired: false });
  }
}

export function isAdmin(state: SessionState): boolean {
  return state.status === "signed-in" && state.user.role === "admin";
}
