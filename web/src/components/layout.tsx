// The frame around every signed-in page: skip link, header, navigation, main.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { Link, navigate } from "../lib/router";
import { isAdmin, session, signOut } from "../lib/session";
import { useStore } from "../lib/store";
import { applyTheme, storedTheme, type Theme } from "./theme";

const NEXT_THEME: Record<Theme, Theme> = { system: "light", light: "dark", dark: "system" };

export function Layout({ children }: { children: ComponentChildren }) {
  const state = useStore(session);
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const cycleTheme = () => {
    const next = NEXT_THEME[theme];
    applyTheme(next);
    setTheme(next);
  };
  const onSignOut = async () => {
    await signOut();
    navigate("/sign-in");
  };
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/" class="brand" aria-label="ProdLens home">
          <img src="/favicon.svg" alt="" width="22" height="22" />
          ProdLens
        </Link>
        <nav aria-label="Main" class="topnav">
          <Link href="/projects">Projects</Link>
          {isAdmin(state) ? (
            <>
              <Link href="/admin/users">Users</Link>
              <Link href="/admin/audit">Audit log</Link>
              <Link href="/admin/maintenance">Maintenance</Link>
              <Link href="/admin/plans">Plans</Link>
            </>
          ) : null}
        </nav>
        <div class="topbar-end">
          <button type="button" class="ghost" onClick={cycleTheme} aria-label={`Theme: ${theme}. Change theme`}>
            {theme === "dark" ? "Dark" : theme === "light" ? "Light" : "Auto"}
          </button>
          {state.status === "signed-in" ? (
            <>
              <span class="user" title={state.user.email}>
                {state.user.display_name || state.user.username}
              </span>
              <button type="button" onClick={onSignOut}>
                Sign out
              </button>
            </>
          ) : null}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

/** The frame of the public pages (sign-in, registration, email links). */
export function PublicLayout({ children }: { children: ComponentChildren }) {
  return (
    <main id="main" class="public" tabIndex={-1}>
      <div class="public-card">
        <p class="brand">
          <img src="/favicon.svg" alt="" width="22" height="22" />
          ProdLens
        </p>
        {children}
      </div>
    </main>
  );
}
