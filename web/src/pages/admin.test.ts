import { describe, expect, it } from "vitest";
import { auditQuery, detailsText, formatResetIn, parseBudget, usersQuery } from "./admin";

describe("usersQuery", () => {
  it("passes the URL's filters, sort and page to the API", () => {
    const query = usersQuery(new URLSearchParams("search=%20ada%20&role=admin&tier=premium&active=false&sort=username&page=3"));
    expect(query).toEqual({ search: "ada", role: "admin", tier: "premium", active: false, sort: "username", page: 3, page_size: 20 });
  });

  it("leaves out what the API would refuse", () => {
    const query = usersQuery(new URLSearchParams("role=owner&tier=gold&active=maybe&sort=password&page=0"));
    expect(query).toEqual({
      search: undefined,
      role: undefined,
      tier: undefined,
      active: undefined,
      sort: "-created_at",
      page: 1,
      page_size: 20,
    });
  });
});

describe("auditQuery", () => {
  it("turns the days of the URL into the API's window, the last day included", () => {
    const query = auditQuery(new URLSearchParams("event=login.failure&user=u1&from=2026-11-01&to=2026-11-30&sort=event_type"));
    expect(query).toMatchObject({
      event_type: "login.failure",
      user_id: "u1",
      since: "2026-11-01T00:00:00Z",
      until: "2026-12-01T00:00:00.000Z",
      sort: "event_type",
      page: 1,
    });
  });

  it("ignores malformed days and keeps newest first", () => {
    const query = auditQuery(new URLSearchParams("from=yesterday&to=2026-13-45"));
    expect(query.since).toBeUndefined();
    expect(query.until).toBeUndefined();
    expect(query.sort).toBe("-occurred_at");
  });
});

describe("detailsText", () => {
  it("prints details as key=value pairs", () => {
    expect(detailsText({ from: "free", to: "basic", scopes: ["ingest"] })).toBe('from=free to=basic scopes=["ingest"]');
    expect(detailsText({})).toBe("");
  });
});

describe("parseBudget", () => {
  it("reads a whole number of requests, or unlimited", () => {
    expect(parseBudget("500", false)).toBe(500);
    expect(parseBudget("", true)).toBeNull();
    expect(parseBudget("12", true)).toBeNull();
  });

  it("is NaN for anything the API refuses", () => {
    for (const text of ["", "0", "2.5", "-3", "10000001", "lots"]) expect(parseBudget(text, false)).toBeNaN();
  });
});

describe("formatResetIn", () => {
  it("says seconds, minutes or hours", () => {
    expect(formatResetIn(42)).toBe("42 s");
    expect(formatResetIn(720)).toBe("12 min");
    expect(formatResetIn(5400)).toBe("1.5 h");
  });
});
