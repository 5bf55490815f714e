import { describe, expect, it } from "vitest";
import { nextSort, parseSort, sortToken } from "../components/table";
import { cursorScope, parseSessionsQuery, sessionPages, sessionsApiQuery } from "./sessions";

const location = (search: string) => ({ path: "/projects/p/sessions", query: new URLSearchParams(search) });
const NOW = new Date("2026-12-02T14:00:30Z");

describe("sorts", () => {
  const keys = ["started_at", "cost"] as const;
  const fallback = { key: "started_at", descending: true } as const;

  it("reads API sort tokens and falls back on unknown keys", () => {
    expect(parseSort("-cost", keys, fallback)).toEqual({ key: "cost", descending: true });
    expect(parseSort("cost", keys, fallback)).toEqual({ key: "cost", descending: false });
    expect(parseSort("-bogus", keys, fallback)).toBe(fallback);
    expect(parseSort(null, keys, fallback)).toBe(fallback);
    expect(sortToken({ key: "cost", descending: true })).toBe("-cost");
  });

  it("flips the sorted column and starts others in their natural direction", () => {
    expect(nextSort({ key: "cost", descending: true }, "cost", true)).toEqual({ key: "cost", descending: false });
    expect(nextSort({ key: "cost", descending: false }, "started_at", true)).toEqual({ key: "started_at", descending: true });
    expect(nextSort({ key: "cost", descending: true }, "name", false)).toEqual({ key: "name", descending: false });
  });
});

describe("the sessions query", () => {
  it("reads filters, sort and paging from the URL", () => {
    const state = parseSessionsQuery(new URLSearchParams("accepted=false&status=error&sort=tokens&page=3&page_size=50"));
    expect(state).toEqual({
      accepted: false,
      status: "error",
      sort: { key: "tokens", descending: false },
      cursor: null,
      page: 3,
      pageSize: 50,
    });
  });

  it("ignores values the API would refuse", () => {
    const state = parseSessionsQuery(new URLSearchParams("accepted=maybe&status=warn&page=-2&page_size=37"));
    expect(state.accepted).toBeNull();
    expect(state.status).toBeNull();
    expect(state.page).toBe(1);
    expect(state.pageSize).toBe(20);
  });

  it("sends the page in page mode and the cursor alone in cursor mode", () => {
    const paged = sessionsApiQuery(new URLSearchParams("developer=ana&accepted=true&page=2"), NOW);
    expect(paged).toMatchObject({ developer: "ana", accepted: true, page: 2, page_size: 20, sort: "-started_at" });
    expect(paged.cursor).toBeUndefined();
    expect(paged.until).toBe("2026-12-02T14:01:00.000Z");
    const keyset = sessionsApiQuery(new URLSearchParams("cursor=abc&page=4"), NOW);
    expect(keyset.cursor).toBe("abc");
    expect(keyset.page).toBeUndefined();
  });

  it("leaves paging out of the cursor's scope", () => {
    expect(cursorScope(new URLSearchParams("model=m&cursor=abc&page=3&developer=d"))).toBe(
      cursorScope(new URLSearchParams("developer=d&model=m")),
    );
    expect(cursorScope(new URLSearchParams("developer=d"))).not.toBe(cursorScope(new URLSearchParams("developer=e")));
  });
});

describe("session pages", () => {
  it("goes forward by cursor and back by page number", () => {
    const here = location("status=error&cursor=abc&page=3");
    const state = parseSessionsQuery(here.query);
    const { previous, next } = sessionPages(here, state, { next_cursor: "def" });
    expect(next).toBe("/projects/p/sessions?status=error&cursor=def&page=4");
    expect(previous).toBe("/projects/p/sessions?status=error&page=2");
  });

  it("has no previous page on the first and no next one on the last", () => {
    const here = location("page=2&cursor=abc");
    const state = parseSessionsQuery(here.query);
    const { previous, next } = sessionPages(here, state, { next_cursor: null });
    expect(previous).toBe("/projects/p/sessions");
    expect(next).toBeNull();
    expect(sessionPages(location(""), parseSessionsQuery(new URLSearchParams()), { next_cursor: null }).previous).toBeNull();
  });
});
