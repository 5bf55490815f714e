import { beforeEach, describe, expect, it, vi } from "vitest";
import { Backoff } from "./backoff";
import {
  Coalescer,
  type FeedHandlers,
  feedUrl,
  type LiveStatus,
  OFFLINE_AFTER,
  ProjectFeed,
  type SocketLike,
  STABLE_MS,
  type Timers,
} from "./live";

/** Timers on a clock the test moves by hand. */
class FakeClock implements Timers {
  time = 0;
  private nextId = 1;
  private readonly tasks = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): number {
    const id = this.nextId++;
    this.tasks.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.tasks.delete(handle as number);
  }

  now(): number {
    return this.time;
  }

  /** Move the clock on, running every task that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.tasks.entries()].filter(([, task]) => task.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.tasks.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
  }

  get pending(): number {
    return this.tasks.size;
  }
}

class FakeSocket implements SocketLike {
  readonly sent: Record<string, unknown>[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  // What the server does:
  open(): void {
    this.onopen?.(new Event("open"));
  }

  receive(message: unknown): void {
    this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) } as MessageEvent);
  }

  drop(code: number): void {
    this.onclose?.({ code } as CloseEvent);
  }

  /** The usual handshake of a cookie-authenticated socket. */
  handshake(pingSeconds = 20): void {
    this.open();
    this.receive({ type: "welcome", v: 1, ping_seconds: pingSeconds, idle_seconds: 60 });
    this.receive({ type: "subscribed", v: 1, ref: "subscribe", channel: "project:p1", project: { id: "p1" } });
  }
}

const URL = "ws://dash.example/api/v1/ws";

function channel(type: "events" | "session" | "kpis", seq: number, data: unknown) {
  return { type, v: 1, channel: "project:p1", seq, sent: 0, data };
}

function setup(options: { refresh?: () => Promise<boolean> } = {}) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const statuses: LiveStatus[] = [];
  const handlers = {
    onEvents: vi.fn(),
    onSession: vi.fn(),
    onKpis: vi.fn(),
    onResync: vi.fn(),
  } satisfies FeedHandlers;
  const feed = new ProjectFeed({
    url: URL,
    project: "demo",
    handlers,
    onStatus: (status) => statuses.push(status),
    socket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    timers: clock,
    // No randomness: each delay is half its ceiling (250, 500, 1000, … ms).
    backoff: new Backoff({ baseMs: 500, maxMs: 15_000, random: () => 0 }),
    ...(options.refresh ? { refresh: options.refresh } : {}),
  });
  const last = () => sockets[sockets.length - 1]!;
  return { clock, sockets, statuses, handlers, feed, last };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("ProjectFeed: connecting", () => {
  it("opens one socket, subscribes after the welcome and is live once subscribed", () => {
    const { feed, sockets, statuses, handlers, last } = setup();
    feed.start();
    expect(sockets).toHaveLength(1);
    expect(last().url).toBe(URL);
    expect(statuses).toEqual(["connecting"]);

    last().open();
    expect(last().sent).toEqual([]);
    last().receive({ type: "welcome", v: 1, ping_seconds: 20 });
    expect(last().sent).toEqual([{ v: 1, type: "subscribe", project: "demo", ref: "subscribe" }]);
    expect(statuses).toEqual(["connecting"]);

    last().receive({ type: "subscribed", v: 1, ref: "subscribe", channel: "project:p1" });
    expect(statuses).toEqual(["connecting", "live"]);
    // The page's first REST reads may predate the subscription.
    expect(handlers.onResync).toHaveBeenCalledWith("subscribed");
  });

  it("starts once, however often start() is called", () => {
    const { feed, sockets } = setup();
    feed.start();
    feed.start();
    expect(sockets).toHaveLength(1);
  });

  it("answers the server's pings", () => {
    const { feed, last } = setup();
    feed.start();
    last().handshake();
    last().receive({ type: "ping", v: 1, t: 123 });
    expect(last().sent.at(-1)).toEqual({ v: 1, type: "pong" });
  });

  it("ignores frames that are not messages, and types it does not know", () => {
    const { feed, last, handlers, statuses } = setup();
    feed.start();
    last().handshake();
    last().receive("not json");
    last().receive("[1, 2]");
    last().receive({ no: "type" });
    last().receive({ type: "pong", v: 1 });
    last().receive({ type: "something-new", v: 2 });
    last().receive({ type: "error", v: 1, code: "realtime.unknown_type", detail: "…" });
    expect(statuses).toEqual(["connecting", "live"]);
    expect(handlers.onEvents).not.toHaveBeenCalled();
  });
});

