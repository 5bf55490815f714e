// The shell: finds the route of the URL, keeps signed-out visitors on the public
// pages, loads each page's code on first visit and frames it.
import { useEffect, useState } from "preact/hooks";
import { Layout, PublicLayout } from "./components/layout";
import { ProjectFrame } from "./components/project-frame";
import { Empty, ErrorBox, Loading } from "./components/states";
import { Link, match, navigate, useLocation } from "./lib/router";
import { isAdmin, loadSession, session } from "./lib/session";
import { useStore } from "./lib/store";
import { type Page, type Route, routes } from "./routes";

function findRoute(path: string): { route: Route; params: Record<string, string> } | null {
  for (const route of routes) {
    const params = match(route.pattern, path);
    if (params) return { route, params };
  }
  return null;
}

const loaded = new Map<Route, Page>();

function usePage(route: Route | null): { page: Page | null; error: unknown } {
  const [, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setError(null);
    if (!route || loaded.has(route)) return;
    route.load().then(
      (page) => {
        loaded.set(route, page);
        setVersion((version) => version + 1);
      },
      (failure: unknown) => setError(failure),
    );
  }, [route]);
  return { page: route ? (loaded.get(route) ?? null) : null, error };
}

export function App() {
  const location = useLocation();
  const state = useStore(session);
  const found = findRoute(location.path);
  const { page: PageComponent, error } = usePage(found?.route ?? null);

  useEffect(() => {
    void loadSession();
  }, []);

  useEffect(() => {
    document.title = found ? `${found.route.title} · ProdLens` : "Not found · ProdLens";
  }, [found?.route]);

  // Signed out on a private page: sign in first, then come back here.
  useEffect(() => {
    if (state.status === "signed-out" && found && !found.route.public) {
      const next = location.path + location.query.toString().replace(/^(?=.)/, "?");
      const query = new URLSearchParams({ next });
      if (state.expired) query.set("expired", "1");
      navigate(`/sign-in?${query}`, { replace: true });
    }
  }, [state, found?.route, location.path]);

  if (!found) {
    return (
      <Layout>
        <Empty title="Page not found">
          <Link href="/">Go to your projects</Link>
        </Empty>
      </Layout>
    );
  }
  const { route, params } = found;
  const body = error ? (
    <ErrorBox error={error} onRetry={() => window.location.reload()} />
  ) : PageComponent ? (
    <PageComponent params={params} location={location} />
  ) : (
    <Loading />
  );
  if (route.public) return <PublicLayout>{body}</PublicLayout>;
  if (state.status !== "signed-in") return <Loading label="Signing in…" />;
  if (route.admin && !isAdmin(state)) {
    return (
      <Layout>
        <Empty title="Administrators only">This page is for ProdLens administrators.</Empty>
      </Layout>
    );
  }
  return (
    <Layout>
      {route.project ? (
        <ProjectFrame projectId={params.project ?? ""} location={location}>
          {body}
        </ProjectFrame>
      ) : (
        body
      )}
    </Layout>
  );
}
