// The live feed of one project (docs/realtime.md): one WebSocket to /api/v1/ws, signed
// in by the page's access cookie, subscribed to the project. It answers the server's
// pings, watches the channel's sequence numbers, and reconnects with backoff after a
// drop. Whenever messages may have been missed (a new subscription, a gap in `seq`)
// it says so, and the page refetches over REST what it shows.
//
// The socket logic is the plain class `ProjectFeed` (its socket constructor, timers and
// clock are injected, so the tests drive it with fakes); `useProjectFeed` ties it to a
// component.
import { useEffect, useRef, useState } from "preact/hooks";
import { refreshSession } from "../api/client";
import type { components } from "../api/schema";
import { Backoff } from "./backoff";

export type LiveStatus = "connecting" | "live" | "reconnecting" | "offline";

export type KpiReport = components["schemas"]["KpiReport"];
export type LiveSession = components["schemas"]["LlmSessionPublic"];

/** The `data` of an `events` message: one ingest batch, summed (docs/realtime.md). */
export interface EventsBatch {
  project_id: string;
  source: string;
  received: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  errors: number;
  total_tokens: number;
  cost_usd: number;
  developers: number;
}

/**
 * Why the page should refetch: `subscribed` is the first subscription of the page (what
 * changed between its REST reads and the subscription is unknown), `resubscribed` one
 * after a reconnect, `gap` a jump in the channel's sequence numbers.
 */
export type ResyncReason = "subscribed" | "resubscribed" | "gap";

export interface FeedHandlers {
  onEvents?: (batch: EventsBatch) => void;
  onSession?: (session: LiveSession) => void;
  onKpis?: (report: KpiReport) => void;
  onResync?: (reason: ResyncReason) => void;
}

/** The part of the browser's WebSocket the feed uses, so tests can pass a fake. */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export interface FeedOptions {
  url: string;
  /** The project's id or slug. */
  project: string;
  handlers: FeedHandlers;
  onStatus: (status: LiveStatus) => void;
  socket?: SocketFactory;
  timers?: Timers;
  backoff?: Backoff;
  /**
   * Renews the access cookie after the server refused the socket as unauthenticated
   * (the cookie lives 30 minutes; a socket reopened later needs a fresh one).
   * Resolves whether it worked.
   */
  refresh?: () => Promise<boolean>;
}

/** Close codes of docs/realtime.md the feed acts on. */
const CLOSE = {
  normal: 1000,
  protocolError: 4400,
  unauthenticated: 4401,
  forbidden: 4403,
  sessionRevoked: 4409,
  tooBig: 4413,
} as const;

// Closes that another attempt cannot fix: a client bug or a refused origin.
const FINAL_CLOSES = new Set<number>([CLOSE.protocolError, CLOSE.forbidden, CLOSE.tooBig]);
// Closes that mean "sign in again": renew the cookie once, then try again.
const AUTH_CLOSES = new Set<number>([CLOSE.unauthenticated, CLOSE.sessionRevoked]);

/** A connection that stayed subscribed this long was healthy: backoff starts over. */
export const STABLE_MS = 10_000;
/** After this many failed attempts in a row the page says "Offline" (it still retries). */
export const OFFLINE_AFTER = 4;
/** Server pings come every `ping_seconds`; silence for this many of them means a dead link. */
const SILENCE_PINGS = 2.5;
const DEFAULT_PING_SECONDS = 20;
const SUBSCRIBE_REF = "subscribe";

const browserTimers: Timers = {
  setTimeout: (callback, ms) => window.setTimeout(callback, ms),
  clearTimeout: (handle) => window.clearTimeout(handle as number),
  now: () => Date.now(),
};

type Message = { type: string } & Record<string, unknown>;

function parse(text: unknown): Message | null {
  if (typeof text !== "string") return null;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && typeof (value as Message).type === "string") {
      return value as Message;
    }
  } catch {
    // Not JSON: the server never sends that; ignore rather than break the feed.
  }
  return null;
}