describe("ProjectFeed: channel messages", () => {
  it("hands each message's data to its handler", () => {
    const { feed, last, handlers } = setup();
    feed.start();
    last().handshake();
    const batch = { project_id: "p1", accepted: 2, errors: 0, total_tokens: 10, cost_usd: 0.1 };
    const session = { session_id: "s1", events: 2 };
    const report = { project_id: "p1", kpis: [] };
    last().receive(channel("events", 1, batch));
    last().receive(channel("session", 2, session));
    last().receive(channel("kpis", 3, report));
    expect(handlers.onEvents).toHaveBeenCalledWith(batch);
    expect(handlers.onSession).toHaveBeenCalledWith(session);
    expect(handlers.onKpis).toHaveBeenCalledWith(report);
    // Consecutive numbers: nothing was missed after the subscription.
    expect(handlers.onResync).toHaveBeenCalledTimes(1);
  });

  it("asks for a refetch when the sequence jumps, and still delivers the message", () => {
    const { feed, last, handlers } = setup();
    feed.start();
    last().handshake();
    last().receive(channel("events", 7, { accepted: 1 }));
    last().receive(channel("events", 8, { accepted: 1 }));
    handlers.onResync.mockClear();
    last().receive(channel("events", 11, { accepted: 3 }));
    expect(handlers.onResync).toHaveBeenCalledWith("gap");
    expect(handlers.onEvents).toHaveBeenLastCalledWith({ accepted: 3 });
    last().receive(channel("session", 12, { session_id: "s" }));
    expect(handlers.onResync).toHaveBeenCalledTimes(1);
  });

  it("treats a restart of the numbering as a gap", () => {
    const { feed, last, handlers } = setup();
    feed.start();
    last().handshake();
    last().receive(channel("kpis", 41, {}));
    handlers.onResync.mockClear();
    last().receive(channel("kpis", 1, {}));
    expect(handlers.onResync).toHaveBeenCalledWith("gap");
  });

  it("skips messages without data", () => {
    const { feed, last, handlers } = setup();
    feed.start();
    last().handshake();
    last().receive({ type: "events", v: 1, seq: 1 });
    last().receive({ type: "kpis", v: 1, seq: 2, data: null });
    expect(handlers.onEvents).not.toHaveBeenCalled();
    expect(handlers.onKpis).not.toHaveBeenCalled();
  });
});

