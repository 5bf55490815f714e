import { describe, expect, it } from "vitest";
import {
  apiFilters,
  apiWindow,
  DEFAULT_PRESET,
  defaultBucket,
  parseView,
  type ViewState,
  viewQuery,
} from "./urlstate";

const q = (text: string) => new URLSearchParams(text);

/** The query string a view writes, as the router would (nulls left out). */
function written(view: ViewState): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(viewQuery(view))) if (value !== null) query.set(key, value);
  return query.toString();
}

describe("parseView", () => {
  it("defaults to the last 30 days by day, unfiltered", () => {
    expect(parseView(q(""))).toEqual({
      preset: DEFAULT_PRESET,
      from: null,
      to: null,
      bucket: "day",
      developer: null,
      model: null,
    });
    expect(DEFAULT_PRESET).toBe("30d");
  });

  it("reads each preset with the bucket that suits it", () => {
    expect(parseView(q("window=24h"))).toMatchObject({ preset: "24h", bucket: "hour" });
    expect(parseView(q("window=7d"))).toMatchObject({ preset: "7d", bucket: "day" });
    expect(parseView(q("window=90d"))).toMatchObject({ preset: "90d", bucket: "day" });
  });

  it("ignores unknown windows, including names of Object's own properties", () => {
    expect(parseView(q("window=365d")).preset).toBe("30d");
    expect(parseView(q("window=toString")).preset).toBe("30d");
    expect(parseView(q("window=__proto__")).preset).toBe("30d");
  });

  it("keeps a bucket the URL names and ignores an unknown one", () => {
    expect(parseView(q("window=24h&bucket=day")).bucket).toBe("day");
    expect(parseView(q("bucket=week")).bucket).toBe("week");
    expect(parseView(q("bucket=minute")).bucket).toBe("day");
  });

  it("reads a custom range and picks its bucket by length", () => {
    expect(parseView(q("window=custom&from=2026-11-01&to=2026-11-30"))).toEqual({
      preset: "custom",
      from: "2026-11-01",
      to: "2026-11-30",
      bucket: "day",
      developer: null,
      model: null,
    });
    // One or two days: hours; over 120 days: weeks.
    expect(parseView(q("window=custom&from=2026-11-01&to=2026-11-01")).bucket).toBe("hour");
    expect(parseView(q("window=custom&from=2026-11-01&to=2026-11-02")).bucket).toBe("hour");
    expect(parseView(q("window=custom&from=2026-11-01&to=2026-11-03")).bucket).toBe("day");
    expect(parseView(q("window=custom&from=2026-01-01&to=2026-04-30")).bucket).toBe("day");
    expect(parseView(q("window=custom&from=2026-01-01&to=2026-05-01")).bucket).toBe("week");
  });

  it("falls back to the default window when a custom range is incomplete or malformed", () => {
    for (const query of [
      "window=custom",
      "window=custom&from=2026-11-01",
      "window=custom&to=2026-11-01",
      "window=custom&from=2026-11-1&to=2026-11-30",
      "window=custom&from=yesterday&to=2026-11-30",
      "from=2026-11-01&to=2026-11-30",
    ]) {
      expect(parseView(q(query)), query).toMatchObject({ preset: "30d", from: null, to: null, bucket: "day" });
    }
  });

  it("refuses days that do not exist, which would crash apiWindow or shift the range", () => {
    expect(parseView(q("window=custom&from=2026-13-01&to=2026-12-31")).preset).toBe("30d");
    expect(parseView(q("window=custom&from=2026-02-31&to=2026-03-05")).preset).toBe("30d");
    expect(parseView(q("window=custom&from=2026-02-01&to=2026-02-29")).preset).toBe("30d");
    expect(parseView(q("window=custom&from=2028-02-01&to=2028-02-29")).preset).toBe("custom");
  });

  it("refuses a range that ends before it starts", () => {
    expect(parseView(q("window=custom&from=2026-11-30&to=2026-11-01")).preset).toBe("30d");
  });

  it("reads the filters, empty values meaning none", () => {
    expect(parseView(q("developer=ada&model=gpt-4o"))).toMatchObject({ developer: "ada", model: "gpt-4o" });
    expect(parseView(q("developer=&model="))).toMatchObject({ developer: null, model: null });
  });
});