export class ProjectFeed {
  private readonly options: FeedOptions;
  private readonly timers: Timers;
  private readonly backoff: Backoff;
  private readonly factory: SocketFactory;
  private socket: SocketLike | null = null;
  private status: LiveStatus | null = null;
  private stopped = true;
  private subscribedOnce = false;
  private subscribedAt: number | null = null;
  private lastSeq: number | null = null;
  private pingSeconds = DEFAULT_PING_SECONDS;
  private retryTimer: unknown = null;
  private silenceTimer: unknown = null;
  /** Why the server said it would close (its `bye`), in case the close event lost it. */
  private byeCode: number | null = null;
  private authRetried = false;

  constructor(options: FeedOptions) {
    this.options = options;
    this.timers = options.timers ?? browserTimers;
    this.backoff = options.backoff ?? new Backoff({ baseMs: 500, maxMs: 15_000 });
    this.factory = options.socket ?? ((url) => new WebSocket(url));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.setStatus("connecting");
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      this.detach(socket);
      socket.close(CLOSE.normal, "page closed");
    }
    this.setStatus("offline");
  }

  private connect(): void {
    this.byeCode = null;
    this.lastSeq = null;
    this.subscribedAt = null;
    let socket: SocketLike;
    try {
      socket = this.factory(this.options.url);
    } catch {
      // An unparsable URL or a blocked scheme: nothing to retry.
      this.giveUp();
      return;
    }
    this.socket = socket;
    socket.onmessage = (event) => this.receive(parse(event.data));
    // An error is always followed by a close, which does the work.
    socket.onclose = (event) => this.closed(socket, event.code);
    socket.onopen = () => this.listen();
  }

  private send(message: Record<string, unknown>): void {
    this.socket?.send(JSON.stringify({ v: 1, ...message }));
  }

  private receive(message: Message | null): void {
    if (!message) return;
    if (message.type === "welcome" && typeof message.ping_seconds === "number" && message.ping_seconds > 0) {
      this.pingSeconds = message.ping_seconds;
    }
    this.listen();
    switch (message.type) {
      case "welcome":
        this.send({ type: "subscribe", project: this.options.project, ref: SUBSCRIBE_REF });
        return;
      case "subscribed":
        this.subscribed();
        return;
      case "ping":
        this.send({ type: "pong" });
        return;
      case "unsubscribed":
        // `access revoked`: removed from the project, or it was deleted.
        this.giveUp();
        return;
      case "error":
        // A refused subscription (no such project, no access) will not change on retry;
        // other errors answer messages the feed does not send.
        if (message.ref === SUBSCRIBE_REF) this.giveUp();
        return;
      case "bye":
        if (typeof message.code === "number") this.byeCode = message.code;
        return;
      case "events":
      case "session":
      case "kpis":
        this.channelMessage(message);
        return;
      default:
        // `pong`, or a type of a newer protocol version.
        return;
    }
  }

  private subscribed(): void {
    this.subscribedAt = this.timers.now();
    this.authRetried = false;
    const reason: ResyncReason = this.subscribedOnce ? "resubscribed" : "subscribed";
    this.subscribedOnce = true;
    this.setStatus("live");
    this.options.handlers.onResync?.(reason);
  }

  private channelMessage(message: Message): void {
    const seq = typeof message.seq === "number" ? message.seq : null;
    if (seq !== null) {
      const gap = this.lastSeq !== null && seq !== this.lastSeq + 1;
      this.lastSeq = seq;
      if (gap) this.options.handlers.onResync?.("gap");
    }
    const data = message.data;
    if (typeof data !== "object" || data === null) return;
    const { handlers } = this.options;
    if (message.type === "events") handlers.onEvents?.(data as EventsBatch);
    else if (message.type === "session") handlers.onSession?.(data as LiveSession);
    else handlers.onKpis?.(data as KpiReport);
  }

  /** (Re)start the silence watchdog: a link that died without a close never tells. */
  private listen(): void {
    if (this.silenceTimer !== null) this.timers.clearTimeout(this.silenceTimer);
    this.silenceTimer = this.timers.setTimeout(() => {
      this.silenceTimer = null;
      const socket = this.socket;
      if (!socket) return;
      this.detach(socket);
      socket.close(CLOSE.normal, "silent");
      this.closed(socket, 1006);
    }, this.pingSeconds * SILENCE_PINGS * 1000);
  }

  private closed(socket: SocketLike, eventCode: number): void {
    if (socket !== this.socket || this.stopped) return;
    this.detach(socket);
    this.socket = null;
    this.clearTimers();
    // A close without a handshake (1006) may follow a `bye` that said why.
    const code = eventCode === 1006 && this.byeCode !== null ? this.byeCode : eventCode;
    if (FINAL_CLOSES.has(code)) {
      this.giveUp();
      return;
    }
    if (this.subscribedAt !== null && this.timers.now() - this.subscribedAt >= STABLE_MS) this.backoff.reset();
    if (AUTH_CLOSES.has(code)) {
      this.renewThenRetry();
      return;
    }
    this.retry();
  }

  private renewThenRetry(): void {
    // One renewal per run of failures: if the new cookie is refused too, the session
    // is over and the app's next REST call takes the user to sign-in.
    if (this.authRetried || !this.options.refresh) {
      this.giveUp();
      return;
    }
    this.authRetried = true;
    this.setStatus("reconnecting");
    this.options.refresh().then(
      (renewed) => {
        if (this.stopped) return;
        if (renewed) this.retry();
        else this.giveUp();
      },
      () => {
        if (!this.stopped) this.giveUp();
      },
    );
  }

  private retry(): void {
    const delay = this.backoff.next();
    this.setStatus(this.backoff.attempts > OFFLINE_AFTER ? "offline" : "reconnecting");
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  private giveUp(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      this.detach(socket);
      socket.close(CLOSE.normal, "giving up");
    }
    this.setStatus("offline");
  }

  private detach(socket: SocketLike): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    if (this.silenceTimer !== null) this.timers.clearTimeout(this.silenceTimer);
    this.retryTimer = null;
    this.silenceTimer = null;
  }

  private setStatus(status: LiveStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.options.onStatus(status);
  }
}

