import { describe, expect, it } from "vitest";
import { ApiError, type Problem } from "../api/problem";
import type { components } from "../api/schema";
import { checkDraft, type Draft, draftOf, fromInput, isDemotion, overridesOf, parseSection, targetErrorsOf, toInput } from "./settings";

type Target = components["schemas"]["TargetPublic"];

const acceptance: Target = {
  name: "acceptance_rate",
  label: "Acceptance rate",
  unit: "ratio",
  direction: "higher_is_better",
  good: 0.3,
  warning: 0.2,
  min_sample: 20,
  customized: false,
};
const latency: Target = {
  name: "latency_p50",
  label: "Latency p50",
  unit: "ms",
  direction: "lower_is_better",
  good: 2000,
  warning: 5000,
  min_sample: 20,
  customized: true,
};

const draft = (target: Target, patch: Partial<Draft> = {}): Draft => ({ ...draftOf(target), ...patch });

describe("settings sections", () => {
  it("reads the section of the URL, members by default", () => {
    expect(parseSection("keys")).toBe("keys");
    expect(parseSection("github")).toBe("github");
    expect(parseSection(null)).toBe("members");
    expect(parseSection("billing")).toBe("members");
  });
});

describe("member roles", () => {
  it("calls a change that takes rights away a demotion", () => {
    expect(isDemotion("owner", "maintainer")).toBe(true);
    expect(isDemotion("maintainer", "viewer")).toBe(true);
    expect(isDemotion("viewer", "owner")).toBe(false);
    expect(isDemotion("maintainer", "maintainer")).toBe(false);
  });
});

describe("threshold inputs", () => {
  it("shows ratios in percent, without float noise", () => {
    expect(toInput(0.07, "ratio")).toBe("7");
    expect(toInput(0.3, "ratio")).toBe("30");
    expect(toInput(0.025, "ratio")).toBe("2.5");
    expect(toInput(2000, "ms")).toBe("2000");
  });

  it("reads percent back as a ratio", () => {
    expect(fromInput("7", "ratio")).toBe(0.07);
    expect(fromInput("33.3", "ratio")).toBe(0.333);
    expect(fromInput("2500", "ms")).toBe(2500);
    expect(fromInput("", "ms")).toBeNull();
    expect(fromInput("abc", "ms")).toBeNull();
  });
});

describe("checkDraft", () => {
  it("accepts the values in force", () => {
    expect(checkDraft(acceptance, draft(acceptance))).toEqual({});
  });

  it("refuses thresholds in the wrong order for the direction", () => {
    expect(checkDraft(acceptance, draft(acceptance, { good: "10" })).warning).toMatch(/Higher is better/);
    expect(checkDraft(latency, draft(latency, { warning: "1000" })).warning).toMatch(/Lower is better/);
  });

  it("refuses ratios above 100 %, negative and missing numbers, fractional samples", () => {
    expect(checkDraft(acceptance, draft(acceptance, { good: "101" })).good).toBe("At most 100 %.");
    expect(checkDraft(latency, draft(latency, { good: "-1" })).good).toBe("Must be 0 or more.");
    expect(checkDraft(latency, draft(latency, { warning: "" })).warning).toBe("Enter a number.");
    expect(checkDraft(latency, draft(latency, { min_sample: "2.5" })).min_sample).toBe("A whole number from 1.");
    expect(checkDraft(latency, draft(latency, { min_sample: "0" })).min_sample).toBe("A whole number from 1.");
  });

  it("does not check a KPI going back to its defaults", () => {
    expect(checkDraft(latency, draft(latency, { good: "", reset: true }))).toEqual({});
  });
});

describe("overridesOf", () => {
  it("keeps custom KPIs, adds edited ones and leaves the rest to the defaults", () => {
    const drafts = { acceptance_rate: draft(acceptance, { good: "40" }), latency_p50: draft(latency) };
    expect(overridesOf([acceptance, latency], drafts)).toEqual({
      acceptance_rate: { good: 0.4, warning: 0.2, min_sample: 20 },
      latency_p50: { good: 2000, warning: 5000, min_sample: 20 },
    });
    expect(overridesOf([acceptance], { acceptance_rate: draft(acceptance) })).toEqual({});
  });

  it("drops a KPI reset to its defaults", () => {
    expect(overridesOf([latency], { latency_p50: draft(latency, { reset: true }) })).toEqual({});
  });
});

describe("targetErrorsOf", () => {
  it("puts an inconsistent target on its KPI", () => {
    // The API adds the KPI's name to this problem, beyond the Problem schema.
    const problem: Partial<Problem> & { kpi: string } = {
      title: "Inconsistent KPI target",
      code: "metrics.invalid_target",
      detail: "good must be at least warning",
      kpi: "acceptance_rate",
    };
    const error = new ApiError(422, problem, "c1");
    expect(targetErrorsOf(error)).toEqual({ acceptance_rate: { kpi: "good must be at least warning" } });
  });

  it("puts field errors on their KPI and field", () => {
    const error = new ApiError(
      422,
      {
        title: "Request validation failed",
        code: "validation.failed",
        errors: [
          { field: "body.targets.error_rate.good", message: "Input should be greater than or equal to 0", type: "greater_than_equal" },
          { field: "body.targets.error_rate.min_sample", message: "Input should be greater than or equal to 1", type: "greater_than_equal" },
        ],
      },
      "c2",
    );
    expect(targetErrorsOf(error)).toEqual({
      error_rate: { good: "Input should be greater than or equal to 0", min_sample: "Input should be greater than or equal to 1" },
    });
  });

  it("leaves anything else to the form's alert", () => {
    expect(targetErrorsOf(new ApiError(403, { title: "Forbidden", code: "projects.role_required" }, null))).toBeNull();
    expect(targetErrorsOf(new Error("boom"))).toBeNull();
  });
});
