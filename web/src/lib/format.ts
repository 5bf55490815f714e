// How numbers, units and statuses read on the dashboard. Pure, so tested on their own.
import type { components } from "../api/schema";

export type KpiStatus = components["schemas"]["Kpi"]["status"];

const STATUS_LABELS: Record<KpiStatus, string> = {
  good: "On target",
  warning: "Warning",
  critical: "Critical",
  insufficient_data: "Insufficient data",
};

/** The words for a status: colour is never the only signal. */
export function statusLabel(status: KpiStatus): string {
  return STATUS_LABELS[status];
}

function grouped(value: number, digits: number): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A count: 1,234 / 12.3k / 4.56M. */
export function formatCount(value: number): string {
  const size = Math.abs(value);
  if (size >= 1e9) return `${grouped(value / 1e9, 2)}B`;
  if (size >= 1e6) return `${grouped(value / 1e6, 2)}M`;
  if (size >= 1e4) return `${grouped(value / 1e3, 1)}k`;
  return grouped(value, Number.isInteger(value) ? 0 : 2);
}

export function formatUsd(value: number): string {
  const size = Math.abs(value);
  const digits = size >= 100 ? 0 : size >= 1 ? 2 : size === 0 ? 2 : 4;
  const sign = value < 0 ? "-" : "";
  return `${sign}$${grouped(size, digits)}`;
}

export function formatPercent(ratio: number): string {
  const percent = ratio * 100;
  const digits = Math.abs(percent) >= 10 || percent === 0 ? 1 : 2;
  return `${grouped(percent, digits)} %`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${grouped(ms, 0)} ms`;
  if (ms < 60_000) return `${grouped(ms / 1000, 2)} s`;
  return `${grouped(ms / 60_000, 1)} min`;
}

function significant(value: number): string {
  const size = Math.abs(value);
  const digits = size >= 100 ? 0 : size >= 10 ? 1 : 2;
  return grouped(value, digits);
}

/**
 * A KPI value in its unit, as the catalogue names units (docs/metrics.md):
 * "ratio" → percent, "USD…" → dollars, "ms" → a duration, anything else → number + unit.
 */
export function formatValue(value: number, unit: string): string {
  if (unit === "ratio") return formatPercent(value);
  if (unit === "ms") return formatDuration(value);
  if (unit === "USD") return formatUsd(value);
  if (unit.startsWith("USD/")) return `${formatUsd(value)} / ${unit.slice(4)}`;
  if (unit === "hours") return `${significant(value)} h`;
  return `${significant(value)} ${unit}`;
}

/** A KPI's value, or the words that say why there is none. */
export function formatKpi(value: number | null, unit: string, status: KpiStatus): string {
  if (value === null || status === "insufficient_data") return "Insufficient data";
  return formatValue(value, unit);
}

export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  return date.toLocaleString("en-GB", {
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: "UTC",
    timeZoneName: "short",
  });
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString("en-GB", {
    year: "numeric",
    month: "short",
    day: "2-digit",
    timeZone: "UTC",
  });
}
