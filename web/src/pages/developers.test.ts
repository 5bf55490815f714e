import { describe, expect, it } from "vitest";
import { HEAT_STEPS, heatLegend, heatLevel } from "./developers";

describe("heatmap levels", () => {
  it("keeps level 0 for empty hours and the top level for the busiest", () => {
    expect(heatLevel(0, 100)).toBe(0);
    expect(heatLevel(0, 0)).toBe(0);
    expect(heatLevel(100, 100)).toBe(HEAT_STEPS);
    expect(heatLevel(1, 1)).toBe(HEAT_STEPS);
  });

  it("shades on a square-root scale, so a spike does not wash out the rest", () => {
    // 1/16 of the busiest hour is still the first step, 1/4 the second.
    expect(heatLevel(1, 16)).toBe(1);
    expect(heatLevel(2, 16)).toBe(2);
    expect(heatLevel(4, 16)).toBe(2);
    expect(heatLevel(5, 16)).toBe(3);
    expect(heatLevel(9, 16)).toBe(3);
    expect(heatLevel(10, 16)).toBe(4);
    expect(heatLevel(30, 608)).toBe(1);
    expect(heatLevel(100, 608)).toBe(2);
  });

  it("gives a legend whose ranges match the cells' levels", () => {
    for (const max of [1, 2, 3, 7, 16, 17, 100, 608]) {
      const legend = heatLegend(max);
      expect(legend[0]).toEqual({ level: 0, from: 0, to: 0 });
      let expected = 1;
      for (const step of legend.slice(1)) {
        expect(step.from).toBe(expected);
        for (let count = step.from; count <= step.to; count += 1) expect(heatLevel(count, max)).toBe(step.level);
        expected = step.to + 1;
      }
      expect(expected).toBe(max + 1);
    }
  });

  it("leaves out levels no whole count reaches", () => {
    expect(heatLegend(1).map((step) => step.level)).toEqual([0, 4]);
    expect(heatLegend(0)).toEqual([{ level: 0, from: 0, to: 0 }]);
  });
});