/** The socket's address on the page's own server: ws: beside http:, wss: beside https:. */
export function feedUrl(origin: string): string {
  return `${origin.replace(/^http/, "ws")}/api/v1/ws`;
}

/**
 * Follows a project while the component is mounted; the handlers may change on every
 * render without reconnecting. Returns the connection's state for the indicator.
 */
export function useProjectFeed(projectId: string, handlers: FeedHandlers): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>("connecting");
  const current = useRef(handlers);
  current.current = handlers;
  useEffect(() => {
    const feed = new ProjectFeed({
      url: feedUrl(window.location.origin),
      project: projectId,
      onStatus: setStatus,
      refresh: refreshSession,
      handlers: {
        onEvents: (batch) => current.current.onEvents?.(batch),
        onSession: (session) => current.current.onSession?.(session),
        onKpis: (report) => current.current.onKpis?.(report),
        onResync: (reason) => current.current.onResync?.(reason),
      },
    });
    feed.start();
    return () => feed.stop();
  }, [projectId]);
  return status;
}

/**
 * Runs `task` once for a burst of triggers: `delayMs` after the first of them, and
 * never sooner than `minGapMs` after the previous run, so a busy feed costs at most one
 * refetch per gap however many messages it brings.
 */
export class Coalescer {
  private timer: unknown = null;
  private lastRun = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly task: () => void,
    private readonly delayMs: number,
    private readonly minGapMs: number,
    private readonly timers: Timers = browserTimers,
  ) {}

  trigger(): void {
    if (this.timer !== null) return;
    const wait = Math.max(this.delayMs, this.lastRun + this.minGapMs - this.timers.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.lastRun = this.timers.now();
      this.task();
    }, wait);
  }

  cancel(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}

/** A Coalescer for a component: the latest `task` runs; pending runs end with it. */
export function useCoalescer(task: () => void, delayMs: number, minGapMs: number): Coalescer {
  const latest = useRef(task);
  latest.current = task;
  const [coalescer] = useState(() => new Coalescer(() => latest.current(), delayMs, minGapMs));
  useEffect(() => () => coalescer.cancel(), [coalescer]);
  return coalescer;
}