describe("ProjectFeed: reconnecting", () => {
  it("reconnects after a drop, subscribes again and asks for a refetch", () => {
    const { feed, clock, sockets, statuses, handlers, last } = setup();
    feed.start();
    last().handshake();
    last().receive(channel("events", 5, {}));
    last().drop(1006);
    expect(statuses.at(-1)).toBe("reconnecting");
    expect(sockets).toHaveLength(1);

    clock.advance(249);
    expect(sockets).toHaveLength(1);
    clock.advance(1);
    expect(sockets).toHaveLength(2);

    handlers.onResync.mockClear();
    last().handshake();
    expect(statuses.at(-1)).toBe("live");
    expect(handlers.onResync).toHaveBeenCalledWith("resubscribed");
    // The numbering is followed afresh: the refetch covers what came in between.
    last().receive(channel("events", 9, {}));
    expect(handlers.onResync).toHaveBeenCalledTimes(1);
  });

  it("waits longer after each failed attempt, up to the cap", () => {
    const { feed, clock, sockets, last } = setup();
    feed.start();
    const waits: number[] = [];
    for (let attempt = 0; attempt < 8; attempt += 1) {
      last().drop(1006);
      const before = sockets.length;
      let waited = 0;
      while (sockets.length === before) {
        clock.advance(50);
        waited += 50;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 7500, 7500, 7500]);
  });

  it("starts the delays over after a connection that stayed up", () => {
    const { feed, clock, sockets, last } = setup();
    feed.start();
    for (let i = 0; i < 3; i += 1) {
      last().drop(1006);
      clock.advance(10_000);
    }
    expect(sockets).toHaveLength(4);
    last().handshake();
    clock.advance(STABLE_MS);
    last().receive({ type: "ping", v: 1 });
    last().drop(1001);
    clock.advance(250);
    expect(sockets).toHaveLength(5);
  });

  it("keeps the delays growing when connections fail right after subscribing", () => {
    const { feed, clock, sockets, last } = setup();
    feed.start();
    last().handshake();
    last().drop(4430);
    clock.advance(250);
    last().handshake();
    last().drop(4430);
    clock.advance(250);
    expect(sockets).toHaveLength(2);
    clock.advance(250);
    expect(sockets).toHaveLength(3);
  });

  it("says Offline after several failures in a row, and keeps trying", () => {
    const { feed, clock, sockets, statuses, last } = setup();
    feed.start();
    for (let i = 0; i < OFFLINE_AFTER; i += 1) {
      last().drop(1006);
      expect(statuses.at(-1)).toBe("reconnecting");
      clock.advance(15_000);
    }
    last().drop(1006);
    expect(statuses.at(-1)).toBe("offline");
    clock.advance(15_000);
    expect(sockets).toHaveLength(OFFLINE_AFTER + 2);
    last().handshake();
    expect(statuses.at(-1)).toBe("live");
  });

  it("closes a silent socket and reconnects: a dead link may never report a close", () => {
    const { feed, clock, sockets, statuses, last } = setup();
    feed.start();
    last().handshake(10);
    // Pings keep it alive…
    clock.advance(20_000);
    last().receive({ type: "ping", v: 1 });
    clock.advance(20_000);
    expect(sockets).toHaveLength(1);
    // …2.5 ping intervals of silence do not.
    clock.advance(5_000);
    expect(sockets[0]!.closedWith).not.toBeNull();
    expect(statuses.at(-1)).toBe("reconnecting");
    clock.advance(250);
    expect(sockets).toHaveLength(2);
  });

  it("uses the default ping interval before the welcome", () => {
    const { feed, clock, sockets, last } = setup();
    feed.start();
    last().open();
    clock.advance(49_999);
    expect(sockets[0]!.closedWith).toBeNull();
    clock.advance(1);
    expect(sockets[0]!.closedWith).not.toBeNull();
  });
});

