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

/** `value` rounded to `digits` fraction digits, as it will be printed. */
function rounded(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * Fraction digits by magnitude: the first band `[below, digits]` that the value, rounded
 * to those digits, stays below; else `last`. Judged after rounding, so a value at the
 * edge of a band reads like the next one ("100", not "100.00").
 */
function digitsBy(size: number, bands: [below: number, digits: number][], last: number): number {
  for (const [below, digits] of bands) if (rounded(size, digits) < below) return digits;
  return last;
}

/** A count: 1,234 / 12.3k / 4.56M; the scale is chosen after rounding (999,960 is 1.00M). */
export function formatCount(value: number): string {
  const size = Math.abs(value);
  if (rounded(size / 1e6, 2) >= 1000) return `${grouped(value / 1e9, 2)}B`;
  if (rounded(size / 1e3, 1) >= 1000) return `${grouped(value / 1e6, 2)}M`;
  const digits = Number.isInteger(value) ? 0 : 2;
  if (rounded(size, digits) >= 1e4) return `${grouped(value / 1e3, 1)}k`;
  return grouped(value, digits);
}

export function formatUsd(value: number): string {
  const size = Math.abs(value);
  const digits = size === 0 ? 2 : digitsBy(size, [[1, 4], [100, 2]], 0);
  const sign = value < 0 ? "-" : "";
  return `${sign}$${grouped(size, digits)}`;
}

export function formatPercent(ratio: number): string {
  const percent = ratio * 100;
  const digits = percent === 0 ? 1 : digitsBy(Math.abs(percent), [[10, 2]], 1);
  return `${grouped(percent, digits)} %`;
}

export function formatDuration(ms: number): string {
  // Rounded before the unit is chosen: 999.7 ms reads "1.00 s", not "1,000 ms".
  if (rounded(ms, 0) < 1000) return `${grouped(ms, 0)} ms`;
  if (rounded(ms / 1000, 2) < 60) return `${grouped(ms / 1000, 2)} s`;
  return `${grouped(ms / 60_000, 1)} min`;
}

function significant(value: number): string {
  return grouped(value, digitsBy(Math.abs(value), [[10, 2], [100, 1]], 0));
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
