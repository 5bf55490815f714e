import { describe, expect, it } from "vitest";
import { coveredDays, exportUrl } from "./exports";

describe("export links", () => {
  it("builds the route's URL with the set parameters", () => {
    const url = exportUrl("/api/v1/projects/{project_id}/exports/events", "a b", {
      since: "2026-11-02T00:00:00Z",
      until: "2026-12-03T00:00:00Z",
      format: "parquet",
    });
    expect(url).toBe(
      "/api/v1/projects/a%20b/exports/events?since=2026-11-02T00%3A00%3A00Z&until=2026-12-03T00%3A00%3A00Z&format=parquet",
    );
  });

  it("names the UTC days a window touches, the exclusive end left out", () => {
    expect(coveredDays({ since: "2026-11-02T00:00:00Z", until: "2026-12-03T00:00:00.000Z" })).toEqual({
      first: "2026-11-02",
      last: "2026-12-02",
    });
    expect(coveredDays({ since: "2026-11-02T14:01:00.000Z", until: "2026-12-02T14:01:00.000Z" })).toEqual({
      first: "2026-11-02",
      last: "2026-12-02",
    });
  });
});
