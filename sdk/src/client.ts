import { ApiError } from "./errors.js";
import { AuthService, type SessionStore } from "./auth.js";
import { RecordService } from "./records.js";
import { RealtimeService } from "./realtime.js";

export interface ClientOptions {
  /** An API key (`ayb_...`): sent instead of a user's access token. */
  apiKey?: string;
  /** Where the signed-in session is kept (default: memory only). In a
   * browser, `localStorage` works as is. */
  storage?: SessionStore;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Send no credential (sign-in and sign-up). */
  anonymous?: boolean;
}

/**
 * An AYB client. Services: `auth`, `records`, `realtime`, and `rpc`.
 *
 * ```ts
 * const ayb = new AYB("https://api.example.com");
 * await ayb.auth.signIn({ email, password });
 * const page = await ayb.records.list("notes", { filter: "done = false", sort: "-created_at" });
 * ```
 */
export class AYB {
  readonly url: string;
  readonly auth: AuthService;
  readonly records: RecordService;
  readonly realtime: RealtimeService;
  /** @internal */
  readonly fetchImpl: typeof fetch;
  private readonly apiKey?: string;

  constructor(url: string, opts: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.apiKey = opts.apiKey;
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.auth = new AuthService(this, opts.storage);
    this.records = new RecordService(this);
    this.realtime = new RealtimeService(this);
  }

  /**
   * Calls a SQL function: `POST /api/rpc/{fn}` with named arguments, or
   * `GET` (`{ get: true }`) for stable and immutable functions.
   */
  async rpc<T = unknown>(fn: string, args: Record<string, unknown> = {}, opts: { get?: boolean; signal?: AbortSignal } = {}): Promise<T> {
    const path = "/api/rpc/" + encodeURIComponent(fn);
    if (opts.get) {
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries(args)) {
        query[k] = typeof v === "string" ? v : JSON.stringify(v);
      }
      return this.send<T>("GET", path, { query, signal: opts.signal });
    }
    return this.send<T>("POST", path, { body: args, signal: opts.signal });
  }

  /** The credential to send, refreshing the session first when its access
   * token is about to expire. */
  async authorization(): Promise<string | undefined> {
    if (this.apiKey) return "Bearer " + this.apiKey;
    const token = await this.auth.accessToken();
    return token ? "Bearer " + token : undefined;
  }

  /**
   * Sends one request and decodes the JSON answer (undefined for 204).
   * A 401 for an expired token is retried once after a refresh.
   */
  async send<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    let res = await this.raw(method, path, opts);
    if (res.status === 401 && !opts.anonymous && !this.apiKey && this.auth.session) {
      const err = await ApiError.fromResponse(res);
      if (err.code !== "invalid_token" || !(await this.auth.tryRefresh())) throw err;
      res = await this.raw(method, path, opts);
    }
    if (!res.ok) throw await ApiError.fromResponse(res);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** @internal */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
    if (!opts.anonymous) {
      const a = await this.authorization();
      if (a) headers.Authorization = a;
    }
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    try {
      return await this.fetchImpl(this.url + path + queryString(opts.query), {
        method, headers, body, signal: opts.signal,
      });
    } catch (e) {
      throw ApiError.network(e);
    }
  }
}

function queryString(q?: Record<string, string | number | boolean | undefined>): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v !== undefined) p.set(k, String(v));
  }
  const s = p.toString();
  return s ? "?" + s : "";
}

