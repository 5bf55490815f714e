import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff";

const fixed = (value: number) => () => value;

describe("Backoff", () => {
  it("doubles the ceiling with each attempt up to the cap", () => {
    const backoff = new Backoff({ baseMs: 500, maxMs: 15_000, random: fixed(0.5) });
    const ceilings: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      ceilings.push(backoff.ceiling());
      backoff.next();
    }
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  it("waits between half the ceiling and the ceiling", () => {
    expect(new Backoff({ baseMs: 1000, maxMs: 10_000, random: fixed(0) }).next()).toBe(500);
    expect(new Backoff({ baseMs: 1000, maxMs: 10_000, random: fixed(0.5) }).next()).toBe(750);
    expect(new Backoff({ baseMs: 1000, maxMs: 10_000, random: fixed(0.999_999) }).next()).toBe(1000);
  });

  it("keeps every delay of a long run within its bounds, with real randomness", () => {
    const backoff = new Backoff({ baseMs: 500, maxMs: 15_000 });
    for (let i = 0; i < 200; i += 1) {
      const ceiling = backoff.ceiling();
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
      expect(delay).toBeLessThanOrEqual(15_000);
    }
  });

  it("stays at the cap after very many attempts", () => {
    const backoff = new Backoff({ baseMs: 500, maxMs: 15_000, random: fixed(1) });
    for (let i = 0; i < 2000; i += 1) backoff.next();
    expect(backoff.ceiling()).toBe(15_000);
    expect(backoff.next()).toBe(15_000);
  });

  it("spreads clients that dropped together", () => {
    const delays = [0, 0.25, 0.5, 0.75].map((r) => new Backoff({ baseMs: 4000, maxMs: 60_000, random: fixed(r) }).next());
    expect(delays).toEqual([2000, 2500, 3000, 3500]);
  });

  it("counts attempts and starts over after reset", () => {
    const backoff = new Backoff({ baseMs: 500, maxMs: 15_000, random: fixed(0) });
    expect(backoff.attempts).toBe(0);
    backoff.next();
    backoff.next();
    backoff.next();
    expect(backoff.attempts).toBe(3);
    expect(backoff.ceiling()).toBe(4000);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.ceiling()).toBe(500);
    expect(backoff.next()).toBe(250);
  });

  it("rounds delays to whole milliseconds", () => {
    const backoff = new Backoff({ baseMs: 333, maxMs: 10_000, random: fixed(0.3) });
    for (let i = 0; i < 6; i += 1) expect(Number.isInteger(backoff.next())).toBe(true);
  });

  it("never exceeds a cap below the base", () => {
    const backoff = new Backoff({ baseMs: 1000, maxMs: 300, random: fixed(0.999_999) });
    expect(backoff.ceiling()).toBe(300);
    expect(backoff.next()).toBe(300);
  });
});
