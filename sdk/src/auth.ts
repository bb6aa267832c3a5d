import type { AYB } from "./client.js";
import { ApiError } from "./errors.js";

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

/** One signed-in device, as `sessions()` lists it. */
export interface SessionInfo {
  id: string;
  aal: string;
  method: string;
  user_agent: string;
  ip: string;
  created_at: string;
  refreshed_at: string | null;
  expires_at: string;
  /** The session this client is using. */
  current: boolean;
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
    return this.establish("/api/auth/login", p, true);
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
    return this.establish("/api/auth/refresh", { refresh_token: rt }, true);
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

  /** `PATCH /api/auth/me`: merges metadata (`null` removes a key). */
  updateMe(p: { metadata: Record<string, unknown> }): Promise<User> {
    return this.client.send<User>("PATCH", "/api/auth/me", { body: p });
  }

  /** `DELETE /api/auth/me`: deletes the account, then signs out here. */
  async deleteMe(): Promise<void> {
    await this.client.send("DELETE", "/api/auth/me");
    this.set(null);
  }

  /** `POST /api/auth/password`: every session of the user ends; this client
   * gets the new one. */
  async changePassword(p: { currentPassword: string; newPassword: string }): Promise<Session> {
    return this.establish("/api/auth/password", { current_password: p.currentPassword, new_password: p.newPassword }, false);
  }

  /** `GET /api/auth/sessions`: the user's signed-in devices. */
  sessions(): Promise<SessionInfo[]> {
    return this.client.send<SessionInfo[]>("GET", "/api/auth/sessions");
  }

  /** `DELETE /api/auth/sessions/{id}`: signs a device out. */
  revokeSession(id: string): Promise<void> {
    return this.client.send<void>("DELETE", "/api/auth/sessions/" + encodeURIComponent(id));
  }

  /** Emails a password-reset link (the same answer whether or not the account exists). */
  requestPasswordReset(email: string): Promise<void> {
    return this.linkRequest("/api/auth/reset", email);
  }

  /** Sets a new password with the token from the reset link. */
  confirmPasswordReset(p: { token: string; password: string }): Promise<void> {
    return this.client.send<void>("POST", "/api/auth/reset/confirm", { body: p, anonymous: true });
  }

  /** Emails a sign-in link. */
  requestMagicLink(email: string): Promise<void> {
    return this.linkRequest("/api/auth/magic-link", email);
  }

  /** Signs in with the token from a magic link. */
  async verifyMagicLink(token: string): Promise<Session> {
    return this.establish("/api/auth/magic-link/verify", { token }, true);
  }

  /** Emails the verification link again. */
  resendVerification(email: string): Promise<void> {
    return this.linkRequest("/api/auth/verify/resend", email);
  }

  /** Emails a confirmation link to a new address; the change happens when it is opened. */
  async changeEmail(email: string): Promise<void> {
    await this.client.send("POST", "/api/auth/email", { body: { email } });
  }

  /**
   * Where to send the browser for "sign in with <provider>". With the default
   * `fragment` flow the login lands on `redirectTo` with the tokens in the
   * fragment (see {@link sessionFromURL}); with `code` it carries a one-time
   * code for {@link exchangeOAuthCode}.
   */
  oauthURL(provider: string, opts: { redirectTo?: string; flow?: "fragment" | "code" } = {}): string {
    const q = new URLSearchParams();
    if (opts.redirectTo) q.set("redirect_to", opts.redirectTo);
    if (opts.flow) q.set("flow", opts.flow);
    const qs = q.toString();
    return `${this.client.url}/api/auth/oauth/${encodeURIComponent(provider)}${qs ? "?" + qs : ""}`;
  }

  /** Trades a `code` flow login's one-time code for a session. */
  async exchangeOAuthCode(code: string): Promise<Session> {
    return this.establish("/api/auth/oauth/token", { code }, true);
  }

  /**
   * Takes the session from a URL whose fragment carries tokens (an OAuth or
   * magic-link landing: `#access_token=...&refresh_token=...`). Returns null
   * when it carries none; throws the server's error when it says
   * `#error=...`.
   */
  async sessionFromURL(href: string): Promise<Session | null> {
    const hash = href.includes("#") ? href.slice(href.indexOf("#") + 1) : "";
    const f = new URLSearchParams(hash);
    const err = f.get("error");
    if (err) throw new ApiError(400, err, f.get("error_description") ?? err);
    const access = f.get("access_token");
    const refresh = f.get("refresh_token");
    if (!access || !refresh) return null;
    const partial = {
      access_token: access,
      refresh_token: refresh,
      token_type: f.get("token_type") ?? "bearer",
      expires_in: Number(f.get("expires_in") ?? 0),
      expires_at: Number(f.get("expires_at") ?? 0),
    };
    const user = await this.client.send<User>("GET", "/api/auth/me",
      { anonymous: true, headers: { Authorization: "Bearer " + access } });
    const s: Session = { ...partial, user };
    this.set(s);
    return s;
  }

  /** `GET /api/auth/identities`: the providers linked to the account. */
  identities(): Promise<Array<Record<string, unknown>>> {
    return this.client.send("GET", "/api/auth/identities");
  }

  /** `DELETE /api/auth/identities/{provider}` (not the last way to sign in). */
  unlinkIdentity(provider: string): Promise<void> {
    return this.client.send<void>("DELETE", "/api/auth/identities/" + encodeURIComponent(provider));
  }

  /** POSTs body to path and keeps the session it answers with. */
  private async establish(path: string, body: unknown, anonymous: boolean): Promise<Session> {
    const s = await this.client.send<Session>("POST", path, { body, anonymous });
    this.set(s);
    return s;
  }

  private async linkRequest(path: string, email: string): Promise<void> {
    await this.client.send("POST", path, { body: { email }, anonymous: true });
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
