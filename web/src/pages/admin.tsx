// The administrators' pages (docs/auth.md): accounts, the audit log, maintenance mode
// and the plans' budgets. The shell shows them to admins only; the API answers 403
// to anyone else. Filters, sort and page live in the URL.
import "./admin.css";
import { useRef, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components, operations } from "../api/schema";
import { useConfirm } from "../components/confirm";
import { Field, FormAlert, useForm } from "../components/form";
import { Notice, useNotice } from "../components/notice";
import { Empty, ErrorBox, Loading } from "../components/states";
import { Pager, parseSort, positiveInt, SortHeader, type SortState, sortToken } from "../components/table";
import { formatCount, formatDate, formatDateTime } from "../lib/format";
import { Link, type Location, navigate, withQuery } from "../lib/router";
import { isAdmin, session } from "../lib/session";
import { useStore } from "../lib/store";
import { useApi } from "../lib/useApi";
import type { PageProps } from "../routes";

type UserView = components["schemas"]["UserAdminView"];
type UserUpdate = components["schemas"]["UserUpdate"];
type Role = NonNullable<UserUpdate["role"]>;
type Tier = NonNullable<UserUpdate["tier"]>;
type UsersQuery = NonNullable<operations["list_users"]["parameters"]["query"]>;
type AuditQuery = NonNullable<operations["list_audit_events"]["parameters"]["query"]>;
type AuditEvent = components["schemas"]["AuditEventPublic"];
type Plan = components["schemas"]["PlanPublic"];
type UsageWindow = components["schemas"]["UsageWindow"];

const ROLES: Role[] = ["user", "admin"];
const TIERS: Tier[] = ["free", "basic", "premium", "enterprise"];

function useMyId(): string | null {
  const state = useStore(session);
  return state.status === "signed-in" ? state.user.id : null;
}

/** A new filter or sort is a new list: paging starts again at its first page. */
function go(location: Location, changes: Record<string, string | null>): void {
  navigate(withQuery(location, { ...changes, page: null }));
}

function pageHrefs(location: Location, page: number, pages: number) {
  const href = (target: number) => withQuery(location, { page: target === 1 ? null : String(target) });
  return { previous: page > 1 ? href(page - 1) : null, next: page < pages ? href(page + 1) : null };
}

function oneOf<T extends string>(raw: string | null, values: readonly T[]): T | undefined {
  return values.find((value) => value === raw);
}

// ---------------------------------------------------------------------------------
// Users

const USERS_PAGE_SIZE = 20;
const USER_SORTS = ["created_at", "email", "username", "last_login_at"] as const;
type UserSort = (typeof USER_SORTS)[number];
const DEFAULT_USER_SORT: SortState<UserSort> = { key: "created_at", descending: true };

/** The API query of the users list in the URL; unknown values are left out. */
export function usersQuery(query: URLSearchParams): UsersQuery {
  const active = query.get("active");
  const sort = parseSort(query.get("sort"), USER_SORTS, DEFAULT_USER_SORT);
  return {
    search: query.get("search")?.trim() || undefined,
    role: oneOf(query.get("role"), ROLES),
    tier: oneOf(query.get("tier"), TIERS),
    active: active === "true" ? true : active === "false" ? false : undefined,
    sort: sortToken(sort),
    page: positiveInt(query.get("page"), 1),
    page_size: USERS_PAGE_SIZE,
  };
}

