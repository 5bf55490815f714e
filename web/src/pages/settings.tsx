// A project's management page: members, API keys, KPI targets and the GitHub
// webhook, one section at a time (`?section=`), for owners and maintainers
// (docs/projects.md). Controls the caller's role may not use are not drawn; the API
// checks again on every call.
import "./settings.css";
import { useRef, useState } from "preact/hooks";
import { api, must } from "../api/client";
import { ApiError } from "../api/problem";
import type { components } from "../api/schema";
import { useConfirm } from "../components/confirm";
import { CopyButton } from "../components/copy-button";
import { Field, FieldNotes, FormAlert, fieldAria, FieldProblem, useForm } from "../components/form";
import { Notice, useNotice } from "../components/notice";
import { SecretBox } from "../components/secret-box";
import { Empty, ErrorBox, Loading } from "../components/states";
import { formatDate, formatDateTime } from "../lib/format";
import { canManage, type Project, type ProjectRole, useProject } from "../lib/project";
import { Link, type Location, withQuery } from "../lib/router";
import { session } from "../lib/session";
import { useStore } from "../lib/store";
import { useApi } from "../lib/useApi";
import type { PageProps } from "../routes";

type Member = components["schemas"]["MemberPublic"];
type ApiKey = components["schemas"]["ApiKeyPublic"];
type ApiKeyCreated = components["schemas"]["ApiKeyCreated"];
type Scope = ApiKey["scopes"][number];
type Target = components["schemas"]["TargetPublic"];
type TargetIn = components["schemas"]["TargetIn"];
type GitHub = components["schemas"]["GitHubIntegration"];

// ---------------------------------------------------------------------------------
// Sections

export type Section = "members" | "keys" | "targets" | "github";

const SECTIONS: { id: Section; label: string }[] = [
  { id: "members", label: "Members" },
  { id: "keys", label: "API keys" },
  { id: "targets", label: "KPI targets" },
  { id: "github", label: "GitHub" },
];

/** The section in the URL; members when it names none (the default is left out of links). */
export function parseSection(raw: string | null): Section {
  return SECTIONS.find((section) => section.id === raw)?.id ?? "members";
}

export function SettingsPage({ location }: PageProps) {
  const project = useProject();
  if (!canManage(project)) {
    return (
      <section aria-labelledby="settings-title">
        <h2 id="settings-title">Settings</h2>
        <Empty title="You need the maintainer role">
          Members, API keys, KPI targets and the GitHub webhook are managed by the project's owners and
          maintainers. Ask an owner if you need access.
        </Empty>
      </section>
    );
  }
  const section = parseSection(location.query.get("section"));
  return (
    <section aria-labelledby="settings-title" class="settings">
      <h2 id="settings-title">Settings</h2>
      <SectionNav location={location} current={section} />
      {section === "members" ? <MembersSection project={project} /> : null}
      {section === "keys" ? <KeysSection project={project} /> : null}
      {section === "targets" ? <TargetsSection project={project} /> : null}
      {section === "github" ? <GitHubSection project={project} /> : null}
    </section>
  );
}

function SectionNav({ location, current }: { location: Location; current: Section }) {
  return (
    <nav aria-label="Settings sections" class="settings-nav">
      {SECTIONS.map((section) => (
        <Link
          key={section.id}
          href={withQuery(location, { section: section.id === "members" ? null : section.id })}
          aria-current={section.id === current ? "page" : undefined}
        >
          {section.label}
        </Link>
      ))}
    </nav>
  );
}

function useMyId(): string | null {
  const state = useStore(session);
  return state.status === "signed-in" ? state.user.id : null;
}

const projectPath = (project: Project) => ({ path: { project_id: project.id } });

// ---------------------------------------------------------------------------------
// Members

const ROLES: { role: ProjectRole; label: string }[] = [
  { role: "owner", label: "Owner" },
  { role: "maintainer", label: "Maintainer" },
  { role: "viewer", label: "Viewer" },
];
const ROLE_RANK: Record<ProjectRole, number> = { viewer: 0, maintainer: 1, owner: 2 };

function roleLabel(role: ProjectRole): string {
  return ROLES.find((entry) => entry.role === role)?.label ?? role;
}

/** A change that takes rights away: confirmed first, like a removal. */
export function isDemotion(from: ProjectRole, to: ProjectRole): boolean {
  return ROLE_RANK[to] < ROLE_RANK[from];
}

