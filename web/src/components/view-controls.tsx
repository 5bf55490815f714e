// The window picker and the filters of an analytics view. They change the URL only;
// pages read the view back from it (parseView), so a view is always shareable.
import { useState } from "preact/hooks";
import { api, must } from "../api/client";
import { type Location, navigate, withQuery } from "../lib/router";
import { useApi } from "../lib/useApi";
import { type Bucket, PRESETS, type Preset, parseView, type ViewState, viewQuery } from "../lib/urlstate";

const PRESET_LABELS: Record<Preset, string> = { "24h": "24 h", "7d": "7 d", "30d": "30 d", "90d": "90 d" };

/** A new window or filter starts the page's list from the top again. */
function go(location: Location, view: ViewState): void {
  navigate(withQuery(location, { ...viewQuery(view), cursor: null, page: null }));
}

// The developer ids of a project change slowly: one fetch per project a minute serves
// every page's filter (the user's hourly request budget is finite).
const DEVELOPERS_TTL_MS = 60_000;
const developerIds = new Map<string, { at: number; ids: Promise<string[]> }>();

function projectDevelopers(projectId: string): Promise<string[]> {
  const cached = developerIds.get(projectId);
  if (cached && Date.now() - cached.at < DEVELOPERS_TTL_MS) return cached.ids;
  const ids = must(
    api.GET("/api/v1/projects/{project_id}/developers", {
      params: { path: { project_id: projectId }, query: { page_size: 100, sort: "developer_id" } },
    }),
  ).then((page) => page.items.map((item) => item.developer_id));
  ids.catch(() => developerIds.delete(projectId));
  developerIds.set(projectId, { at: Date.now(), ids });
  return ids;
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export function ViewControls({
  location,
  projectId,
  models,
  bucket = false,
  filters = true,
}: {
  location: Location;
  projectId: string;
  /** Suggestions for the model filter (e.g. the project's allowed models). */
  models: string[];
  bucket?: boolean;
  filters?: boolean;
}) {
  const view = parseView(location.query);
  const [from, setFrom] = useState(view.from ?? "");
  const [to, setTo] = useState(view.to ?? "");
  const [customOpen, setCustomOpen] = useState(view.preset === "custom");
  const developers = useApi(
    () => (filters ? projectDevelopers(projectId) : Promise.resolve([] as string[])),
    [projectId, filters],
  );

  const choosePreset = (preset: Preset) => {
    setCustomOpen(false);
    go(location, { ...view, preset, from: null, to: null, bucket: parseView(new URLSearchParams({ window: preset })).bucket });
  };
  const applyCustom = (event: Event) => {
    event.preventDefault();
    if (!from || !to || from > to) return;
    const bucketOf = parseView(new URLSearchParams({ window: "custom", from, to })).bucket;
    go(location, { ...view, preset: "custom", from, to, bucket: bucketOf });
  };

  return (
    <div class="toolbar" role="group" aria-label="Window and filters">
      <fieldset class="segmented">
        <legend class="visually-hidden">Window</legend>
        {(Object.keys(PRESETS) as Preset[]).map((preset) => (
          <button
            key={preset}
            type="button"
            class={view.preset === preset ? "" : "ghost"}
            aria-pressed={view.preset === preset}
            onClick={() => choosePreset(preset)}
          >
            {PRESET_LABELS[preset]}
          </button>
        ))}
        <button
          type="button"
          class={view.preset === "custom" ? "" : "ghost"}
          aria-pressed={view.preset === "custom"}
          aria-expanded={customOpen}
          onClick={() => setCustomOpen(!customOpen)}
        >
          Custom
        </button>
      </fieldset>
      {customOpen ? (
        <form class="custom-window" onSubmit={applyCustom}>
          <label>
            From
            <input type="date" value={from} max={to || today()} onInput={(e) => setFrom(e.currentTarget.value)} required />
          </label>
          <label>
            To
            <input type="date" value={to} min={from} max={today()} onInput={(e) => setTo(e.currentTarget.value)} required />
          </label>
          <button type="submit">Apply</button>
        </form>
      ) : null}
      {bucket ? (
        <label>
          Interval
          <select
            value={view.bucket}
            onChange={(e) => go(location, { ...view, bucket: e.currentTarget.value as Bucket })}
          >
            <option value="hour">Hour</option>
            <option value="day">Day</option>
            <option value="week">Week</option>
          </select>
        </label>
      ) : null}
      {filters ? (
        <>
          <label>
            Developer
            <select
              value={view.developer ?? ""}
              onChange={(e) => go(location, { ...view, developer: e.currentTarget.value || null })}
            >
              <option value="">All developers</option>
              {view.developer && !developers.data?.includes(view.developer) ? (
                <option value={view.developer}>{view.developer}</option>
              ) : null}
              {(developers.data ?? []).map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </label>
          <label>
            Model
            <select
              value={view.model ?? ""}
              onChange={(e) => go(location, { ...view, model: e.currentTarget.value || null })}
            >
              <option value="">All models</option>
              {view.model && !models.includes(view.model) ? <option value={view.model}>{view.model}</option> : null}
              {models.map((model) => (
                <option key={model} value={model}>
                  {model}
                </option>
              ))}
            </select>
          </label>
        </>
      ) : null}
    </div>
  );
}