describe("viewQuery", () => {
  it("leaves defaults out, so the plain URL is the default view", () => {
    expect(written(parseView(q("")))).toBe("");
    expect(viewQuery(parseView(q("")))).toEqual({
      window: null,
      from: null,
      to: null,
      bucket: null,
      developer: null,
      model: null,
    });
  });

  it("writes what differs from the defaults", () => {
    expect(written(parseView(q("window=7d")))).toBe("window=7d");
    expect(written(parseView(q("window=24h&bucket=day")))).toBe("window=24h&bucket=day");
    expect(written(parseView(q("window=24h&bucket=hour")))).toBe("window=24h");
    expect(written(parseView(q("developer=ada&model=gpt-4o")))).toBe("developer=ada&model=gpt-4o");
  });

  it("round-trips every view through its URL", () => {
    for (const query of [
      "",
      "window=24h",
      "window=90d&bucket=week",
      "window=custom&from=2026-11-01&to=2026-11-01",
      "window=custom&from=2026-01-01&to=2026-06-30&bucket=day",
      "window=7d&developer=ada&model=claude-sonnet-4",
    ]) {
      const view = parseView(q(query));
      expect(parseView(q(written(view))), query).toEqual(view);
    }
  });
});

describe("apiWindow", () => {
  it("ends a preset at the next whole minute, so requests in one minute share a window", () => {
    const view = parseView(q("window=7d"));
    const window = apiWindow(view, new Date("2026-12-02T14:32:02.916Z"));
    expect(window).toEqual({ since: "2026-11-25T14:33:00.000Z", until: "2026-12-02T14:33:00.000Z" });
    expect(apiWindow(view, new Date("2026-12-02T14:32:59.999Z"))).toEqual(window);
  });

  it("covers the preset's length", () => {
    const now = new Date("2026-12-02T14:32:00Z");
    for (const [preset, days] of [["24h", 1], ["7d", 7], ["30d", 30], ["90d", 90]] as const) {
      const { since, until } = apiWindow(parseView(q(`window=${preset}`)), now);
      expect(Date.parse(until) - Date.parse(since)).toBe(days * 86_400_000);
    }
  });

  it("covers whole UTC days of a custom range, `to` included", () => {
    const view = parseView(q("window=custom&from=2026-11-01&to=2026-11-30"));
    expect(apiWindow(view, new Date("2026-12-02T14:32:00Z"))).toEqual({
      since: "2026-11-01T00:00:00Z",
      until: "2026-12-01T00:00:00.000Z",
    });
  });

  it("does not depend on the time for a custom range, across a year's end", () => {
    const view = parseView(q("window=custom&from=2026-12-31&to=2026-12-31"));
    const expected = { since: "2026-12-31T00:00:00Z", until: "2027-01-01T00:00:00.000Z" };
    expect(apiWindow(view, new Date("2026-06-01T00:00:00Z"))).toEqual(expected);
    expect(apiWindow(view, new Date("2030-06-01T00:00:00Z"))).toEqual(expected);
  });
});

describe("apiFilters", () => {
  it("sends only the filters that are set", () => {
    expect(apiFilters(parseView(q("")))).toEqual({});
    expect(apiFilters(parseView(q("developer=ada")))).toEqual({ developer: "ada" });
    expect(apiFilters(parseView(q("model=gpt-4o")))).toEqual({ model: "gpt-4o" });
    expect(apiFilters(parseView(q("developer=ada&model=gpt-4o")))).toEqual({ developer: "ada", model: "gpt-4o" });
  });
});

describe("defaultBucket", () => {
  it("uses hours up to two days, days up to 120, weeks beyond", () => {
    expect(defaultBucket(1)).toBe("hour");
    expect(defaultBucket(2)).toBe("hour");
    expect(defaultBucket(3)).toBe("day");
    expect(defaultBucket(120)).toBe("day");
    expect(defaultBucket(121)).toBe("week");
  });
});