function MembersSection({ project }: { project: Project }) {
  const members = useApi(() => must(api.GET("/api/v1/projects/{project_id}/members", { params: projectPath(project) })), [
    project.id,
  ]);
  const myId = useMyId();
  const { confirm, dialog } = useConfirm();
  const notice = useNotice();
  const owner = project.role === "owner";

  const memberPath = (member: Member) => ({ path: { project_id: project.id, user_id: member.user_id } });

  // The project frame holds the caller's role: after changing one's own membership
  // the page is loaded afresh, so every tab and control follows the new role.
  const afterOwnChange = (href: string) => window.location.assign(href);

  const changeRole = async (member: Member, role: ProjectRole) => {
    await must(api.PATCH("/api/v1/projects/{project_id}/members/{user_id}", { params: memberPath(member), body: { role } }));
    if (member.user_id === myId) return afterOwnChange(`/projects/${encodeURIComponent(project.id)}`);
    notice.announce(`${member.username} is now ${roleLabel(role).toLowerCase()}.`);
    members.reload();
  };

  const askRole = (member: Member, role: ProjectRole) => {
    if (!isDemotion(member.role, role)) return changeRole(member, role);
    const self = member.user_id === myId;
    confirm({
      title: self ? `Make yourself ${roleLabel(role).toLowerCase()}?` : `Make ${member.username} ${roleLabel(role).toLowerCase()}?`,
      message: (
        <p>
          {self ? "You" : member.display_name} will lose the rights of {roleLabel(member.role).toLowerCase()}s (see the
          project roles in the documentation).
        </p>
      ),
      confirmLabel: "Change role",
      busyLabel: "Changing…",
      danger: true,
      action: () => changeRole(member, role),
    });
    return Promise.resolve();
  };

  const askRemove = (member: Member) => {
    const self = member.user_id === myId;
    confirm({
      title: self ? `Leave ${project.name}?` : `Remove ${member.username}?`,
      message: self ? (
        <p>You will no longer see this project. An owner can add you again.</p>
      ) : (
        <p>{member.display_name} loses access to this project at once.</p>
      ),
      confirmLabel: self ? "Leave" : "Remove",
      busyLabel: self ? "Leaving…" : "Removing…",
      danger: true,
      action: async () => {
        await must(api.DELETE("/api/v1/projects/{project_id}/members/{user_id}", { params: memberPath(member) }));
        if (self) return afterOwnChange("/projects");
        notice.announce(`${member.username} was removed.`);
        members.reload();
      },
    });
  };

  return (
    <section aria-labelledby="members-title">
      <h3 id="members-title">Members</h3>
      <Notice message={notice.message} />
      {members.state === "error" ? (
        <ErrorBox error={members.error} onRetry={members.reload} />
      ) : !members.data ? (
        <Loading label="Loading members…" />
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Members of {project.name}</caption>
            <thead>
              <tr>
                <th scope="col">Member</th>
                <th scope="col">Role</th>
                <th scope="col" class="member-added">
                  Added
                </th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.data.map((member) => (
                // The role in the key: a changed role remounts the row, so its picker
                // starts from the saved role again.
                <MemberRow
                  key={`${member.user_id}:${member.role}`}
                  member={member}
                  self={member.user_id === myId}
                  owner={owner}
                  onRole={askRole}
                  onRemove={askRemove}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {owner ? (
        <AddMemberForm
          project={project}
          onAdded={(member) => {
            notice.announce(`${member.username} was added as ${roleLabel(member.role).toLowerCase()}.`);
            members.reload();
          }}
        />
      ) : (
        <p class="muted">Only owners add and remove members or change roles.</p>
      )}
      {dialog}
    </section>
  );
}

function MemberRow({
  member,
  self,
  owner,
  onRole,
  onRemove,
}: {
  member: Member;
  self: boolean;
  owner: boolean;
  onRole: (member: Member, role: ProjectRole) => Promise<void>;
  onRemove: (member: Member) => void;
}) {
  const [role, setRole] = useState<ProjectRole>(member.role);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const save = async () => {
    setSending(true);
    setError(null);
    try {
      await onRole(member, role);
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  };
  const selectId = `member-role-${member.user_id}`;
  return (
    <tr>
      <td>
        <span class="member-name">{member.display_name}</span>
        <span class="muted"> @{member.username}</span>
        {self ? <span class="badge settings-you">You</span> : null}
      </td>
      <td>
        {owner ? (
          <div class="inline-edit">
            <select id={selectId} aria-label={`Role of ${member.username}`} value={role} onChange={(event) => setRole(event.currentTarget.value as ProjectRole)}>
              {ROLES.map((entry) => (
                <option key={entry.role} value={entry.role}>
                  {entry.label}
                </option>
              ))}
            </select>
            <button type="button" class="ghost" disabled={sending || role === member.role} onClick={save} aria-label={`Save the role of ${member.username}`}>
              {sending ? "Saving…" : "Save"}
            </button>
          </div>
        ) : (
          roleLabel(member.role)
        )}
        {error ? <ErrorBox error={error} /> : null}
      </td>
      <td class="nowrap member-added">{formatDate(member.added_at)}</td>
      <td class="row-actions">
        {self ? (
          <button type="button" class="ghost" onClick={() => onRemove(member)}>
            Leave project
          </button>
        ) : owner ? (
          <button type="button" class="ghost" onClick={() => onRemove(member)} aria-label={`Remove ${member.username}`}>
            Remove
          </button>
        ) : null}
      </td>
    </tr>
  );
}

const MEMBER_FIELDS = ["user", "role"] as const;

function AddMemberForm({ project, onAdded }: { project: Project; onAdded: (member: Member) => void }) {
  const [user, setUser] = useState("");
  const [role, setRole] = useState<ProjectRole>("viewer");
  const form = useForm(MEMBER_FIELDS, { "projects.user_not_found": "user", "projects.already_member": "user" });
  const add = async () => {
    const member = await must(
      api.POST("/api/v1/projects/{project_id}/members", { params: projectPath(project), body: { user: user.trim(), role } }),
    );
    setUser("");
    onAdded(member);
  };
  return (
    <form ref={form.ref} class="card settings-form" onSubmit={form.submit(add)} aria-labelledby="add-member-title">
      <h4 id="add-member-title">Add a member</h4>
      <div class="form-row">
        <Field
          name="user"
          label="Username or email"
          value={user}
          onValue={setUser}
          error={form.fields.user}
          hint="They need a ProdLens account."
          autocomplete="off"
          verbatim
          required
          maxLength={320}
        />
        <div class="field">
          <label for="field-member-role">Role</label>
          <select id="field-member-role" value={role} onChange={(event) => setRole(event.currentTarget.value as ProjectRole)}>
            {ROLES.map((entry) => (
              <option key={entry.role} value={entry.role}>
                {entry.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <FormAlert error={form.error} />
      <div class="actions">
        <button type="submit" disabled={form.sending}>
          {form.sending ? "Adding…" : "Add member"}
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------
// API keys

const SCOPES: { scope: Scope; label: string }[] = [
  { scope: "ingest", label: "ingest: send events" },
  { scope: "read", label: "read: read the project's data" },
];

function KeysSection({ project }: { project: Project }) {
  const keys = useApi(() => must(api.GET("/api/v1/projects/{project_id}/api-keys", { params: projectPath(project) })), [
    project.id,
  ]);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const { confirm, dialog } = useConfirm();
  const notice = useNotice();

  const askRevoke = (key: ApiKey) =>
    confirm({
      title: `Revoke ${key.name}?`,
      message: <p>Anything that sends it stops working at once. A revoked key cannot be restored.</p>,
      confirmLabel: "Revoke",
      busyLabel: "Revoking…",
      danger: true,
      action: async () => {
        await must(
          api.DELETE("/api/v1/projects/{project_id}/api-keys/{key_id}", {
            params: { path: { project_id: project.id, key_id: key.id } },
          }),
        );
        if (created?.id === key.id) setCreated(null);
        notice.announce(`${key.name} was revoked.`);
        keys.reload();
      },
    });

  return (
    <section aria-labelledby="keys-title">
      <h3 id="keys-title">API keys</h3>
      <p class="muted">
        Machines send events and read data with a key: <code>X-API-Key: pl_…</code>. ProdLens keeps only a hash of
        it.
      </p>
      <Notice message={notice.message} />
      {created ? (
        <SecretBox label="New API key secret" value={created.key} onDismiss={() => setCreated(null)}>
          The key <strong>{created.name}</strong> was created. Send it in the X-API-Key header.
        </SecretBox>
      ) : null}
      <NewKeyForm
        project={project}
        onCreated={(key) => {
          setCreated(key);
          keys.reload();
        }}
      />
      {keys.state === "error" ? (
        <ErrorBox error={keys.error} onRetry={keys.reload} />
      ) : !keys.data ? (
        <Loading label="Loading keys…" />
      ) : keys.data.length === 0 ? (
        <Empty title="No API keys yet">Create one above for your CI or your LLM proxy.</Empty>
      ) : (
        <KeyTable keys={keys.data} onRevoke={askRevoke} />
      )}
      {dialog}
    </section>
  );
}

function KeyTable({ keys, onRevoke }: { keys: ApiKey[]; onRevoke: (key: ApiKey) => void }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">API keys</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Prefix</th>
            <th scope="col">Scopes</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id} class={key.revoked_at ? "revoked" : undefined}>
              <td class="key-name">{key.name}</td>
              <td>
                <code>{key.prefix}</code>
              </td>
              <td>{key.scopes.join(", ")}</td>
              <td class="nowrap">{formatDate(key.created_at)}</td>
              <td class="nowrap">{key.last_used_at ? formatDateTime(key.last_used_at) : "Never"}</td>
              <td>
                {key.revoked_at ? (
                  <span class="badge" title={formatDateTime(key.revoked_at)}>
                    Revoked
                  </span>
                ) : (
                  <span class="badge status-good">Active</span>
                )}
              </td>
              <td class="row-actions">
                {key.revoked_at ? (
                  <span class="muted nowrap">{formatDate(key.revoked_at)}</span>
                ) : (
                  <button type="button" class="ghost" onClick={() => onRevoke(key)} aria-label={`Revoke ${key.name}`}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const KEY_FIELDS = ["name", "scopes"] as const;

function NewKeyForm({ project, onCreated }: { project: Project; onCreated: (key: ApiKeyCreated) => void }) {
  const [name, setName] = useState("");
  // Ingest is what a new key is nearly always for (a CI job, a LiteLLM proxy).
  const [scopes, setScopes] = useState<Scope[]>(["ingest"]);
  const form = useForm(KEY_FIELDS);
  const toggle = (scope: Scope, on: boolean) =>
    setScopes((current) => SCOPES.map((entry) => entry.scope).filter((s) => (s === scope ? on : current.includes(s))));
  const create = async () => {
    if (scopes.length === 0) throw new FieldProblem({ scopes: "Choose at least one scope." });
    const key = await must(
      api.POST("/api/v1/projects/{project_id}/api-keys", { params: projectPath(project), body: { name: name.trim(), scopes } }),
    );
    setName("");
    onCreated(key);
  };
  const scopesError = form.fields.scopes;
  return (
    <form ref={form.ref} class="card settings-form" onSubmit={form.submit(create)} aria-labelledby="new-key-title">
      <h4 id="new-key-title">New key</h4>
      <div class="form-row">
        <Field
          name="name"
          label="Name"
          value={name}
          onValue={setName}
          error={form.fields.name}
          hint="What uses it, e.g. ci or litellm-proxy."
          autocomplete="off"
          required
          maxLength={100}
        />
        <fieldset class="scopes" aria-describedby={scopesError ? "scopes-error" : undefined}>
          <legend>Scopes</legend>
          {SCOPES.map((entry) => (
            <label class="inline" key={entry.scope}>
              <input
                type="checkbox"
                checked={scopes.includes(entry.scope)}
                aria-invalid={scopesError ? true : undefined}
                onChange={(event) => toggle(entry.scope, event.currentTarget.checked)}
              />
              {entry.label}
            </label>
          ))}
          <FieldNotes id="scopes" error={scopesError} />
        </fieldset>
      </div>
      <FormAlert error={form.error} />
      <div class="actions">
        <button type="submit" disabled={form.sending}>
          {form.sending ? "Creating…" : "Create key"}
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------
// KPI targets

export type TargetField = "good" | "warning" | "min_sample";

/** A KPI's thresholds as typed: ratios in percent, as the page shows them. */
export interface Draft {
  good: string;
  warning: string;
  min_sample: string;
  /** Back to the defaults when saved. */
  reset: boolean;
}

/** Errors of one KPI: per field, and `kpi` for what is about its thresholds together. */
export type TargetErrors = Partial<Record<TargetField | "kpi", string>>;

const isRatio = (unit: string) => unit === "ratio";

/** A threshold as the input shows it: a ratio in percent, without float noise (0.07 → "7"). */
export function toInput(value: number, unit: string): string {
  return String(isRatio(unit) ? Number((value * 100).toPrecision(12)) : value);
}

/** A typed threshold in the API's unit, or null when it is not a number. */
export function fromInput(text: string, unit: string): number | null {
  if (text.trim() === "") return null;
  const value = Number(text);
  if (!Number.isFinite(value)) return null;
  return isRatio(unit) ? Number((value / 100).toPrecision(12)) : value;
}

export function draftOf(target: Target): Draft {
  return {
    good: toInput(target.good, target.unit),
    warning: toInput(target.warning, target.unit),
    min_sample: String(target.min_sample),
    reset: false,
  };
}

function edited(target: Target, draft: Draft): boolean {
  const saved = draftOf(target);
  return draft.good !== saved.good || draft.warning !== saved.warning || draft.min_sample !== saved.min_sample;
}

/** The checks the API makes (docs/metrics.md), so mistakes show before sending. */
export function checkDraft(target: Target, draft: Draft): TargetErrors {
  if (draft.reset) return {};
  const errors: TargetErrors = {};
  const threshold = (field: "good" | "warning"): number | null => {
    const value = fromInput(draft[field], target.unit);
    if (value === null) errors[field] = "Enter a number.";
    else if (value < 0) errors[field] = "Must be 0 or more.";
    else if (isRatio(target.unit) && value > 1) errors[field] = "At most 100 %.";
    else return value;
    return null;
  };
  const good = threshold("good");
  const warning = threshold("warning");
  if (good !== null && warning !== null) {
    if (target.direction === "higher_is_better" && warning > good)
      errors.warning = "Higher is better: the warning threshold must not be above the target.";
    if (target.direction === "lower_is_better" && warning < good)
      errors.warning = "Lower is better: the warning threshold must not be below the target.";
  }
  const sample = Number(draft.min_sample);
  if (draft.min_sample.trim() === "" || !Number.isInteger(sample) || sample < 1 || sample > 1e9)
    errors.min_sample = "A whole number from 1.";
  return errors;
}

/**
 * The body of the PUT: it replaces every override, so it names each KPI that stays
 * or becomes custom (with all three values), and leaves out those going back to
 * the defaults.
 */
export function overridesOf(targets: Target[], drafts: Record<string, Draft>): Record<string, TargetIn> {
  const out: Record<string, TargetIn> = {};
  for (const target of targets) {
    const draft = drafts[target.name] ?? draftOf(target);
    if (draft.reset || !(target.customized || edited(target, draft))) continue;
    out[target.name] = {
      good: fromInput(draft.good, target.unit),
      warning: fromInput(draft.warning, target.unit),
      min_sample: Number(draft.min_sample),
    };
  }
  return out;
}

/** The API's refusal of a PUT, sorted by KPI; null when it is about no KPI in particular. */
export function targetErrorsOf(error: unknown): Record<string, TargetErrors> | null {
  if (!(error instanceof ApiError)) return null;
  const problem: object | null = error.problem;
  if (error.code === "metrics.invalid_target" && problem && "kpi" in problem && typeof problem.kpi === "string") {
    return { [problem.kpi]: { kpi: error.detail ?? error.title } };
  }
  const out: Record<string, TargetErrors> = {};
  for (const item of error.problem?.errors ?? []) {
    const [, kpi, field] = item.field.match(/^body\.targets\.([^.]+)\.(good|warning|min_sample)$/) ?? [];
    if (!kpi || !field) return null;
    out[kpi] = { ...out[kpi], [field as TargetField]: item.message };
  }
  return Object.keys(out).length > 0 ? out : null;
}

function TargetsSection({ project }: { project: Project }) {
  const targets = useApi(
    () => must(api.GET("/api/v1/projects/{project_id}/metrics/targets", { params: projectPath(project) })),
    [project.id],
  );
  const notice = useNotice();
  return (
    <section aria-labelledby="targets-title">
      <h3 id="targets-title">KPI targets</h3>
      <p class="muted">
        A KPI is on target up to its target, a warning up to the warning threshold and critical beyond it; with
        fewer cases than its minimum sample it shows "Insufficient data". Ratios are in percent.
      </p>
      <Notice message={notice.message} />
      {targets.state === "error" ? (
        <ErrorBox error={targets.error} onRetry={targets.reload} />
      ) : !targets.data ? (
        <Loading label="Loading targets…" />
      ) : (
        <TargetsForm project={project} initial={targets.data.targets} onSaved={notice.announce} />
      )}
    </section>
  );
}

const draftsOf = (targets: Target[]): Record<string, Draft> =>
  Object.fromEntries(targets.map((target) => [target.name, draftOf(target)]));

function TargetsForm({ project, initial, onSaved }: { project: Project; initial: Target[]; onSaved: (message: string) => void }) {
  // The PUT answers the targets in force, so the form follows it without a refetch
  // (and the focus stays on the button that saved).
  const [targets, setTargets] = useState(initial);
  const [drafts, setDrafts] = useState(() => draftsOf(initial));
  const [errors, setErrors] = useState<Record<string, TargetErrors>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [sending, setSending] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const { confirm, dialog } = useConfirm();

  const draft = (target: Target) => drafts[target.name] ?? draftOf(target);
  const change = (name: string, patch: Partial<Draft>) =>
    setDrafts((current) => {
      const previous = current[name];
      return previous ? { ...current, [name]: { ...previous, ...patch } } : current;
    });
  const dirty = targets.some((target) => draft(target).reset || edited(target, draft(target)));

  const put = async (overrides: Record<string, TargetIn>, message: string) => {
    const answer = await must(
      api.PUT("/api/v1/projects/{project_id}/metrics/targets", { params: projectPath(project), body: { targets: overrides } }),
    );
    setTargets(answer.targets);
    setDrafts(draftsOf(answer.targets));
    setErrors({});
    onSaved(message);
  };

  const focusFirstError = () =>
    requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());

  const save = async (event: Event) => {
    event.preventDefault();
    const found: Record<string, TargetErrors> = {};
    for (const target of targets) {
      const problems = checkDraft(target, draft(target));
      if (Object.keys(problems).length > 0) found[target.name] = problems;
    }
    setErrors(found);
    setFailure(null);
    if (Object.keys(found).length > 0) return focusFirstError();
    setSending(true);
    try {
      await put(overridesOf(targets, drafts), "Targets saved.");
    } catch (error) {
      const byKpi = targetErrorsOf(error);
      if (byKpi) {
        setErrors(byKpi);
        focusFirstError();
      } else setFailure(error);
    } finally {
      setSending(false);
    }
  };

  const askResetAll = () =>
    confirm({
      title: "Reset every target to its default?",
      message: <p>All of this project's custom thresholds and minimum samples are removed.</p>,
      confirmLabel: "Reset all",
      busyLabel: "Resetting…",
      danger: true,
      action: () => put({}, "All targets are back to their defaults."),
    });

  return (
    <form ref={formRef} onSubmit={save} noValidate>
      <div class="table-wrap">
        <table class="targets">
          <caption class="visually-hidden">KPI targets</caption>
          <thead>
            <tr>
              <th scope="col">KPI</th>
              <th scope="col">Target</th>
              <th scope="col">Warning threshold</th>
              <th scope="col">Minimum sample</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {targets.map((target) => (
              <TargetRow
                key={target.name}
                target={target}
                draft={draft(target)}
                errors={errors[target.name] ?? {}}
                onChange={(patch) => change(target.name, patch)}
              />
            ))}
          </tbody>
        </table>
      </div>
      <FormAlert error={failure} />
      <div class="actions">
        <button type="submit" disabled={sending || !dirty}>
          {sending ? "Saving…" : "Save targets"}
        </button>
        {dirty ? (
          <button
            type="button"
            class="ghost"
            disabled={sending}
            onClick={() => {
              setDrafts(draftsOf(targets));
              setErrors({});
            }}
          >
            Discard changes
          </button>
        ) : null}
        {targets.some((target) => target.customized) ? (
          <button type="button" class="ghost" disabled={sending} onClick={askResetAll}>
            Reset all to defaults
          </button>
        ) : null}
      </div>
      {dialog}
    </form>
  );
}

function TargetRow({
  target,
  draft,
  errors,
  onChange,
}: {
  target: Target;
  draft: Draft;
  errors: TargetErrors;
  onChange: (patch: Partial<Draft>) => void;
}) {
  const ratio = isRatio(target.unit);
  const kpiErrorId = `target-${target.name}-error`;
  const input = (field: TargetField, label: string) => {
    const id = `target-${target.name}-${field}`;
    const aria = fieldAria(id, errors[field]);
    // A KPI-wide problem (thresholds in the wrong order) concerns both thresholds.
    const describedBy = [aria["aria-describedby"], errors.kpi && field !== "min_sample" ? kpiErrorId : ""].filter(Boolean).join(" ");
    return (
      <td>
        <span class="threshold">
          <input
            {...aria}
            aria-invalid={aria["aria-invalid"] || (errors.kpi && field !== "min_sample") ? true : undefined}
            aria-describedby={describedBy || undefined}
            aria-label={`${target.label}: ${label}${ratio && field !== "min_sample" ? " (%)" : ""}`}
            type="number"
            inputMode={field === "min_sample" ? "numeric" : "decimal"}
            min={field === "min_sample" ? 1 : 0}
            max={ratio && field !== "min_sample" ? 100 : undefined}
            step={field === "min_sample" ? 1 : "any"}
            value={draft[field]}
            disabled={draft.reset}
            onInput={(event) => onChange({ [field]: event.currentTarget.value })}
          />
          {ratio && field !== "min_sample" ? <span aria-hidden="true">%</span> : null}
        </span>
        <FieldNotes id={id} error={errors[field]} />
      </td>
    );
  };
  return (
    <tr>
      <th scope="row" class="target-kpi">
        <span class="target-label">{target.label}</span>
        <span class="muted target-meta">
          {target.direction === "higher_is_better" ? "Higher is better" : "Lower is better"}
          {ratio ? "" : ` · ${target.unit}`}
        </span>
        {errors.kpi ? (
          <p id={kpiErrorId} class="field-error">
            {errors.kpi}
          </p>
        ) : null}
      </th>
      {input("good", "target")}
      {input("warning", "warning threshold")}
      {input("min_sample", "minimum sample")}
      <td>
        {draft.reset ? (
          <>
            <span class="badge">Default when saved</span>{" "}
            <button type="button" class="link-button" onClick={() => onChange({ reset: false })} aria-label={`Keep the custom values of ${target.label}`}>
              Undo
            </button>
          </>
        ) : edited(target, draft) ? (
          <span class="badge status-warning">Not saved</span>
        ) : target.customized ? (
          <>
            <span class="badge">Custom</span>{" "}
            <button type="button" class="link-button" onClick={() => onChange({ reset: true })} aria-label={`Use the defaults for ${target.label}`}>
              Use defaults
            </button>
          </>
        ) : (
          <span class="badge">Default</span>
        )}
      </td>
    </tr>
  );
}

// ---------------------------------------------------------------------------------
// GitHub

/** Where GitHub sends deliveries: this server, as the browser reaches it. */
function webhookUrl(): string {
  return `${window.location.origin}/api/v1/integrations/github/webhook`;
}

function GitHubSection({ project }: { project: Project }) {
  const github = useApi(
    () => must(api.GET("/api/v1/projects/{project_id}/integrations/github", { params: projectPath(project) })),
    [project.id],
  );
  const [secret, setSecret] = useState<string | null>(null);
  const { confirm, dialog } = useConfirm();
  const notice = useNotice();

  const askRemove = () =>
    confirm({
      title: "Remove the webhook secret?",
      message: <p>GitHub's deliveries are refused from then on, until a new secret is set.</p>,
      confirmLabel: "Remove",
      busyLabel: "Removing…",
      danger: true,
      action: async () => {
        await must(api.DELETE("/api/v1/projects/{project_id}/integrations/github", { params: projectPath(project) }));
        setSecret(null);
        notice.announce("The webhook secret was removed.");
        github.reload();
      },
    });

  return (
    <section aria-labelledby="github-title">
      <h3 id="github-title">GitHub</h3>
      <p class="muted">
        A webhook on GitHub sends this project's pushes and pull requests as they happen. Each delivery is signed
        with the secret set here.
      </p>
      <Notice message={notice.message} />
      {secret ? (
        <SecretBox label="New webhook secret" value={secret} onDismiss={() => setSecret(null)}>
          Paste it into the <strong>Secret</strong> field of the webhook on GitHub.
        </SecretBox>
      ) : null}
      {github.state === "error" && !github.data ? (
        <ErrorBox error={github.error} onRetry={github.reload} />
      ) : !github.data ? (
        <Loading label="Loading the integration…" />
      ) : (
        <>
          <WebhookFacts github={github.data} />
          <SecretForm
            project={project}
            github={github.data}
            confirm={confirm}
            onSet={(generated) => {
              setSecret(generated);
              notice.announce(generated ? "A new secret was generated: copy it now." : "The webhook secret was set.");
              github.reload();
            }}
          />
          {github.data.configured ? (
            <p>
              <button type="button" class="danger" onClick={askRemove}>
                Remove secret
              </button>
            </p>
          ) : null}
        </>
      )}
      {dialog}
    </section>
  );
}

function SecretState({ github }: { github: GitHub }) {
  if (!github.configured) return <span class="badge">Not set</span>;
  if (!github.secret_usable) {
    return (
      <>
        <span class="badge status-critical">Unreadable</span> The server's secret key changed: set a new secret and
        update it on GitHub.
      </>
    );
  }
  return (
    <>
      <span class="badge status-good">Set</span>
      {github.secret_set_at ? <span class="muted"> on {formatDateTime(github.secret_set_at)}</span> : null}
    </>
  );
}

function WebhookFacts({ github }: { github: GitHub }) {
  const url = webhookUrl();
  const urlRef = useRef<HTMLElement>(null);
  return (
    <dl class="card facts">
      <dt>Webhook secret</dt>
      <dd>
        <SecretState github={github} />
      </dd>
      <dt>Payload URL</dt>
      <dd>
        <code ref={urlRef} class="break">
          {url}
        </code>{" "}
        <CopyButton text={url} target={urlRef} label="Copy the payload URL" />
      </dd>
      <dt>Content type</dt>
      <dd>
        <code>{github.content_type}</code>
      </dd>
      <dt>Events</dt>
      <dd>{github.events.join(", ")}</dd>
      <dt>Repositories</dt>
      <dd>
        {github.repos.length > 0 ? (
          github.repos.map((repo, index) => (
            <span key={repo}>
              {index > 0 ? ", " : ""}
              <code>{repo}</code>
            </span>
          ))
        ) : (
          <span>None yet: deliveries are accepted only for the repositories the project lists.</span>
        )}
      </dd>
      <dt>Last delivery</dt>
      <dd>
        {github.last_delivery ? (
          <>
            <code>{github.last_delivery.event}</code> on {formatDateTime(github.last_delivery.received_at)}{" "}
            <span class="muted">({github.last_delivery.delivery_id})</span>
          </>
        ) : (
          "None received yet"
        )}
      </dd>
    </dl>
  );
}

const SECRET_FIELDS = ["secret"] as const;

function SecretForm({
  project,
  github,
  confirm,
  onSet,
}: {
  project: Project;
  github: GitHub;
  confirm: ReturnType<typeof useConfirm>["confirm"];
  /** The secret to show once when ProdLens generated it, else null. */
  onSet: (generated: string | null) => void;
}) {
  const [own, setOwn] = useState(false);
  const [value, setValue] = useState("");
  const form = useForm(SECRET_FIELDS);
  const send = async () => {
    const answer = await must(
      api.PUT("/api/v1/projects/{project_id}/integrations/github", {
        params: projectPath(project),
        body: own ? { secret: value } : {},
      }),
    );
    setValue("");
    onSet(own ? null : answer.secret);
  };
  const submit = form.submit(async () => {
    if (own && (value.length < 16 || value.length > 256)) throw new FieldProblem({ secret: "16 to 256 characters." });
    if (!github.configured) return send();
    // Rotating breaks deliveries until GitHub has the new secret: confirmed, and the
    // dialog shows the outcome.
    confirm({
      title: "Rotate the webhook secret?",
      message: <p>The current secret stops working at once: deliveries fail until GitHub has the new one.</p>,
      confirmLabel: "Rotate",
      busyLabel: "Rotating…",
      danger: true,
      action: send,
    });
  });
  const verb = github.configured ? "Rotate secret" : "Set secret";
  return (
    <form ref={form.ref} class="card settings-form" onSubmit={submit} aria-labelledby="secret-form-title">
      <h4 id="secret-form-title">{github.configured ? "Rotate the secret" : "Set the secret"}</h4>
      <fieldset class="choice">
        <legend>Secret</legend>
        <label class="inline">
          <input type="radio" name="secret-kind" checked={!own} onChange={() => setOwn(false)} />
          Generate a random one (recommended)
        </label>
        <label class="inline">
          <input type="radio" name="secret-kind" checked={own} onChange={() => setOwn(true)} />
          Use my own
        </label>
      </fieldset>
      {own ? (
        <Field
          name="secret"
          label="Your secret"
          type="password"
          value={value}
          onValue={setValue}
          error={form.fields.secret}
          hint="16 to 256 characters; the same as on GitHub."
          autocomplete="off"
          required
          minLength={16}
          maxLength={256}
        />
      ) : null}
      <FormAlert error={form.error} />
      <div class="actions">
        <button type="submit" disabled={form.sending}>
          {form.sending ? "Saving…" : verb}
        </button>
      </div>
    </form>
  );
}
