// One KPI: its value in its unit, the target it is judged against, its status in words
// (never colour alone) and the sample it rests on. The raw value and status sit in data
// attributes, so tests read them without parsing formatted text.
import type { components } from "../api/schema";
import { formatKpi, formatValue, statusLabel } from "../lib/format";

export type Kpi = components["schemas"]["Kpi"];

function targetText(kpi: Kpi): string {
  const sign = kpi.direction === "higher_is_better" ? "≥" : "≤";
  return `target ${sign} ${formatValue(kpi.target, kpi.unit)}`;
}

function sampleText(kpi: Kpi): string {
  const size = `n = ${kpi.sample_size.toLocaleString("en-US")}`;
  // Below the minimum the value is not judged: say how much is needed.
  return kpi.sample_size < kpi.min_sample ? `${size} (needs ${kpi.min_sample.toLocaleString("en-US")})` : size;
}

export function KpiCard({ kpi }: { kpi: Kpi }) {
  const labelId = `kpi-${kpi.name}-label`;
  return (
    <article
      class="card kpi-card"
      data-kpi={kpi.name}
      data-value={kpi.value === null ? "" : String(kpi.value)}
      data-status={kpi.status}
      aria-labelledby={labelId}
    >
      <h4 id={labelId} class="kpi-label">
        {kpi.label}
      </h4>
      <p class={kpi.status === "insufficient_data" ? "kpi-value kpi-value-none" : "kpi-value"}>
        {formatKpi(kpi.value, kpi.unit, kpi.status)}
      </p>
      <p class="kpi-target muted">{targetText(kpi)}</p>
      <p class="kpi-foot">
        <span class={`badge status-${kpi.status}`}>{statusLabel(kpi.status)}</span>
        <span class="muted">{sampleText(kpi)}</span>
      </p>
    </article>
  );
}
