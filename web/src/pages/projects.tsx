// The signed-in user's projects, and a form for a new one. The landing page ("/")
// opens the only project straight away when there is just one.
import "./projects.css";
import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../api/schema";
import { Empty, ErrorBox, Loading } from "../components/states";
import { formatCount, formatDate } from "../lib/format";
import type { Project, ProjectRole } from "../lib/project";
import { Link, type Location, navigate, withQuery } from "../lib/router";
import { type Loaded, useApi } from "../lib/useApi";
import type { PageProps } from "../routes";
import { Field, FieldNotes, FormAlert, fieldAria, useForm } from "../components/form";
import { Pager, positiveInt } from "../components/table";

type ProjectPage = components["schemas"]["Page_ProjectPublic_"];

const PAGE_SIZE = 20;

const ROLE_LABELS: Record<ProjectRole, string> = {
  owner: "Owner",
  maintainer: "Maintainer",
  viewer: "Viewer",
};

function projectHref(project: Pick<Project, "id">): string {
  return `/projects/${encodeURIComponent(project.id)}`;
}

export function ProjectsPage({ location }: PageProps) {
  const page = positiveInt(location.query.get("page"), 1);
  const list = useApi(
    () => must(api.GET("/api/v1/projects", { params: { query: { page, page_size: PAGE_SIZE } } })),
    [page],
  );
  // On "/" a single project is the whole choice: open it (the demo user lands on
  // the demo project's KPIs). /projects always lists, so the list stays reachable.
  const only =
    location.path === "/" && page === 1 && list.state === "ready" && list.data.total === 1
      ? list.data.items[0]
      : undefined;
  useEffect(() => {
    if (only) navigate(projectHref(only), { replace: true });
  }, [only?.id]);

  return (
    <div class="projects-page">
      <h1>Projects</h1>
      {only ? (
        <Loading label={`Opening ${only.name}…`} />
      ) : (
        <>
          <ProjectList list={list} location={location} page={page} />
          {/* After the first answer, so "/" does not flash the form before opening a project. */}
          {list.data ? <NewProjectForm /> : null}
        </>
      )}
    </div>
  );
}

function ProjectList({ list, location, page }: { list: Loaded<ProjectPage>; location: Location; page: number }) {
  if (list.state === "error") return <ErrorBox error={list.error} onRetry={list.reload} />;
  if (!list.data) return <Loading label="Loading your projects…" />;
  if (list.data.total === 0) {
    return (
      <Empty title="No projects yet">
        A project collects the activity of a team and its repositories. Create one below.
      </Empty>
    );
  }
  if (list.data.items.length === 0) {
    return (
      <Empty title="No projects on this page">
        <Link href={withQuery(location, { page: null })}>Go to the first page</Link>
      </Empty>
    );
  }
  return (
    <>
      <ProjectTable projects={list.data.items} busy={list.state === "loading"} />
      <ProjectPager location={location} page={page} pages={list.data.pages} total={list.data.total} />
    </>
  );
}

function ProjectTable({ projects, busy }: { projects: Project[]; busy: boolean }) {
  return (
    <div class="table-wrap" aria-busy={busy}>
      <table>
        <caption class="visually-hidden">Your projects</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" class="project-slug">
              Slug
            </th>
            <th scope="col">Your role</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {projects.map((project) => (
            <tr key={project.id}>
              <td>
                <Link href={projectHref(project)} class="project-name">
                  {project.name}
                </Link>
                {project.description ? <span class="project-description">{project.description}</span> : null}
              </td>
              <td class="project-slug">
                <code>{project.slug}</code>
              </td>
              <td>{project.role ? ROLE_LABELS[project.role] : "Not a member"}</td>
              <td>
                <span class={`badge project-status project-status-${project.status}`}>{project.status}</span>
              </td>
              <td class="nowrap">{formatDate(project.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Previous / next page links and where the list stands, announced when it changes. */
function ProjectPager({ location, page, pages, total }: { location: Location; page: number; pages: number; total: number }) {
  if (pages <= 1) return null;
  const pageHref = (target: number) => withQuery(location, { page: target === 1 ? null : String(target) });
  return (
    <Pager
      label="Project pages"
      previous={page > 1 ? pageHref(page - 1) : null}
      next={page < pages ? pageHref(page + 1) : null}
      status={`Page ${page} of ${pages} · ${formatCount(total)} projects`}
    />
  );
}

const PROJECT_FIELDS = ["name", "slug", "description"] as const;

function NewProjectForm() {
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [description, setDescription] = useState("");
  const form = useForm(PROJECT_FIELDS, { "projects.slug_taken": "slug" });

  const create = async () => {
    const project = await must(
      api.POST("/api/v1/projects", {
        body: { name: name.trim(), slug: slug.trim() || null, description: description.trim() },
      }),
    );
    navigate(projectHref(project));
  };

  const descriptionId = "field-description";
  return (
    <section class="card new-project" aria-labelledby="new-project-title">
      <h2 id="new-project-title">New project</h2>
      <form ref={form.ref} onSubmit={form.submit(create)}>
        <Field
          name="name"
          label="Name"
          value={name}
          onValue={setName}
          error={form.fields.name}
          autocomplete="off"
          required
          maxLength={100}
        />
        <Field
          name="slug"
          label="Slug (optional)"
          value={slug}
          onValue={setSlug}
          error={form.fields.slug}
          hint="Lower-case letters, digits and hyphens; made from the name when empty."
          autocomplete="off"
          verbatim
          maxLength={63}
        />
        <div class="field">
          <label for={descriptionId}>Description (optional)</label>
          <textarea
            {...fieldAria(descriptionId, form.fields.description)}
            name="description"
            rows={3}
            maxLength={5000}
            value={description}
            onInput={(event) => setDescription(event.currentTarget.value)}
          />
          <FieldNotes id={descriptionId} error={form.fields.description} />
        </div>
        <FormAlert error={form.error} />
        <div class="actions">
          <button type="submit" disabled={form.sending}>
            {form.sending ? "Creating…" : "Create project"}
          </button>
        </div>
      </form>
    </section>
  );
}
