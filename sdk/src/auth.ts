import type { AYB } from "./client.js";

/** A user as the server returns it. */
export interface User {
  id: string;
  email: string;
  email_verified_at: string | null;
  metadata: Record<string, unknown> | null;
  is_admin: boolean;
  created_at: string;
  updated_at: string;
  has_password: boolean;
}

/** What sign-in, sign-up and refresh return. */
export interface Session {
  access_token: string;
  token_type: string;
  expires_in: number;
  /** Unix seconds. */
  expires_at: number;
  refresh_token: string;
  user: User;
}

/** Where a session is kept between page loads; `localStorage` fits. */
export interface SessionStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const storeKey = "ayb.session";
/** Refresh this long before the access token expires. */
const refreshMargin = 30;

/** Sign-up, sign-in, refresh, sign-out and the signed-in user. */
export class AuthService {
  private current: Session | null = null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<(s: Session | null) => void>();

  constructor(private readonly client: AYB, private readonly store?: SessionStore) {
    const saved = store?.getItem(storeKey);
    if (saved) {
      try {
        this.current = JSON.parse(saved) as Session;
      } catch {
        store?.removeItem(storeKey);
      }
    }
  }

  /** The signed-in session, or null. */
  get session(): Session | null {
    return this.current;
  }

  /** Calls fn whenever the session changes (sign-in, refresh, sign-out);
   * returns a function that stops it. */
  onChange(fn: (s: Session | null) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * `POST /api/auth/register`. When the server requires a verified email
   * first, nothing is signed in and `{ user, confirmation_sent: true }`
   * comes back instead of a session.
   */
  async signUp(p: { email: string; password: string; metadata?: Record<string, unknown> }):
    Promise<Session | { user: User; confirmation_sent: true }> {
    const r = await this.client.send<Session | { user: User; confirmation_sent: true }>(
      "POST", "/api/auth/register", { body: p, anonymous: true });
    if ("access_token" in r) this.set(r);
    return r;
  }

  /** `POST /api/auth/login`. */
  async signIn(p: { email: string; password: string }): Promise<Session> {
    const s = await this.client.send<Session>("POST", "/api/auth/login", { body: p, anonymous: true });
    this.set(s);
    return s;
  }

  /** Takes over a session obtained elsewhere (an OAuth redirect's fragment). */
  setSession(s: Session): void {
    this.set(s);
  }

  /** `POST /api/auth/refresh`: a new access token and a new refresh token
   * (the old one is spent). */
  async refresh(): Promise<Session> {
    const rt = this.current?.refresh_token;
    if (!rt) throw new Error("not signed in");
    const s = await this.client.send<Session>("POST", "/api/auth/refresh", { body: { refresh_token: rt }, anonymous: true });
    this.set(s);
    return s;
  }

  /** `POST /api/auth/logout`; `global` ends every session of the user. The
   * local session is dropped even when the server cannot be reached. */
  async signOut(opts: { global?: boolean } = {}): Promise<void> {
    try {
      if (this.current) {
        await this.client.send("POST", "/api/auth/logout", { body: { scope: opts.global ? "global" : "local" } });
      }
    } finally {
      this.set(null);
    }
  }

  /** `GET /api/auth/me`. */
  me(): Promise<User> {
    return this.client.send<User>("GET", "/api/auth/me");
  }

  /** The access token to send, refreshed first when it expires within 30 s. */
  async accessToken(): Promise<string | undefined> {
    const s = this.current;
    if (!s) return undefined;
    if (s.expires_at - refreshMargin <= Date.now() / 1000) {
      await this.tryRefresh();
    }
    return this.current?.access_token;
  }

  /** Refreshes once for all concurrent callers; false (and signed out when
   * the server refused the refresh token) if it failed. */
  async tryRefresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.refresh().then(() => true, (e: unknown) => {
        const status = (e as { status?: number }).status;
        if (status === 400 || status === 401) this.set(null);
        return false;
      }).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private set(s: Session | null): void {
    this.current = s;
    if (s) this.store?.setItem(storeKey, JSON.stringify(s));
    else this.store?.removeItem(storeKey);
    for (const fn of this.listeners) fn(s);
  }
}
