import { describe, expect, it } from "vitest";
import {
  formatCount,
  formatDate,
  formatDateTime,
  formatDuration,
  formatKpi,
  formatPercent,
  formatUsd,
  formatValue,
  statusLabel,
} from "./format";

describe("formatCount", () => {
  it("groups small counts and keeps two decimals for fractions", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(7)).toBe("7");
    expect(formatCount(1234)).toBe("1,234");
    expect(formatCount(9999)).toBe("9,999");
    expect(formatCount(2.5)).toBe("2.50");
  });

  it("shortens large counts to k, M and B", () => {
    expect(formatCount(10_000)).toBe("10.0k");
    expect(formatCount(12_345)).toBe("12.3k");
    expect(formatCount(999_940)).toBe("999.9k");
    expect(formatCount(1_000_000)).toBe("1.00M");
    expect(formatCount(13_531_591)).toBe("13.53M");
    expect(formatCount(2_500_000_000)).toBe("2.50B");
  });

  it("chooses the scale after rounding, never printing 1,000 of a unit", () => {
    expect(formatCount(999_950)).toBe("1.00M");
    expect(formatCount(999_999)).toBe("1.00M");
    expect(formatCount(999_995_000)).toBe("1.00B");
    expect(formatCount(9_999.996)).toBe("10.0k");
  });

  it("keeps the sign of negative counts", () => {
    expect(formatCount(-42)).toBe("-42");
    expect(formatCount(-12_345)).toBe("-12.3k");
    expect(formatCount(-4_560_000)).toBe("-4.56M");
  });
});

describe("formatUsd", () => {
  it("shows cents for dollars and four decimals below one", () => {
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(0.0132435)).toBe("$0.0132");
    expect(formatUsd(1)).toBe("$1.00");
    expect(formatUsd(36.025727)).toBe("$36.03");
  });

  it("drops cents from a hundred dollars on, grouping thousands", () => {
    expect(formatUsd(100)).toBe("$100");
    expect(formatUsd(1234.56)).toBe("$1,235");
  });

  it("picks the digits after rounding at the edges", () => {
    expect(formatUsd(0.99999)).toBe("$1.00");
    expect(formatUsd(99.999)).toBe("$100");
  });

  it("puts the minus before the dollar sign", () => {
    expect(formatUsd(-2.5)).toBe("-$2.50");
    expect(formatUsd(-0.5)).toBe("-$0.5000");
  });
});

describe("formatPercent", () => {
  it("shows ratios as percent with a space before the sign", () => {
    expect(formatPercent(0)).toBe("0.0 %");
    expect(formatPercent(0.3)).toBe("30.0 %");
    expect(formatPercent(1)).toBe("100.0 %");
    expect(formatPercent(0.045547)).toBe("4.55 %");
    expect(formatPercent(0.0005)).toBe("0.05 %");
  });

  it("keeps one decimal for values that round up to 10 %", () => {
    expect(formatPercent(0.09999)).toBe("10.0 %");
    expect(formatPercent(0.09994)).toBe("9.99 %");
  });

  it("handles negative ratios", () => {
    expect(formatPercent(-0.25)).toBe("-25.0 %");
    expect(formatPercent(-0.05)).toBe("-5.00 %");
  });
});

describe("formatDuration", () => {
  it("uses ms, s and min", () => {
    expect(formatDuration(0)).toBe("0 ms");
    expect(formatDuration(420.4)).toBe("420 ms");
    expect(formatDuration(1000)).toBe("1.00 s");
    expect(formatDuration(2416.82)).toBe("2.42 s");
    expect(formatDuration(60_000)).toBe("1.0 min");
    expect(formatDuration(150_000)).toBe("2.5 min");
  });

  it("changes unit when the rounded value reaches the next one", () => {
    expect(formatDuration(999.4)).toBe("999 ms");
    expect(formatDuration(999.7)).toBe("1.00 s");
    expect(formatDuration(59_994)).toBe("59.99 s");
    expect(formatDuration(59_999)).toBe("1.0 min");
  });
});

describe("formatValue", () => {
  it("formats each unit of the KPI catalogue", () => {
    expect(formatValue(0.501, "ratio")).toBe("50.1 %");
    expect(formatValue(2416.8, "ms")).toBe("2.42 s");
    expect(formatValue(2.57, "USD")).toBe("$2.57");
    expect(formatValue(0.2537, "USD/developer-day")).toBe("$0.2537 / developer-day");
    expect(formatValue(21.34, "hours")).toBe("21.3 h");
    expect(formatValue(1.4066, "sessions/developer-hour")).toBe("1.41 sessions/developer-hour");
    expect(formatValue(1160.4, "tokens/line")).toBe("1,160 tokens/line");
    expect(formatValue(7.23, "commits/day")).toBe("7.23 commits/day");
  });

  it("gives plain numbers two, one or no decimals by size, judged after rounding", () => {
    expect(formatValue(9.999, "PRs/week")).toBe("10.0 PRs/week");
    expect(formatValue(12.34, "PRs/week")).toBe("12.3 PRs/week");
    expect(formatValue(99.96, "PRs/week")).toBe("100 PRs/week");
    expect(formatValue(0, "commits/day")).toBe("0.00 commits/day");
  });
});

describe("formatKpi and statusLabel", () => {
  it("says why there is no number", () => {
    expect(formatKpi(null, "ratio", "insufficient_data")).toBe("Insufficient data");
    expect(formatKpi(null, "ratio", "good")).toBe("Insufficient data");
    // A value below the minimum sample is not shown as if it could be judged.
    expect(formatKpi(0.4, "ratio", "insufficient_data")).toBe("Insufficient data");
  });

  it("formats a judged value in its unit", () => {
    expect(formatKpi(0.4, "ratio", "good")).toBe("40.0 %");
    expect(formatKpi(0, "PRs/week", "critical")).toBe("0.00 PRs/week");
  });

  it("names every status in words", () => {
    expect(statusLabel("good")).toBe("On target");
    expect(statusLabel("warning")).toBe("Warning");
    expect(statusLabel("critical")).toBe("Critical");
    expect(statusLabel("insufficient_data")).toBe("Insufficient data");
  });
});

describe("dates", () => {
  it("shows times in UTC, whatever the browser's zone", () => {
    expect(formatDateTime("2026-12-02T13:33:28.388Z")).toBe("02 Dec 2026, 13:33 UTC");
    expect(formatDateTime("2026-12-02T23:59:00+02:00")).toBe("02 Dec 2026, 21:59 UTC");
  });

  it("shows the UTC day of a date or a time", () => {
    expect(formatDate("2026-11-20")).toBe("20 Nov 2026");
    expect(formatDate("2026-11-20T23:30:00Z")).toBe("20 Nov 2026");
  });
});
