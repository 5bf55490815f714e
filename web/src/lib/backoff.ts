// Reconnect delays after a dropped socket: exponential, capped, with "equal" jitter
// (half the delay fixed, half random, so clients that dropped together spread out but
// none retries at once), reset once a connection has stayed up. Randomness is
// injected for the tests.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor({ baseMs, maxMs, random = Math.random }: BackoffOptions) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.random = random;
  }

  /** The ceiling of the next delay: base · 2^attempt, at most maxMs. */
  ceiling(): number {
    return Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
  }

  /** The delay before the next attempt (between half the ceiling and the ceiling). */
  next(): number {
    const ceiling = this.ceiling();
    this.attempt += 1;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