export function UsersPage({ location }: PageProps) {
  const query = usersQuery(location.query);
  const users = useApi(() => must(api.GET("/api/v1/users", { params: { query } })), [JSON.stringify(query)]);
  const notice = useNotice();
  const { confirm, dialog } = useConfirm();
  const sort = parseSort(location.query.get("sort"), USER_SORTS, DEFAULT_USER_SORT);
  const header = (label: string, key: UserSort, descendingFirst = true) => (
    <SortHeader label={label} sortKey={key} sort={sort} defaultSort={DEFAULT_USER_SORT} location={location} descendingFirst={descendingFirst} />
  );
  const page = query.page ?? 1;

  return (
    <div class="admin">
      <h1>Users</h1>
      <UserFilters location={location} />
      <Notice message={notice.message} />
      {users.state === "error" ? (
        <ErrorBox error={users.error} onRetry={users.reload} />
      ) : !users.data ? (
        <Loading label="Loading accounts…" />
      ) : users.data.items.length === 0 ? (
        <Empty title={users.data.total === 0 ? "No accounts match" : "No accounts on this page"}>
          <Link href={location.path}>Show every account</Link>
        </Empty>
      ) : (
        <>
          <div class="table-wrap" aria-busy={users.state === "loading"}>
            <table>
              <caption class="visually-hidden">Accounts</caption>
              <thead>
                <tr>
                  {header("Username", "username", false)}
                  {header("Email", "email", false)}
                  <th scope="col">Role and tier</th>
                  <th scope="col">Status</th>
                  {header("Last sign-in", "last_login_at")}
                  {header("Created", "created_at")}
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.items.map((user) => (
                  <UserRow
                    // Keyed by what the row edits: a saved change starts it afresh.
                    key={`${user.id}:${user.role}:${user.tier}`}
                    user={user}
                    confirm={confirm}
                    onDone={(message) => {
                      notice.announce(message);
                      users.reload();
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label="Account pages"
            {...pageHrefs(location, page, users.data.pages)}
            status={`Page ${page} of ${Math.max(users.data.pages, 1)} · ${formatCount(users.data.total)}${users.data.total_exact ? "" : "+"} accounts`}
          />
        </>
      )}
      <NewUserForm
        onCreated={(user) => {
          notice.announce(`The account ${user.username} was created.`);
          users.reload();
        }}
      />
      {dialog}
    </div>
  );
}

function UserFilters({ location }: { location: Location }) {
  const [search, setSearch] = useState(location.query.get("search") ?? "");
  const select = (name: string, label: string, options: [value: string, label: string][]) => (
    <div>
      <label for={`filter-${name}`}>{label}</label>
      <select id={`filter-${name}`} value={location.query.get(name) ?? ""} onChange={(event) => go(location, { [name]: event.currentTarget.value })}>
        <option value="">Any</option>
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
  return (
    <form
      class="toolbar"
      role="search"
      aria-label="Account filters"
      onSubmit={(event) => {
        event.preventDefault();
        go(location, { search: search.trim() });
      }}
    >
      <div>
        <label for="filter-search">Search</label>
        <span class="admin-search">
          <input id="filter-search" type="search" value={search} placeholder="Email, username or name" maxLength={100} onInput={(event) => setSearch(event.currentTarget.value)} />
          <button type="submit">Search</button>
        </span>
      </div>
      {select("role", "Role", ROLES.map((role) => [role, role]))}
      {select("tier", "Tier", TIERS.map((tier) => [tier, tier]))}
      {select("active", "Status", [
        ["true", "Active"],
        ["false", "Deactivated"],
      ])}
    </form>
  );
}

function UserRow({
  user,
  confirm,
  onDone,
}: {
  user: UserView;
  confirm: ReturnType<typeof useConfirm>["confirm"];
  onDone: (message: string) => void;
}) {
  const self = user.id === useMyId();
  const [role, setRole] = useState(user.role);
  const [tier, setTier] = useState(user.tier);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const path = { params: { path: { user_id: user.id } } };

  /** Runs a row action: one at a time, its failure shown in the row. */
  const run = async (action: () => Promise<void>) => {
    setSending(true);
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  };
  const patch = async (body: UserUpdate, message: string) => {
    await must(api.PATCH("/api/v1/users/{user_id}", { ...path, body }));
    onDone(message);
  };

  const changed: UserUpdate = {
    ...(role !== user.role ? { role: oneOf(role, ROLES) ?? null } : {}),
    ...(tier !== user.tier ? { tier: oneOf(tier, TIERS) ?? null } : {}),
  };
  const save = () => {
    const message = `${user.username}: role ${role}, tier ${tier}.`;
    // Taking admin rights away is confirmed; from oneself, it closes these pages.
    if (changed.role === "user") {
      confirm({
        title: self ? "Give up your admin rights?" : `Make ${user.username} a regular user?`,
        message: <p>{self ? "You" : "They"} will no longer reach the administration pages.</p>,
        confirmLabel: "Change role",
        busyLabel: "Changing…",
        danger: true,
        action: () => patch(changed, message),
      });
      return;
    }
    void run(() => patch(changed, message));
  };

  const askDeactivate = () =>
    confirm({
      title: `Deactivate ${user.username}?`,
      message: <p>They are signed out everywhere at once and cannot sign in until an administrator activates the account again.</p>,
      confirmLabel: "Deactivate",
      busyLabel: "Deactivating…",
      danger: true,
      action: () => patch({ is_active: false }, `${user.username} was deactivated.`),
    });
  const askDelete = () =>
    confirm({
      title: `Delete ${user.username}?`,
      message: (
        <p>
          The account <strong>{user.email}</strong> and everything it owns are deleted, and its sessions end. This cannot
          be undone.
        </p>
      ),
      confirmLabel: "Delete",
      busyLabel: "Deleting…",
      danger: true,
      action: async () => {
        await must(api.DELETE("/api/v1/users/{user_id}", path));
        onDone(`${user.username} was deleted.`);
      },
    });
  const unlock = () =>
    run(async () => {
      await must(api.POST("/api/v1/users/{user_id}/unlock", path));
      onDone(`Any sign-in lockout of ${user.username} was lifted.`);
    });

  return (
    <tr>
      <td>
        <span class="admin-strong">{user.username}</span>
        {self ? <span class="badge admin-you">You</span> : null}
        <span class="admin-sub">{user.display_name}</span>
      </td>
      <td class="admin-email">{user.email}</td>
      <td>
        <div class="admin-inline">
          <select aria-label={`Role of ${user.username}`} value={role} onChange={(event) => setRole(event.currentTarget.value)}>
            {ROLES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
          <select aria-label={`Tier of ${user.username}`} value={tier} onChange={(event) => setTier(event.currentTarget.value)}>
            {TIERS.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
          <button type="button" class="ghost" disabled={sending || Object.keys(changed).length === 0} onClick={save} aria-label={`Save the role and tier of ${user.username}`}>
            Save
          </button>
        </div>
        {error ? <ErrorBox error={error} /> : null}
      </td>
      <td>
        <span class={`badge ${user.is_active ? "status-good" : "status-critical"}`}>{user.is_active ? "Active" : "Deactivated"}</span>{" "}
        <span class={`badge ${user.is_verified ? "" : "status-warning"}`}>{user.is_verified ? "Verified" : "Unverified"}</span>
      </td>
      <td class="admin-nowrap">{user.last_login_at ? formatDateTime(user.last_login_at) : "Never"}</td>
      <td class="admin-nowrap">{formatDate(user.created_at)}</td>
      <td>
        <div class="admin-actions">
          <Link href={`/admin/audit?user=${encodeURIComponent(user.id)}`} aria-label={`Audit log of ${user.username}`}>
            Audit log
          </Link>
          <button type="button" class="ghost" disabled={sending} onClick={unlock} aria-label={`Unlock ${user.username}`}>
            Unlock
          </button>
          {/* The API refuses to deactivate or delete one's own account. */}
          {self ? null : user.is_active ? (
            <button type="button" class="ghost" disabled={sending} onClick={askDeactivate} aria-label={`Deactivate ${user.username}`}>
              Deactivate
            </button>
          ) : (
            <button
              type="button"
              class="ghost"
              disabled={sending}
              onClick={() => run(() => patch({ is_active: true }, `${user.username} was activated.`))}
              aria-label={`Activate ${user.username}`}
            >
              Activate
            </button>
          )}
          {self ? null : (
            <button type="button" class="ghost admin-danger" disabled={sending} onClick={askDelete} aria-label={`Delete ${user.username}`}>
              Delete
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

const NEW_USER_FIELDS = ["email", "username", "display_name", "password", "role"] as const;

function NewUserForm({ onCreated }: { onCreated: (user: UserView) => void }) {
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("user");
  const [verified, setVerified] = useState(true);
  const form = useForm(NEW_USER_FIELDS, {
    "users.email_taken": "email",
    "auth.username_taken": "username",
    "auth.weak_password": "password",
  });
  const create = async () => {
    const user = await must(
      api.POST("/api/v1/users", {
        body: { email: email.trim(), username: username.trim(), display_name: displayName.trim(), password, role, is_verified: verified },
      }),
    );
    setEmail("");
    setUsername("");
    setDisplayName("");
    setPassword("");
    onCreated(user);
  };
  return (
    <details class="card admin-new-user">
      <summary>New account</summary>
      <form ref={form.ref} onSubmit={form.submit(create)}>
        <div class="admin-form-grid">
          <Field name="email" label="Email" type="email" value={email} onValue={setEmail} error={form.fields.email} autocomplete="off" verbatim required maxLength={320} />
          <Field
            name="username"
            label="Username"
            value={username}
            onValue={setUsername}
            error={form.fields.username}
            hint="3 to 32 letters, digits, dots, hyphens or underscores."
            autocomplete="off"
            verbatim
            required
            pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{2,31}"
          />
          <Field name="display_name" label="Display name" value={displayName} onValue={setDisplayName} error={form.fields.display_name} autocomplete="off" required maxLength={100} />
          <Field
            name="password"
            label="Password"
            type="password"
            value={password}
            onValue={setPassword}
            error={form.fields.password}
            hint="At least 8 characters; they can change it after signing in."
            autocomplete="new-password"
            required
            minLength={8}
            maxLength={128}
          />
          <div class="field">
            <label for="field-new-role">Role</label>
            <select id="field-new-role" value={role} onChange={(event) => setRole(oneOf(event.currentTarget.value, ROLES) ?? "user")}>
              {ROLES.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          </div>
          <div class="field admin-check">
            <label class="inline">
              <input type="checkbox" checked={verified} onChange={(event) => setVerified(event.currentTarget.checked)} />
              Email address already verified
            </label>
          </div>
        </div>
        <FormAlert error={form.error} />
        <div class="actions">
          <button type="submit" disabled={form.sending}>
            {form.sending ? "Creating…" : "Create account"}
          </button>
        </div>
      </form>
    </details>
  );
}

// ---------------------------------------------------------------------------------
// Audit log

const AUDIT_PAGE_SIZE = 50;
const AUDIT_SORTS = ["occurred_at", "event_type"] as const;
type AuditSort = (typeof AUDIT_SORTS)[number];
const DEFAULT_AUDIT_SORT: SortState<AuditSort> = { key: "occurred_at", descending: true };

/** The event types docs/auth.md lists: suggestions for the exact-match filter. */
const EVENT_TYPES = [
  "login.success",
  "login.failure",
  "login.locked",
  "account.locked",
  "logout",
  "logout.all",
  "session.revoked",
  "session.refresh_reuse",
  "password.changed",
  "password.change_failed",
  "password.reset_requested",
  "password.reset",
  "user.registered",
  "user.register_existing_email",
  "user.email_verified",
  "user.created",
  "user.deleted",
  "user.role_changed",
  "user.tier_changed",
  "user.activated",
  "user.deactivated",
  "user.unlocked",
  "plan.changed",
  "system.maintenance",
  "project.member_added",
  "project.member_role_changed",
  "project.member_removed",
  "project.member_left",
  "api_key.created",
  "api_key.revoked",
];

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The day after a YYYY-MM-DD day, as the API's exclusive `until`. */
function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString();
}

/**
 * The API query of the audit view in the URL: `from` and `to` are UTC days, both
 * included (the API's `until` is exclusive); malformed days are ignored.
 */
export function auditQuery(query: URLSearchParams): AuditQuery {
  const from = query.get("from");
  const to = query.get("to");
  const validDay = (day: string | null): day is string => day !== null && DAY.test(day) && Number.isFinite(Date.parse(`${day}T00:00:00Z`));
  return {
    event_type: query.get("event")?.trim() || undefined,
    user_id: query.get("user")?.trim() || undefined,
    since: validDay(from) ? `${from}T00:00:00Z` : undefined,
    until: validDay(to) ? nextDay(to) : undefined,
    sort: sortToken(parseSort(query.get("sort"), AUDIT_SORTS, DEFAULT_AUDIT_SORT)),
    page: positiveInt(query.get("page"), 1),
    page_size: AUDIT_PAGE_SIZE,
  };
}

/** An event's details as one line of `key=value` pairs. */
export function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
}

export function AuditPage({ location }: PageProps) {
  const query = auditQuery(location.query);
  const events = useApi(() => must(api.GET("/api/v1/audit", { params: { query } })), [JSON.stringify(query)]);
  const sort = parseSort(location.query.get("sort"), AUDIT_SORTS, DEFAULT_AUDIT_SORT);
  const page = query.page ?? 1;
  return (
    <div class="admin">
      <h1>Audit log</h1>
      <AuditFilters location={location} />
      {query.user_id ? <UserFilterNote userId={query.user_id} location={location} /> : null}
      {events.state === "error" ? (
        <ErrorBox error={events.error} onRetry={events.reload} />
      ) : !events.data ? (
        <Loading label="Loading events…" />
      ) : events.data.items.length === 0 ? (
        <Empty title={events.data.total === 0 ? "No events match" : "No events on this page"}>
          <Link href={location.path}>Show every event</Link>
        </Empty>
      ) : (
        <>
          <div class="table-wrap" aria-busy={events.state === "loading"}>
            <table>
              <caption class="visually-hidden">Audit events</caption>
              <thead>
                <tr>
                  <SortHeader label="Time" sortKey="occurred_at" sort={sort} defaultSort={DEFAULT_AUDIT_SORT} location={location} />
                  <SortHeader label="Event" sortKey="event_type" sort={sort} defaultSort={DEFAULT_AUDIT_SORT} location={location} descendingFirst={false} />
                  <th scope="col">User</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Identifier</th>
                  <th scope="col">Client</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {events.data.items.map((event) => (
                  <AuditRow key={event.id} event={event} location={location} />
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label="Audit pages"
            {...pageHrefs(location, page, events.data.pages)}
            status={`Page ${page} of ${Math.max(events.data.pages, 1)} · ${formatCount(events.data.total)}${events.data.total_exact ? "" : "+"} events`}
          />
        </>
      )}
    </div>
  );
}

function AuditFilters({ location }: { location: Location }) {
  const [event, setEvent] = useState(location.query.get("event") ?? "");
  const [user, setUser] = useState(location.query.get("user") ?? "");
  const [from, setFrom] = useState(location.query.get("from") ?? "");
  const [to, setTo] = useState(location.query.get("to") ?? "");
  const filtered = ["event", "user", "from", "to"].some((key) => location.query.get(key));
  return (
    <form
      class="toolbar"
      role="search"
      aria-label="Audit filters"
      onSubmit={(submit) => {
        submit.preventDefault();
        go(location, { event: event.trim(), user: user.trim(), from, to });
      }}
    >
      <div>
        <label for="filter-event">Event type</label>
        <input id="filter-event" list="event-types" value={event} placeholder="e.g. login.failure" maxLength={64} autocapitalize="none" spellcheck={false} onInput={(input) => setEvent(input.currentTarget.value)} />
        <datalist id="event-types">
          {EVENT_TYPES.map((type) => (
            <option key={type} value={type} />
          ))}
        </datalist>
      </div>
      <div>
        <label for="filter-user">User id</label>
        <input id="filter-user" value={user} class="admin-id-input" autocapitalize="none" spellcheck={false} onInput={(input) => setUser(input.currentTarget.value)} />
      </div>
      <div>
        <label for="filter-from">From (UTC)</label>
        <input id="filter-from" type="date" value={from} max={to || undefined} onInput={(input) => setFrom(input.currentTarget.value)} />
      </div>
      <div>
        <label for="filter-to">To (UTC, included)</label>
        <input id="filter-to" type="date" value={to} min={from || undefined} onInput={(input) => setTo(input.currentTarget.value)} />
      </div>
      <div class="admin-filter-actions">
        <button type="submit">Apply</button>
        {filtered ? (
          <Link href={withQuery(location, { event: null, user: null, from: null, to: null, page: null })} class="button ghost">
            Clear filters
          </Link>
        ) : null}
      </div>
    </form>
  );
}

/** Whose events these are: the account behind the id in the filter. */
function UserFilterNote({ userId, location }: { userId: string; location: Location }) {
  const user = useApi(() => must(api.GET("/api/v1/users/{user_id}", { params: { path: { user_id: userId } } })), [userId]);
  const who = user.data ? `${user.data.username} (${user.data.email})` : user.state === "error" ? "an account that no longer exists" : userId;
  return (
    <p class="admin-note">
      Events concerning <strong>{who}</strong>. <Link href={withQuery(location, { user: null, page: null })}>All users</Link>
    </p>
  );
}

/** An account id, linking to the events concerning that account (the API filters by `user_id` only). */
function UserCell({ id, location }: { id: string | null; location: Location }) {
  if (!id) return <span class="muted">None</span>;
  return (
    <Link href={withQuery(location, { user: id, page: null })} class="admin-id" title={id} aria-label={`Only events concerning account ${id}`}>
      {id.slice(0, 8)}
    </Link>
  );
}

function AuditRow({ event, location }: { event: AuditEvent; location: Location }) {
  const details = detailsText(event.details);
  return (
    <tr>
      <td class="admin-nowrap">{formatDateTime(event.occurred_at)}</td>
      <td>
        <Link href={withQuery(location, { event: event.event_type, page: null })} aria-label={`Only ${event.event_type} events`}>
          <code>{event.event_type}</code>
        </Link>
      </td>
      <td>
        <UserCell id={event.user_id} location={location} />
      </td>
      <td>
        <UserCell id={event.actor_id} location={location} />
      </td>
      <td class="admin-break">{event.identifier ?? <span class="muted">None</span>}</td>
      <td>
        {event.ip ?? <span class="muted">Unknown</span>}
        {event.user_agent ? <span class="admin-sub admin-agent">{event.user_agent}</span> : null}
      </td>
      <td class="admin-break">{details ? <code>{details}</code> : <span class="muted">None</span>}</td>
    </tr>
  );
}

// ---------------------------------------------------------------------------------
// Maintenance

export function MaintenancePage(_: PageProps) {
  const state = useApi(() => must(api.GET("/api/v1/admin/maintenance")), []);
  const notice = useNotice();
  const { confirm, dialog } = useConfirm();

  const ask = (enabled: boolean) =>
    confirm({
      title: enabled ? "Turn maintenance mode on?" : "Turn maintenance mode off?",
      message: enabled ? (
        <p>
          Every request answers "Down for maintenance" (503), within seconds on every server, except for administrators,
          sign-in, health checks and metrics. Ingest is refused too.
        </p>
      ) : (
        <p>Everyone can use ProdLens again, and ingest is accepted.</p>
      ),
      confirmLabel: enabled ? "Turn on" : "Turn off",
      busyLabel: "Switching…",
      danger: enabled,
      action: async () => {
        await must(api.PUT("/api/v1/admin/maintenance", { body: { enabled } }));
        notice.announce(enabled ? "Maintenance mode is on." : "Maintenance mode is off.");
        state.reload();
      },
    });

  return (
    <div class="admin">
      <h1>Maintenance</h1>
      <p class="muted">
        Maintenance mode closes ProdLens to everyone but administrators, for a migration or an incident. The switch is
        stored in the database and written to the audit log.
      </p>
      <Notice message={notice.message} />
      {state.state === "error" && !state.data ? (
        <ErrorBox error={state.error} onRetry={state.reload} />
      ) : !state.data ? (
        <Loading label="Loading the state…" />
      ) : (
        <section class="card admin-switch-card" aria-labelledby="maintenance-switch-label">
          <div class="admin-switch-row">
            <span id="maintenance-switch-label" class="admin-strong">
              Maintenance mode
            </span>
            <button
              type="button"
              role="switch"
              class={`admin-switch ${state.data.enabled ? "on" : ""}`}
              aria-checked={state.data.enabled}
              aria-labelledby="maintenance-switch-label"
              aria-describedby="maintenance-state"
              disabled={state.data.forced_by_setting}
              onClick={() => ask(!state.data!.enabled)}
            >
              <span class="admin-switch-knob" aria-hidden="true" />
              <span class="admin-switch-word">{state.data.enabled ? "On" : "Off"}</span>
            </button>
          </div>
          <p id="maintenance-state">
            {state.data.forced_by_setting
              ? "On by the setting PRODLENS_MAINTENANCE_MODE: remove it and restart the server to switch it off."
              : state.data.enabled
                ? "On: only administrators can use ProdLens."
                : "Off: ProdLens is open to everyone."}
          </p>
        </section>
      )}
      {dialog}
    </div>
  );
}

// ---------------------------------------------------------------------------------
// Plans and usage

/** A plan's hourly budget as typed: null is unlimited; NaN when not a whole number in range. */
export function parseBudget(text: string, unlimited: boolean): number | null {
  if (unlimited) return null;
  const value = Number(text);
  return text.trim() !== "" && Number.isInteger(value) && value >= 1 && value <= 10_000_000 ? value : Number.NaN;
}

/** "42 s", "12 min", "1.5 h": how long until a usage window has room again. */
export function formatResetIn(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 360) / 10} h`;
}

export function PlansPage(_: PageProps) {
  const plans = useApi(() => must(api.GET("/api/v1/plans")), []);
  const notice = useNotice();
  return (
    <div class="admin">
      <h1>Plans</h1>
      <section aria-labelledby="plans-title">
        <h2 id="plans-title">Hourly budgets</h2>
        <p class="muted">Each account's tier names its plan; the budget counts its requests per hour. Administrators have none.</p>
        <Notice message={notice.message} />
        {plans.state === "error" && !plans.data ? (
          <ErrorBox error={plans.error} onRetry={plans.reload} />
        ) : !plans.data ? (
          <Loading label="Loading plans…" />
        ) : plans.data.length === 0 ? (
          <Empty title="No plans" />
        ) : (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Plans</caption>
              <thead>
                <tr>
                  <th scope="col">Plan</th>
                  <th scope="col">Requests per hour</th>
                  <th scope="col">Description</th>
                  <th scope="col">Updated</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {plans.data.map((plan) => (
                  <PlanRow
                    key={`${plan.name}:${plan.updated_at}`}
                    plan={plan}
                    onSaved={(saved) => {
                      notice.announce(`The ${saved.name} plan was saved.`);
                      plans.reload();
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <UsageSection />
    </div>
  );
}

function PlanRow({ plan, onSaved }: { plan: Plan; onSaved: (plan: Plan) => void }) {
  const [budget, setBudget] = useState(plan.requests_per_hour === null ? "" : String(plan.requests_per_hour));
  const [unlimited, setUnlimited] = useState(plan.requests_per_hour === null);
  const [description, setDescription] = useState(plan.description);
  const [invalid, setInvalid] = useState(false);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const budgetRef = useRef<HTMLInputElement>(null);
  const value = parseBudget(budget, unlimited);
  const dirty = value !== plan.requests_per_hour || description !== plan.description;
  const budgetId = `plan-${plan.name}-budget`;

  const save = async () => {
    if (Number.isNaN(value)) {
      setInvalid(true);
      budgetRef.current?.focus();
      return;
    }
    setInvalid(false);
    setSending(true);
    setError(null);
    try {
      onSaved(
        await must(
          api.PATCH("/api/v1/plans/{name}", {
            params: { path: { name: plan.name } },
            body: { requests_per_hour: value, description: description.trim() },
          }),
        ),
      );
    } catch (failure) {
      setError(failure);
      setSending(false);
    }
  };

  return (
    <tr>
      <th scope="row" class="admin-plan-name">
        {plan.name}
      </th>
      <td>
        <div class="admin-inline">
          <input
            ref={budgetRef}
            id={budgetId}
            type="number"
            inputMode="numeric"
            min={1}
            max={10_000_000}
            step={1}
            class="admin-budget"
            aria-label={`Requests per hour of the ${plan.name} plan`}
            aria-invalid={invalid ? true : undefined}
            aria-describedby={invalid ? `${budgetId}-error` : undefined}
            value={budget}
            disabled={unlimited}
            onInput={(event) => setBudget(event.currentTarget.value)}
          />
          <label class="inline">
            <input type="checkbox" checked={unlimited} onChange={(event) => setUnlimited(event.currentTarget.checked)} />
            Unlimited
          </label>
        </div>
        {invalid ? (
          <p id={`${budgetId}-error`} class="field-error">
            A whole number from 1 to 10,000,000.
          </p>
        ) : null}
      </td>
      <td>
        <input
          class="admin-description"
          aria-label={`Description of the ${plan.name} plan`}
          maxLength={200}
          value={description}
          onInput={(event) => setDescription(event.currentTarget.value)}
        />
        {error ? <ErrorBox error={error} /> : null}
      </td>
      <td class="admin-nowrap">{formatDate(plan.updated_at)}</td>
      <td>
        <button type="button" disabled={sending || !dirty} onClick={save} aria-label={`Save the ${plan.name} plan`}>
          {sending ? "Saving…" : "Save"}
        </button>
      </td>
    </tr>
  );
}

function UsageSection() {
  const usage = useApi(() => must(api.GET("/api/v1/usage")), []);
  const state = useStore(session);
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Your usage</h2>
      {usage.state === "error" && !usage.data ? (
        <ErrorBox error={usage.error} onRetry={usage.reload} />
      ) : !usage.data ? (
        <Loading label="Loading your usage…" />
      ) : (
        <>
          <p>
            Your plan: <strong>{usage.data.plan}</strong>
            {isAdmin(state) ? (
              <span class="muted"> · as an administrator you are not held to its hourly budget (docs/auth.md).</span>
            ) : null}
          </p>
          <div class="grid" aria-live="polite">
            <UsageCard title="This hour (plan budget)" window={usage.data.hourly} />
            <UsageCard title="This minute (general limit)" window={usage.data.per_minute} />
          </div>
          <p>
            <button type="button" class="ghost" onClick={usage.reload}>
              Refresh usage
            </button>
          </p>
        </>
      )}
    </section>
  );
}

function UsageCard({ title, window }: { title: string; window: UsageWindow }) {
  return (
    <div class="card">
      <h3>{title}</h3>
      <dl class="admin-usage">
        <dt>Used</dt>
        <dd>{formatCount(window.used)}</dd>
        <dt>Limit</dt>
        <dd>{window.limit === null ? "Unlimited" : formatCount(window.limit)}</dd>
        <dt>Remaining</dt>
        <dd>{window.remaining === null ? "Unlimited" : formatCount(window.remaining)}</dd>
        <dt>Room again in</dt>
        <dd>{window.resets_in_seconds > 0 ? formatResetIn(window.resets_in_seconds) : "Now"}</dd>
      </dl>
    </div>
  );
}
