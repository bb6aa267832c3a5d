-- Why: sign-in needs state that every server instance shares: sessions and
-- their rotating refresh tokens, the keys that sign access tokens, one-time
-- tokens for emailed links, linked OAuth identities, OAuth flows in flight,
-- login throttling and the mail outbox. All of it lives in the private schema
-- ayb, reachable only by the server (ayb_system), never by the API roles.

-- Keys that sign access tokens. The newest unretired key signs; retired keys
-- still verify until the tokens they signed have expired.
create table ayb.signing_keys (
  kid         text primary key check (length(kid) between 8 and 64),
  alg         text not null check (alg in ('ES256')),
  private_key bytea not null, -- PKCS#8 DER
  created_at  timestamptz not null default now(),
  retired_at  timestamptz
);

-- One row per sign-in (device). The refresh-token family is the session.
create table ayb.sessions (
  id           uuid primary key default gen_random_uuid(),
  user_id      uuid not null references ayb.users (id) on delete cascade,
  aal          text not null default 'aal1' check (aal in ('aal1', 'aal2')),
  method       text not null check (method in ('password', 'magic_link', 'oauth', 'admin', 'cli', 'password_reset')),
  user_agent   text not null default '' check (length(user_agent) <= 512),
  ip           text not null default '' check (length(ip) <= 64),
  created_at   timestamptz not null default now(),
  refreshed_at timestamptz,
  expires_at   timestamptz not null,
  revoked_at   timestamptz,
  revoked_reason text check (revoked_reason in ('logout', 'logout_all', 'password_change', 'password_reset',
                                                'refresh_reuse', 'ban', 'revoked_by_user', 'admin'))
);
create index sessions_user_id_idx on ayb.sessions (user_id) where revoked_at is null;

-- Refresh tokens are opaque; only their SHA-256 is stored. Each is used
-- once: refreshing marks it used and chains a new one to the same session.
create table ayb.refresh_tokens (
  id          bigint generated always as identity primary key,
  session_id  uuid not null references ayb.sessions (id) on delete cascade,
  token_hash  bytea not null unique check (length(token_hash) = 32),
  parent_id   bigint references ayb.refresh_tokens (id) on delete set null,
  created_at  timestamptz not null default now(),
  used_at     timestamptz
);
create index refresh_tokens_session_id_idx on ayb.refresh_tokens (session_id);

-- Accounts at OAuth providers linked to a user.
create table ayb.identities (
  provider       text not null check (provider ~ '^[a-z0-9_-]{1,64}$'),
  subject        text not null check (length(subject) between 1 and 255),
  user_id        uuid not null references ayb.users (id) on delete cascade,
  email          text,
  email_verified boolean not null default false,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  primary key (provider, subject)
);
create index identities_user_id_idx on ayb.identities (user_id);

-- Tokens sent in emailed links, stored as SHA-256; used once.
create table ayb.one_time_tokens (
  token_hash bytea primary key check (length(token_hash) = 32),
  user_id    uuid not null references ayb.users (id) on delete cascade,
  purpose    text not null check (purpose in ('verify_email', 'password_reset', 'magic_link', 'email_change')),
  -- email_change: the new address, confirmed through itself.
  email      text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at    timestamptz,
  check ((purpose = 'email_change') = (email is not null))
);
create index one_time_tokens_user_idx on ayb.one_time_tokens (user_id, purpose);

-- OAuth logins in flight. state is the key; the browser that started the
-- flow holds a cookie whose hash is binding_hash.
create table ayb.oauth_flows (
  state_hash    bytea primary key check (length(state_hash) = 32),
  provider      text not null,
  binding_hash  bytea not null check (length(binding_hash) = 32),
  code_verifier text not null,
  nonce         text not null,
  redirect_to   text not null default '',
  created_at    timestamptz not null default now(),
  expires_at    timestamptz not null,
  used_at       timestamptz
);

-- One-time codes an app exchanges for the tokens of a finished OAuth login.
create table ayb.oauth_exchange_codes (
  code_hash  bytea primary key check (length(code_hash) = 32),
  session_id uuid not null references ayb.sessions (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at    timestamptz
);

-- Fixed-window counters for throttling auth requests per IP and per
-- account. A window always ends, so nobody is locked out for good.
create table ayb.auth_throttle (
  key          text primary key check (length(key) <= 400),
  window_start timestamptz not null,
  hits         integer not null check (hits >= 0)
);

-- Mail written in the same transaction as the change that causes it; a
-- worker sends it (claimed with SKIP LOCKED) and retries with backoff.
create table ayb.mail_outbox (
  id              bigint generated always as identity primary key,
  to_address      text not null check (length(to_address) between 3 and 320),
  subject         text not null,
  text_body       text not null,
  html_body       text not null default '',
  template        text not null default '',
  created_at      timestamptz not null default now(),
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until    timestamptz,
  sent_at         timestamptz,
  failed_at       timestamptz,
  last_error      text
);
create index mail_outbox_due_idx on ayb.mail_outbox (next_attempt_at) where sent_at is null and failed_at is null;
