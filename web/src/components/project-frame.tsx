// A project's pages share its name, tabs and the project object (ProjectContext).
import type { ComponentChildren } from "preact";
import { api, must } from "../api/client";
import { canManage, ProjectContext } from "../lib/project";
import { Link, type Location } from "../lib/router";
import { useApi } from "../lib/useApi";
import { ErrorBox, Loading } from "./states";

interface Tab {
  path: string;
  label: string;
  manage?: boolean;
}

const TABS: Tab[] = [
  { path: "", label: "Overview" },
  { path: "/sessions", label: "Sessions" },
  { path: "/developers", label: "Developers" },
  { path: "/insights", label: "Insights" },
  { path: "/exports", label: "Exports" },
  { path: "/settings", label: "Settings", manage: true },
];

/** Filters and window travel with the user between tabs. */
const SHARED = ["window", "from", "to", "developer", "model"];

export function ProjectFrame({
  projectId,
  location,
  children,
}: {
  projectId: string;
  location: Location;
  children: ComponentChildren;
}) {
  const project = useApi(
    () => must(api.GET("/api/v1/projects/{project_id}", { params: { path: { project_id: projectId } } })),
    [projectId],
  );
  if (project.state === "error") return <ErrorBox error={project.error} onRetry={project.reload} />;
  if (!project.data) return <Loading label="Loading project…" />;
  const base = `/projects/${encodeURIComponent(project.data.id)}`;
  const carried = new URLSearchParams();
  for (const key of SHARED) {
    const value = location.query.get(key);
    if (value) carried.set(key, value);
  }
  const suffix = carried.toString() ? `?${carried}` : "";
  return (
    <ProjectContext.Provider value={project.data}>
      <div class="project-head">
        <h1>{project.data.name}</h1>
        <nav aria-label="Project" class="tabs">
          {TABS.filter((tab) => !tab.manage || canManage(project.data!)).map((tab) => {
            const href = base + tab.path;
            const here = tab.path === "" ? location.path === href : location.path.startsWith(href);
            return (
              <Link key={tab.path} href={href + suffix} aria-current={here ? "page" : undefined}>
                {tab.label}
              </Link>
            );
          })}
        </nav>
      </div>
      {children}
    </ProjectContext.Provider>
  );
}
