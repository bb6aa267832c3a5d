-- Why: every identity-bearing feature (sessions, API keys, apps, OAuth
-- clients, push devices) references a user. The table lives in the private
-- schema; policies see a user only through auth.uid().

create table ayb.users (
  id                uuid primary key default gen_random_uuid(),
  -- Stored normalized (Unicode NFC, lower-cased) by the server; the unique
  -- index also folds case so two spellings can never both exist.
  email             text not null check (length(email) between 3 and 320 and email = lower(email)),
  password_hash     text,
  email_verified_at timestamptz,
  metadata          jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
  -- Admin users' sessions carry role service_role.
  is_admin          boolean not null default false,
  banned_at         timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);

create unique index users_email_key on ayb.users (lower(email));
