import { describe, expect, it } from "vitest";
import { evidenceItems, formatP, formatR, formatRatio, intervalGeometry, parseMaxLag } from "./insights";

describe("numbers", () => {
  it("formats r with a true minus and p/q with two significant digits", () => {
    expect(formatR(0.6012)).toBe("0.60");
    expect(formatR(-0.0619)).toBe("−0.06");
    expect(formatR(null)).toBe("–");
    expect(formatP(0.0034468)).toBe("0.0034");
    expect(formatP(0.7238)).toBe("0.72");
    expect(formatP(0.3)).toBe("0.30");
    expect(formatP(2e-5)).toBe("< 0.001");
    expect(formatP(null)).toBe("–");
    expect(formatRatio(674, 65.57)).toBe("10.3×");
    expect(formatRatio(3, 0)).toBe("–");
  });

  it("reads max_lag within the API's bounds", () => {
    expect(parseMaxLag("3")).toBe(3);
    expect(parseMaxLag("0")).toBe(0);
    expect(parseMaxLag("15")).toBe(7);
    expect(parseMaxLag(null)).toBe(7);
  });
});

describe("interval geometry", () => {
  it("maps −1…1 onto 0…100 % of the track", () => {
    expect(intervalGeometry(0.6, 0.35, 0.77)).toEqual({ left: 67.5, width: expect.closeTo(21, 6), point: 80 });
    expect(intervalGeometry(0, -1, 1)).toEqual({ left: 0, width: 100, point: 50 });
  });

  it("clamps to the track and has nothing to draw without an interval", () => {
    expect(intervalGeometry(1, 0.9, 1.2)?.width).toBeCloseTo(5);
    expect(intervalGeometry(0.1, null, null)).toBeNull();
    expect(intervalGeometry(null, 0, 0.2)).toBeNull();
  });
});

describe("evidence", () => {
  it("labels a correlation's numbers, with its interval as one item", () => {
    const items = evidenceItems({ metric: "commits", lag: 2, r: 0.6012, ci_low: 0.3526, ci_high: 0.7706, q: 0.00345, n: 39 });
    expect(items).toEqual([
      { label: "Delivery", value: "Commits" },
      { label: "Lag", value: "2 working days" },
      { label: "r", value: "0.60" },
      { label: "95 % interval", value: "0.35 to 0.77" },
      { label: "q", value: "0.0034" },
      { label: "Working-day pairs", value: "39" },
    ]);
  });

  it("formats an anomaly in its series' unit and works out the ratio", () => {
    const items = evidenceItems({ series: "daily_error_rate", day: "2026-11-09", developer: null, value: 0.4286, expected: 0.0288 });
    expect(items).toContainEqual({ label: "Observed", value: "42.9 %" });
    expect(items).toContainEqual({ label: "Expected", value: "2.88 %" });
    expect(items).toContainEqual({ label: "Ratio", value: "14.9×" });
    expect(items.some((item) => item.label === "Developer")).toBe(false);
  });
});
