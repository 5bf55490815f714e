// Every page of the dashboard and its URL. The server answers index.html for these
// paths (src/prodlens/web/routes.py lists the same prefixes).
import type { FunctionComponent } from "preact";
import type { Location } from "./lib/router";
// The overview is where people land: in the main bundle, so its code and its first
// requests do not wait for another round trip.
import { OverviewPage } from "./pages/overview";

export interface PageProps {
  params: Record<string, string>;
  location: Location;
}

export type Page = FunctionComponent<PageProps>;

export interface Route {
  pattern: string;
  /** Loaded on first visit (but the overview), so the landing page does not carry the admin pages' code. */
  load: () => Promise<Page>;
  /** Public pages are for signed-out visitors (sign-in, registration, email links). */
  public?: boolean;
  /** Shown inside a project's frame (its tabs). */
  project?: boolean;
  admin?: boolean;
  title: string;
}

export const routes: Route[] = [
  { pattern: "/sign-in", public: true, title: "Sign in", load: () => import("./pages/auth").then((m) => m.SignInPage) },
  { pattern: "/register", public: true, title: "Create an account", load: () => import("./pages/auth").then((m) => m.RegisterPage) },
  { pattern: "/forgot-password", public: true, title: "Forgot password", load: () => import("./pages/auth").then((m) => m.ForgotPasswordPage) },
  { pattern: "/reset-password", public: true, title: "Choose a new password", load: () => import("./pages/auth").then((m) => m.ResetPasswordPage) },
  { pattern: "/verify-email", public: true, title: "Verify your email", load: () => import("./pages/auth").then((m) => m.VerifyEmailPage) },
  { pattern: "/", title: "Projects", load: () => import("./pages/projects").then((m) => m.ProjectsPage) },
  { pattern: "/projects", title: "Projects", load: () => import("./pages/projects").then((m) => m.ProjectsPage) },
  { pattern: "/projects/:project", project: true, title: "Overview", load: () => Promise.resolve(OverviewPage) },
  { pattern: "/projects/:project/sessions", project: true, title: "Sessions", load: () => import("./pages/sessions").then((m) => m.SessionsPage) },
  { pattern: "/projects/:project/sessions/:session", project: true, title: "Session", load: () => import("./pages/sessions").then((m) => m.SessionPage) },
  { pattern: "/projects/:project/developers", project: true, title: "Developers", load: () => import("./pages/developers").then((m) => m.DevelopersPage) },
  { pattern: "/projects/:project/developers/:developer", project: true, title: "Developer", load: () => import("./pages/developers").then((m) => m.DeveloperPage) },
  { pattern: "/projects/:project/insights", project: true, title: "Insights", load: () => import("./pages/insights").then((m) => m.InsightsPage) },
  { pattern: "/projects/:project/exports", project: true, title: "Exports", load: () => import("./pages/exports").then((m) => m.ExportsPage) },
  { pattern: "/projects/:project/settings", project: true, title: "Settings", load: () => import("./pages/settings").then((m) => m.SettingsPage) },
  { pattern: "/admin/users", admin: true, title: "Users", load: () => import("./pages/admin").then((m) => m.UsersPage) },
  { pattern: "/admin/audit", admin: true, title: "Audit log", load: () => import("./pages/admin").then((m) => m.AuditPage) },
  { pattern: "/admin/maintenance", admin: true, title: "Maintenance", load: () => import("./pages/admin").then((m) => m.MaintenancePage) },
  { pattern: "/admin/plans", admin: true, title: "Plans", load: () => import("./pages/admin").then((m) => m.PlansPage) },
];
