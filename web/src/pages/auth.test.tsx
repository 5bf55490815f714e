import { describe, expect, it } from "vitest";
import { ApiError } from "../api/problem";
import { FieldProblem, splitErrors } from "../components/form";
import { safeNext, tokenFromHash } from "./auth";

const ORIGIN = "https://prodlens.example";

describe("safeNext", () => {
  it("keeps a path of this site, with its query and fragment", () => {
    expect(safeNext("/projects/p1/sessions?sort=-cost#top", ORIGIN)).toBe("/projects/p1/sessions?sort=-cost#top");
  });

  it.each([
    [null],
    [""],
    ["projects"],
    ["https://evil.example/"],
    ["//evil.example/path"],
    ["/\\evil.example"],
    ["/\t/evil.example"],
    ["javascript:alert(1)"],
  ])("refuses %j", (raw) => {
    expect(safeNext(raw, ORIGIN)).toBe("/");
  });

  it("does not send a signed-in visitor back to the sign-in page", () => {
    expect(safeNext("/sign-in?next=%2F", ORIGIN)).toBe("/");
  });
});

describe("tokenFromHash", () => {
  it("reads the token of an email link", () => {
    expect(tokenFromHash("#token=jwWDG3D53Z_VoMUFjKdCylH7_cZtjj6fpgiijbwTvg8")).toBe(
      "jwWDG3D53Z_VoMUFjKdCylH7_cZtjj6fpgiijbwTvg8",
    );
  });

  it("is null without one", () => {
    expect(tokenFromHash("")).toBeNull();
    expect(tokenFromHash("#")).toBeNull();
    expect(tokenFromHash("#token=")).toBeNull();
    expect(tokenFromHash("#other=1")).toBeNull();
  });
});

function problem(status: number, code: string, extra: Partial<ConstructorParameters<typeof ApiError>[1]> = {}) {
  return new ApiError(status, { title: "Title", code, detail: "Detail", ...extra }, "corr-1");
}

describe("splitErrors", () => {
  const shown = ["email", "password"] as const;

  it("puts a coded problem under its field, with its detail", () => {
    const error = problem(422, "auth.weak_password", { detail: "This password is too common." });
    expect(splitErrors(error, shown, { "auth.weak_password": "password" })).toEqual({
      fields: { password: "This password is too common." },
      error: null,
    });
  });

  it("puts a 422's field errors under the shown fields", () => {
    const error = problem(422, "validation.failed", {
      errors: [{ field: "body.email", message: "Not an email address.", type: "value_error" }],
    });
    expect(splitErrors(error, shown)).toEqual({ fields: { email: "Not an email address." }, error: null });
  });

  it("keeps the general error when a field error concerns a field the form does not show", () => {
    const error = problem(422, "validation.failed", {
      errors: [
        { field: "body.email", message: "Not an email address.", type: "value_error" },
        { field: "body.device_name", message: "Too long.", type: "string_too_long" },
      ],
    });
    const split = splitErrors(error, shown);
    expect(split.fields).toEqual({ email: "Not an email address." });
    expect(split.error).toBe(error);
  });

  it("leaves other problems and failures general", () => {
    const error = problem(401, "auth.invalid_credentials");
    expect(splitErrors(error, shown)).toEqual({ fields: {}, error });
    const failure = new Error("boom");
    expect(splitErrors(failure, shown)).toEqual({ fields: {}, error: failure });
  });

  it("passes the page's own field problems through", () => {
    expect(splitErrors(new FieldProblem({ confirm: "The two passwords differ." }), shown)).toEqual({
      fields: { confirm: "The two passwords differ." },
      error: null,
    });
  });
});
