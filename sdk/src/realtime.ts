import type { AYB } from "./client.js";
import { ApiError } from "./errors.js";

/** One change, as the stream sends it. `leave` events have no `id`. */
export interface ChangeEvent<T = Record<string, unknown>> {
  id?: number;
  table: string;
  op: "insert" | "update" | "delete" | "leave";
  pk: Record<string, unknown>;
  record?: T;
  old_record?: T;
  committed_at?: string;
}

export interface SubscribeOptions {
  /** A REST filter per table: `{ notes: "done = false" }`. */
  filter?: Record<string, string>;
  /** Resume after this event id (every later event arrives once, in order). */
  lastEventId?: number;
  /** Events were pruned while away; the stream goes on from what is kept. */
  onReset?: (info: { last_event_id: number; resumed_after: number }) => void;
  /** The stream ended for good (revoked session or key, sign-out, an error
   * that retrying cannot fix). Not called after `close()`. */
  onClose?: (reason: string, error?: ApiError) => void;
  /** A connection dropped and is being retried. */
  onError?: (error: ApiError) => void;
}

/** A live subscription; it reconnects and resumes by itself. */
export interface Subscription {
  /** Resolves when the first connection is established; rejects if the
   * server refuses the subscription (e.g. 403, 404). */
  readonly ready: Promise<void>;
  /** The id of the last event received (where a reconnect resumes). */
  readonly lastEventId: number | undefined;
  close(): void;
}

const maxBackoff = 30_000;

/** Changes to tables, filtered by the server under the caller's RLS. */
export class RealtimeService {
  constructor(private readonly client: AYB) {}

  /**
   * Opens `GET /api/realtime` for tables and calls onEvent for each change.
   * Dropped connections are retried with backoff and resume with
   * `Last-Event-ID`; a refreshed session is handed to the open stream
   * (`POST /api/realtime/{connection}/token`) without a reconnect.
   */
  subscribe<T = Record<string, unknown>>(tables: string[], onEvent: (e: ChangeEvent<T>) => void, opts: SubscribeOptions = {}): Subscription {
    return new Stream<T>(this.client, tables, onEvent, opts);
  }
}

class Stream<T> implements Subscription {
  readonly ready: Promise<void>;
  lastEventId: number | undefined;
  private resolveReady!: () => void;
  private rejectReady!: (e: unknown) => void;
  private settled = false;
  private closed = false;
  private abort: AbortController | null = null;
  private connection: string | null = null;
  private stopAuth: () => void;

  constructor(private readonly client: AYB, private readonly tables: string[],
    private readonly onEvent: (e: ChangeEvent<T>) => void, private readonly opts: SubscribeOptions) {
    this.lastEventId = opts.lastEventId;
    this.ready = new Promise((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => {}); // a refusal is also reported to whoever awaits ready
    this.stopAuth = client.auth.onChange((s) => {
      if (s) void this.handover();
      else this.finish("signed_out");
    });
    void this.run();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopAuth();
    this.abort?.abort();
    if (!this.settled) {
      this.settled = true;
      this.rejectReady(new ApiError(0, "closed", "the subscription was closed"));
    }
  }

  private finish(reason: string, err?: ApiError): void {
    if (this.closed) return;
    this.close();
    this.opts.onClose?.(reason, err);
  }

  private async run(): Promise<void> {
    let backoff = 500;
    while (!this.closed) {
      let reason: string | null = null;
      try {
        reason = await this.connect();
        backoff = 500;
      } catch (e) {
        const err = e instanceof ApiError ? e : ApiError.network(e);
        if (this.closed) return;
        // Refusals a retry cannot fix end the subscription.
        if (err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) {
          if (!this.settled) {
            this.settled = true;
            this.rejectReady(err);
          }
          this.finish("refused", err);
          return;
        }
        this.opts.onError?.(err);
      }
      if (this.closed) return;
      if (reason === "session_revoked" || reason === "key_revoked") {
        this.finish(reason);
        return;
      }
      if (reason === "token_expired" && !(await this.client.auth.tryRefresh())) {
        this.finish(reason);
        return;
      }
      if (reason !== null && reason !== "token_expired") {
        // A resumable close (slow_client, server_shutdown): back off a little.
        await sleep(Math.min(backoff, 1000));
      } else if (reason === null) {
        await sleep(backoff * (0.5 + Math.random()));
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  }

  /** One connection; returns the close event's reason, or null when the
   * connection dropped without one. */
  private async connect(): Promise<string | null> {
    const query: Record<string, string> = { tables: this.tables.join(",") };
    for (const [t, f] of Object.entries(this.opts.filter ?? {})) query[`filter[${t}]`] = f;
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (this.lastEventId !== undefined) headers["Last-Event-ID"] = String(this.lastEventId);
    this.abort = new AbortController();
    const res = await this.client.raw("GET", "/api/realtime", { query, headers, signal: this.abort.signal });
    if (!res.ok) throw await ApiError.fromResponse(res);
    if (!res.body) throw ApiError.network(new Error("no response body"));
    let closeReason: string | null = null;
    try {
      for await (const m of sseMessages(res.body)) {
        if (this.closed) break;
        if (m.id !== undefined && /^\d+$/.test(m.id)) this.lastEventId = Number(m.id);
        const data = m.data ? JSON.parse(m.data) : null;
        switch (m.event) {
          case "connected":
            this.connection = data?.connection ?? null;
            if (!this.settled) {
              this.settled = true;
              this.resolveReady();
            }
            break;
          case "reset":
            this.opts.onReset?.(data);
            break;
          case "close":
            closeReason = typeof data?.reason === "string" ? data.reason : "closed";
            break;
          case "message":
            this.onEvent(data as ChangeEvent<T>);
            break;
        }
      }
    } catch (e) {
      if (this.closed) return null;
      throw ApiError.network(e);
    } finally {
      this.connection = null;
    }
    return closeReason;
  }

  /** Gives the open stream the session's new access token; a stream the
   * server no longer knows reconnects on its own. */
  private async handover(): Promise<void> {
    const conn = this.connection;
    if (!conn || this.closed) return;
    try {
      await this.client.send("POST", `/api/realtime/${encodeURIComponent(conn)}/token`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) this.abort?.abort(); // reconnect with Last-Event-ID
      else if (e instanceof ApiError) this.opts.onError?.(e);
    }
  }
}

/** One server-sent event. */
interface SSEMessage {
  id?: string;
  event: string;
  data: string;
}

/** Parses an event stream (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let id: string | undefined;
  let event = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (!done) buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        if (!done && buf[nl] === "\r" && nl === buf.length - 1) break; // maybe a CRLF split across reads
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (data.length > 0 || event !== "") {
            yield { id, event: event || "message", data: data.join("\n") };
          }
          id = undefined;
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue; // comment (heartbeat)
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "data") data.push(val);
        else if (field === "event") event = val;
        else if (field === "id" && !val.includes("\0")) id = val;
      }
      if (done) return; // an event without its blank line is dropped, as the spec says
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