describe("ProjectFeed: refusals", () => {
  it("gives up on a foreign origin, a protocol error or a too big message", () => {
    for (const code of [4403, 4400, 4413]) {
      const { feed, clock, sockets, statuses, last } = setup();
      feed.start();
      last().drop(code);
      clock.advance(60_000);
      expect(sockets, String(code)).toHaveLength(1);
      expect(statuses.at(-1)).toBe("offline");
    }
  });

  it("reads the reason from a bye when the close itself lost it", () => {
    const { feed, clock, sockets, statuses, last } = setup();
    feed.start();
    last().open();
    last().receive({ type: "bye", v: 1, code: 4403, reason: "forbidden", detail: "…" });
    last().drop(1006);
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
    expect(statuses.at(-1)).toBe("offline");
  });

  it("renews the cookie once when refused as unauthenticated, then reconnects", async () => {
    const refresh = vi.fn(() => Promise.resolve(true));
    const { feed, clock, sockets, statuses, last } = setup({ refresh });
    feed.start();
    last().drop(4401);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(statuses.at(-1)).toBe("reconnecting");
    await settle();
    clock.advance(250);
    expect(sockets).toHaveLength(2);
    last().handshake();
    expect(statuses.at(-1)).toBe("live");

    // A later expiry is renewed again: the count starts over once subscribed.
    last().drop(4401);
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it("goes offline when the renewed cookie is refused too", async () => {
    const refresh = vi.fn(() => Promise.resolve(true));
    const { feed, clock, sockets, statuses, last } = setup({ refresh });
    feed.start();
    last().drop(4401);
    await settle();
    clock.advance(250);
    last().drop(4409);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(statuses.at(-1)).toBe("offline");
    clock.advance(60_000);
    expect(sockets).toHaveLength(2);
  });

  it("goes offline when the session cannot be renewed", async () => {
    const { feed, clock, sockets, statuses, last } = setup({ refresh: () => Promise.resolve(false) });
    feed.start();
    last().drop(4409);
    await settle();
    expect(statuses.at(-1)).toBe("offline");
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("goes offline without a way to renew", () => {
    const { feed, statuses, last } = setup();
    feed.start();
    last().drop(4401);
    expect(statuses.at(-1)).toBe("offline");
  });

  it("gives up when the subscription is refused", () => {
    const { feed, clock, sockets, statuses, last } = setup();
    feed.start();
    last().open();
    last().receive({ type: "welcome", v: 1 });
    last().receive({ type: "error", v: 1, ref: "subscribe", code: "projects.not_found", detail: "No such project." });
    expect(statuses.at(-1)).toBe("offline");
    expect(last().closedWith?.code).toBe(1000);
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("gives up when access to the project is revoked", () => {
    const { feed, statuses, last } = setup();
    feed.start();
    last().handshake();
    last().receive({ type: "unsubscribed", v: 1, channel: "project:p1", reason: "access revoked" });
    expect(statuses.at(-1)).toBe("offline");
  });
});

describe("ProjectFeed: stop", () => {
  it("closes the socket and neither reconnects nor delivers afterwards", () => {
    const { feed, clock, sockets, statuses, handlers, last } = setup();
    feed.start();
    last().handshake();
    const socket = last();
    feed.stop();
    expect(socket.closedWith).toEqual({ code: 1000, reason: "page closed" });
    expect(statuses.at(-1)).toBe("offline");
    socket.drop(1000);
    socket.receive(channel("events", 1, {}));
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
    expect(handlers.onEvents).not.toHaveBeenCalled();
    expect(clock.pending).toBe(0);
  });

  it("cancels a pending reconnect", () => {
    const { feed, clock, sockets, last } = setup();
    feed.start();
    last().drop(1006);
    feed.stop();
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("ignores a late renewal answer after stopping", async () => {
    let answer: (renewed: boolean) => void = () => {};
    const refresh = () => new Promise<boolean>((resolve) => (answer = resolve));
    const { feed, clock, sockets, last } = setup({ refresh });
    feed.start();
    last().drop(4401);
    feed.stop();
    answer(true);
    await settle();
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
  });
});

describe("feedUrl", () => {
  it("uses ws beside http and wss beside https", () => {
    expect(feedUrl("http://127.0.0.1:8000")).toBe("ws://127.0.0.1:8000/api/v1/ws");
    expect(feedUrl("https://prodlens.example.com")).toBe("wss://prodlens.example.com/api/v1/ws");
  });
});

describe("Coalescer", () => {
  let clock: FakeClock;
  let runs: number;
  let coalescer: Coalescer;
  beforeEach(() => {
    clock = new FakeClock();
    clock.time = 100_000;
    runs = 0;
    coalescer = new Coalescer(() => (runs += 1), 300, 5_000, clock);
  });

  it("runs once, a delay after the first of a burst of triggers", () => {
    coalescer.trigger();
    clock.advance(200);
    coalescer.trigger();
    coalescer.trigger();
    clock.advance(99);
    expect(runs).toBe(0);
    clock.advance(1);
    expect(runs).toBe(1);
    clock.advance(60_000);
    expect(runs).toBe(1);
  });

  it("keeps runs apart by the minimum gap", () => {
    coalescer.trigger();
    clock.advance(300);
    expect(runs).toBe(1);
    clock.advance(1_000);
    coalescer.trigger();
    clock.advance(3_999);
    expect(runs).toBe(1);
    clock.advance(1);
    expect(runs).toBe(2);
  });

  it("waits only the delay once the gap has passed", () => {
    coalescer.trigger();
    clock.advance(300);
    clock.advance(10_000);
    coalescer.trigger();
    clock.advance(300);
    expect(runs).toBe(2);
  });

  it("drops a pending run when cancelled", () => {
    coalescer.trigger();
    coalescer.cancel();
    clock.advance(10_000);
    expect(runs).toBe(0);
    coalescer.trigger();
    clock.advance(300);
    expect(runs).toBe(1);
  });
});
