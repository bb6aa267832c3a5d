-- Why: headline feature 1. A team runs several client apps against one AYB;
-- each app gets its own identity (auth.app_id() in policies), its own API
-- keys and its own rate limit, enforced identically by every server instance
-- because the limiter state lives here, not in a process. Keys are stored as
-- SHA-256 hashes of high-entropy secrets, carry a scope (read/write/full) and
-- optional table/function allow-lists, and keep an audit of who created and
-- revoked them. Deleting an app or a user revokes their keys in the same
-- transaction; a revoke or any policy change NOTIFYs ayb_apikeys so every
-- instance drops its cached copy at once.

-- Apps ----------------------------------------------------------------------

create table ayb.apps (
  id                  uuid primary key default gen_random_uuid(),
  name                text not null check (length(btrim(name)) between 1 and 100 and name = btrim(name)),
  description         text not null default '' check (length(description) <= 2000),
  -- Apps are team assets: they outlive the user who owns them.
  owner_id            uuid references ayb.users (id) on delete set null,
  -- Rate-limit policy: rate_limit_requests per rate_limit_window, with bursts
  -- of up to rate_limit_burst (default: rate_limit_requests). Null = unlimited.
  rate_limit_requests integer check (rate_limit_requests between 1 and 1000000000),
  rate_limit_window   interval check (rate_limit_window between interval '1 second' and interval '1 day'),
  rate_limit_burst    integer check (rate_limit_burst between 1 and 1000000000),
  created_by          uuid references ayb.users (id) on delete set null,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  -- Deleted apps stay as tombstones so keys, usage and audit keep their
  -- referent; nothing live may point at them (see api_keys_live_app).
  deleted_at          timestamptz,
  deleted_by          uuid references ayb.users (id) on delete set null,
  constraint apps_rate_limit_complete check (
    (rate_limit_requests is null) = (rate_limit_window is null)
    and (rate_limit_burst is null or rate_limit_requests is not null))
);

create unique index apps_live_name_key on ayb.apps (lower(name)) where deleted_at is null;
create index apps_owner_id_idx on ayb.apps (owner_id);

-- API keys ------------------------------------------------------------------

create table ayb.api_keys (
  id                  uuid primary key default gen_random_uuid(),
  name                text not null check (length(btrim(name)) between 1 and 100),
  -- The first characters of the plaintext (ayb_sk_ + 8), for people to tell
  -- keys apart in lists and logs. Never enough to use.
  key_prefix          text not null check (key_prefix ~ '^ayb_sk_[0-9A-Za-z]{8}$'),
  -- SHA-256 of the whole plaintext. The secret carries 256 random bits, so a
  -- fast hash is enough: nobody can search that space, and verification
  -- stays one index lookup instead of a slow KDF per request.
  key_hash            bytea not null unique check (length(key_hash) = 32),
  -- 'user' keys act as user_id (role authenticated, sub = user_id) under RLS;
  -- 'service' keys act as service_role and have no user.
  kind                text not null check (kind in ('user', 'service')),
  user_id             uuid references ayb.users (id) on delete set null,
  app_id              uuid references ayb.apps (id),
  scope               text not null check (scope in ('read', 'write', 'full')),
  -- Empty = every table. When tables are restricted, RPC is limited to
  -- allowed_functions (empty = none).
  allowed_tables      text[] not null default '{}' check (array_position(allowed_tables, null) is null),
  allowed_functions   text[] not null default '{}' check (array_position(allowed_functions, null) is null),
  -- Optional per-key limit, the same mechanism as the app's.
  rate_limit_requests integer check (rate_limit_requests between 1 and 1000000000),
  rate_limit_window   interval check (rate_limit_window between interval '1 second' and interval '1 day'),
  rate_limit_burst    integer check (rate_limit_burst between 1 and 1000000000),
  expires_at          timestamptz,
  last_used_at        timestamptz,
  created_at          timestamptz not null default now(),
  created_by          uuid references ayb.users (id) on delete set null,
  -- The key this one replaced (ayb apikeys rotate).
  rotated_from        uuid references ayb.api_keys (id),
  revoked_at          timestamptz,
  revoked_by          uuid references ayb.users (id) on delete set null,
  revoked_reason      text check (revoked_reason in ('revoked', 'rotated', 'app_deleted', 'user_deleted')),
  constraint api_keys_kind_user check (
    (kind = 'service' and user_id is null)
    -- A user key whose user is gone must already be revoked: a user key can
    -- never silently become a key with no user.
    or (kind = 'user' and (user_id is not null or revoked_at is not null))),
  constraint api_keys_rate_limit_complete check (
    (rate_limit_requests is null) = (rate_limit_window is null)
    and (rate_limit_burst is null or rate_limit_requests is not null)),
  constraint api_keys_revoked_reason check ((revoked_at is null) = (revoked_reason is null))
);

create index api_keys_user_id_idx on ayb.api_keys (user_id);
create index api_keys_app_id_idx on ayb.api_keys (app_id);

-- A key may only be live while its app is live. Key creation locks the app
-- row (FOR SHARE) and app deletion locks it FOR UPDATE and revokes every key
-- in the same transaction; this trigger is the constraint that makes the
-- invariant hold whatever path writes the table.
create function ayb.api_keys_live_app() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if new.app_id is not null and new.revoked_at is null then
    perform 1 from ayb.apps a where a.id = new.app_id and a.deleted_at is null for share;
    if not found then
      raise exception 'app % does not exist or was deleted', new.app_id using errcode = 'P0002';
    end if;
  end if;
  return new;
end
$$;

create trigger api_keys_live_app before insert or update of app_id, revoked_at on ayb.api_keys
  for each row execute function ayb.api_keys_live_app();

-- Cache invalidation: every instance LISTENs on ayb_apikeys and drops what it
-- cached for the key, app or user named in the payload.
create function ayb.api_keys_notify() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if tg_table_name = 'api_keys' then
    perform pg_notify('ayb_apikeys', 'key:' || coalesce(new.id, old.id)::text);
  elsif tg_table_name = 'apps' then
    perform pg_notify('ayb_apikeys', 'app:' || coalesce(new.id, old.id)::text);
  elsif tg_table_name = 'users' then
    perform pg_notify('ayb_apikeys', 'user:' || coalesce(new.id, old.id)::text);
  end if;
  return null;
end
$$;

create trigger api_keys_notify
  after update of revoked_at, expires_at, scope, allowed_tables, allowed_functions, kind, user_id, app_id,
                  rate_limit_requests, rate_limit_window, rate_limit_burst
     or delete on ayb.api_keys
  for each row execute function ayb.api_keys_notify();
create trigger apps_notify after update or delete on ayb.apps
  for each row execute function ayb.api_keys_notify();
create trigger users_notify_api_keys after update of banned_at, email or delete on ayb.users
  for each row execute function ayb.api_keys_notify();

-- Deleting a user revokes their keys first, so the FK's SET NULL meets a
-- revoked key (api_keys_kind_user).
create function ayb.users_revoke_api_keys() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  update ayb.api_keys
     set revoked_at = now(), revoked_reason = 'user_deleted'
   where user_id = old.id and revoked_at is null;
  return old;
end
$$;

create trigger users_revoke_api_keys before delete on ayb.users
  for each row execute function ayb.users_revoke_api_keys();

-- Rate limiting -------------------------------------------------------------

-- GCRA state: one row per limited key ('app:<id>', 'key:<id>', or any key
-- another area chooses). tat is the theoretical arrival time. Unlogged: a
-- crash resets limits (harmless) and updates never wait for a WAL flush.
create unlogged table ayb.ratelimit_state (
  key     text primary key,
  tat     timestamptz not null,
  -- Tokens granted by the last take (0 = refused), read back by RETURNING.
  granted integer not null
);

-- Per-app usage, bucketed by the app's window (one minute when unlimited).
-- Each instance counts locally and adds its counts here about once a second
-- (ayb.apikey_flush), so usage costs the request path nothing. Unlogged: a
-- crash (not a clean shutdown) loses the counts, never blocks a request.
create unlogged table ayb.app_usage (
  app_id       uuid not null,
  window_start timestamptz not null,
  requests     bigint not null default 0,
  rejected     bigint not null default 0,
  primary key (app_id, window_start)
);

-- ayb.ratelimit_policy_check raises a clear error for an invalid policy.
create function ayb.ratelimit_policy_check(p_requests integer, p_window interval, p_burst integer)
  returns void
  language plpgsql immutable
  set search_path = ''
as $$
begin
  if p_requests is null and p_window is null and p_burst is null then
    return;
  end if;
  if p_requests is null or p_window is null then
    raise exception 'a rate limit needs both requests and window' using errcode = '22023';
  end if;
  if p_requests < 1 or p_requests > 1000000000 then
    raise exception 'rate limit requests must be between 1 and 1000000000, not %', p_requests using errcode = '22023';
  end if;
  if p_window < interval '1 second' or p_window > interval '1 day' then
    raise exception 'rate limit window must be between 1 second and 1 day, not %', p_window using errcode = '22023';
  end if;
  if p_burst is not null and (p_burst < 1 or p_burst > 1000000000) then
    raise exception 'rate limit burst must be between 1 and 1000000000, not %', p_burst using errcode = '22023';
  end if;
end
$$;

-- ayb.ratelimit_take takes up to p_count tokens from the bucket p_key, which
-- admits p_requests per p_window in bursts of up to p_burst (default
-- p_requests): GCRA, one atomic upsert on one row. granted is how many were
-- taken (0 = refused; never more than the bucket holds, so a batch never
-- causes a refusal); remaining is what the bucket still holds; reset_after
-- is the seconds until it is full; retry_after (when refused) the seconds
-- until one token is free. Time is the database's clock unless p_now is
-- given (tests), so every instance measures against the same clock.
create function ayb.ratelimit_take(p_key text, p_requests integer, p_window interval,
                                   p_burst integer default null, p_count integer default 1,
                                   p_now timestamptz default null,
                                   out granted integer, out remaining integer,
                                   out reset_after double precision, out retry_after double precision)
  language plpgsql
  set search_path = ''
as $$
declare
  now_    timestamptz := coalesce(p_now, clock_timestamp());
  cap     integer := coalesce(p_burst, p_requests);
  t       double precision;  -- seconds per token
  tat_    timestamptz;
  backlog double precision;  -- seconds of tokens spoken for
begin
  perform ayb.ratelimit_policy_check(p_requests, p_window, p_burst);
  if p_key is null or p_count is null or p_count < 1 then
    raise exception 'ratelimit_take needs a key and a positive count' using errcode = '22023';
  end if;
  t := extract(epoch from p_window) / p_requests;
  -- 2 microseconds of slack absorb timestamptz rounding.
  insert into ayb.ratelimit_state as s (key, tat, granted)
  values (p_key, now_ + make_interval(secs => t * least(p_count, cap)), least(p_count, cap))
  on conflict (key) do update
     set granted = least(p_count, greatest(0, floor(
                     (cap * t - greatest(0, extract(epoch from s.tat - now_)) + 0.000002) / t)))::integer,
         tat = greatest(s.tat, now_) + make_interval(secs => t * least(p_count, greatest(0, floor(
                     (cap * t - greatest(0, extract(epoch from s.tat - now_)) + 0.000002) / t))))
  returning s.tat, s.granted into tat_, granted;
  backlog := greatest(0, extract(epoch from tat_ - now_));
  remaining := greatest(0, floor((cap * t - backlog + 0.000002) / t))::integer;
  reset_after := backlog;
  retry_after := case when granted = 0 then greatest(0, backlog - (cap - 1) * t) else 0 end;
end
$$;

-- ayb.apikey_take takes up to p_count tokens for one request (or a batch a
-- server instance spends locally) made with key p_key_id: from the key's own
-- bucket when it has a limit, then from its app's bucket when the app has
-- one. The policies are read here, at the source, so a change applies to the
-- next take on every instance. The figures returned are those of the
-- tighter bucket. One statement on the request path.
create function ayb.apikey_take(p_key_id uuid, p_count integer default 1, p_now timestamptz default null,
                                out granted integer, out rate_limit integer, out window_seconds double precision,
                                out remaining integer, out reset_after double precision, out retry_after double precision)
  language plpgsql
  set search_path = ''
as $$
declare
  k   record;
  r   record;
  now_ timestamptz := coalesce(p_now, clock_timestamp());
begin
  select kk.id, kk.rate_limit_requests as kreq, kk.rate_limit_window as kwin, kk.rate_limit_burst as kburst,
         a.id as app_id, a.rate_limit_requests as areq, a.rate_limit_window as awin, a.rate_limit_burst as aburst
    into k
    from ayb.api_keys kk left join ayb.apps a on a.id = kk.app_id
   where kk.id = p_key_id;
  if not found then
    raise exception 'api key % not found', p_key_id using errcode = 'P0002';
  end if;
  granted := p_count;
  if k.kreq is not null then
    r := ayb.ratelimit_take('key:' || k.id::text, k.kreq, k.kwin, k.kburst, p_count, now_);
    granted := r.granted;
    rate_limit := k.kreq; window_seconds := extract(epoch from k.kwin);
    remaining := r.remaining; reset_after := r.reset_after; retry_after := r.retry_after;
  end if;
  if granted > 0 and k.areq is not null then
    r := ayb.ratelimit_take('app:' || k.app_id::text, k.areq, k.awin, k.aburst, granted, now_);
    granted := r.granted;
    if remaining is null or r.remaining < remaining or r.granted = 0 then
      rate_limit := k.areq; window_seconds := extract(epoch from k.awin);
      remaining := r.remaining; reset_after := r.reset_after; retry_after := r.retry_after;
    end if;
  end if;
end
$$;

-- ayb.apikey_flush records what an instance saw since its last flush: the
-- keys it used (last_used_at, written at most once a minute per key) and
-- per-app request and rejection counts.
create function ayb.apikey_flush(p_touch uuid[], p_app_ids uuid[], p_requests bigint[], p_rejected bigint[],
                                 p_now timestamptz default null)
  returns void
  language sql
  set search_path = ''
as $$
  update ayb.api_keys k
     set last_used_at = coalesce(p_now, now())
   where k.id = any (p_touch)
     and (k.last_used_at is null or k.last_used_at < coalesce(p_now, now()) - interval '1 minute');

  insert into ayb.app_usage as u (app_id, window_start, requests, rejected)
  select c.app_id,
         to_timestamp(floor(extract(epoch from coalesce(p_now, now()))
                            / extract(epoch from coalesce(a.rate_limit_window, interval '1 minute')))
                      * extract(epoch from coalesce(a.rate_limit_window, interval '1 minute'))),
         sum(c.requests), sum(c.rejected)
    from unnest(p_app_ids, p_requests, p_rejected) as c(app_id, requests, rejected)
    join ayb.apps a on a.id = c.app_id
   group by 1, 2
  on conflict (app_id, window_start) do update
     set requests = u.requests + excluded.requests,
         rejected = u.rejected + excluded.rejected;
$$;

-- ayb.ratelimit_sweep forgets idle limiter state and usage older than
-- p_keep_usage.
create function ayb.ratelimit_sweep(p_keep_usage interval default interval '30 days', p_now timestamptz default null)
  returns void
  language sql
  set search_path = ''
as $$
  delete from ayb.ratelimit_state where tat < coalesce(p_now, now()) - interval '1 day';
  delete from ayb.app_usage where window_start < coalesce(p_now, now()) - p_keep_usage;
$$;

-- The SQL API (admins: psql as service_role or a superuser, the admin HTTP
-- API and the CLI call these) ---------------------------------------------

create function ayb.app_check_name(p_name text) returns text
  language plpgsql immutable
  set search_path = ''
as $$
begin
  if p_name is null or length(btrim(p_name)) = 0 then
    raise exception 'app name is required' using errcode = '22023';
  end if;
  if length(btrim(p_name)) > 100 then
    raise exception 'app name is longer than 100 characters' using errcode = '22023';
  end if;
  return btrim(p_name);
end
$$;

create function ayb.app_check_owner(p_owner_id uuid) returns void
  language plpgsql stable
  set search_path = ''
as $$
begin
  if p_owner_id is not null and not exists (select 1 from ayb.users where id = p_owner_id) then
    raise exception 'owner user % does not exist', p_owner_id using errcode = '22023';
  end if;
end
$$;

create function ayb.app_create(p_name text, p_description text default '', p_owner_id uuid default null,
                               p_rate_limit_requests integer default null, p_rate_limit_window interval default null,
                               p_rate_limit_burst integer default null, p_actor uuid default null)
  returns ayb.apps
  language plpgsql security definer
  set search_path = ''
as $$
declare
  r ayb.apps;
begin
  perform ayb.ratelimit_policy_check(p_rate_limit_requests, p_rate_limit_window, p_rate_limit_burst);
  perform ayb.app_check_owner(p_owner_id);
  if length(coalesce(p_description, '')) > 2000 then
    raise exception 'app description is longer than 2000 characters' using errcode = '22023';
  end if;
  insert into ayb.apps (name, description, owner_id, rate_limit_requests, rate_limit_window, rate_limit_burst, created_by)
  values (ayb.app_check_name(p_name), coalesce(p_description, ''), p_owner_id,
          p_rate_limit_requests, p_rate_limit_window, p_rate_limit_burst, coalesce(p_actor, auth.uid()))
  returning * into r;
  return r;
end
$$;

-- ayb.app_update changes what is given: null arguments keep the current
-- value; p_clear_owner and p_clear_rate_limit remove the owner or the limit
-- (unlimited). Giving p_rate_limit_requests replaces the whole policy.
create function ayb.app_update(p_id uuid, p_name text default null, p_description text default null,
                               p_owner_id uuid default null,
                               p_rate_limit_requests integer default null, p_rate_limit_window interval default null,
                               p_rate_limit_burst integer default null,
                               p_clear_owner boolean default false, p_clear_rate_limit boolean default false)
  returns ayb.apps
  language plpgsql security definer
  set search_path = ''
as $$
declare
  r ayb.apps;
begin
  select * into r from ayb.apps where id = p_id and deleted_at is null for update;
  if not found then
    raise exception 'app % not found', p_id using errcode = 'P0002';
  end if;
  if p_clear_rate_limit and (p_rate_limit_requests is not null or p_rate_limit_window is not null or p_rate_limit_burst is not null) then
    raise exception 'give a rate limit or clear it, not both' using errcode = '22023';
  end if;
  if p_clear_owner and p_owner_id is not null then
    raise exception 'give an owner or clear it, not both' using errcode = '22023';
  end if;
  if p_rate_limit_requests is not null or p_rate_limit_window is not null or p_rate_limit_burst is not null then
    perform ayb.ratelimit_policy_check(p_rate_limit_requests, p_rate_limit_window, p_rate_limit_burst);
    r.rate_limit_requests := p_rate_limit_requests;
    r.rate_limit_window := p_rate_limit_window;
    r.rate_limit_burst := p_rate_limit_burst;
  elsif p_clear_rate_limit then
    r.rate_limit_requests := null; r.rate_limit_window := null; r.rate_limit_burst := null;
  end if;
  if p_name is not null then
    r.name := ayb.app_check_name(p_name);
  end if;
  if p_description is not null then
    if length(p_description) > 2000 then
      raise exception 'app description is longer than 2000 characters' using errcode = '22023';
    end if;
    r.description := p_description;
  end if;
  if p_owner_id is not null then
    perform ayb.app_check_owner(p_owner_id);
    r.owner_id := p_owner_id;
  elsif p_clear_owner then
    r.owner_id := null;
  end if;
  update ayb.apps
     set name = r.name, description = r.description, owner_id = r.owner_id,
         rate_limit_requests = r.rate_limit_requests, rate_limit_window = r.rate_limit_window,
         rate_limit_burst = r.rate_limit_burst, updated_at = now()
   where id = p_id
  returning * into r;
  -- A new policy starts from a full bucket.
  delete from ayb.ratelimit_state where key = 'app:' || p_id::text;
  return r;
end
$$;

-- ayb.app_delete revokes every key of the app and marks the app deleted, in
-- one transaction. The app row is locked FOR UPDATE first: a key being
-- created for the app holds it FOR SHARE, so either the key commits first
-- and is revoked here, or its creation waits and then finds the app gone.
-- The row stays as a tombstone so keys and usage keep their referent.
create function ayb.app_delete(p_id uuid, p_actor uuid default null)
  returns ayb.apps
  language plpgsql security definer
  set search_path = ''
as $$
declare
  r ayb.apps;
  actor uuid := coalesce(p_actor, auth.uid());
begin
  perform 1 from ayb.apps where id = p_id and deleted_at is null for update;
  if not found then
    raise exception 'app % not found', p_id using errcode = 'P0002';
  end if;
  update ayb.api_keys
     set revoked_at = now(), revoked_by = actor, revoked_reason = 'app_deleted'
   where app_id = p_id and revoked_at is null;
  update ayb.apps set deleted_at = now(), deleted_by = actor, updated_at = now()
   where id = p_id
  returning * into r;
  delete from ayb.ratelimit_state where key = 'app:' || p_id::text;
  return r;
end
$$;

create function ayb.app_list(p_include_deleted boolean default false)
  returns setof ayb.apps
  language sql stable security definer
  set search_path = ''
as $$
  select * from ayb.apps
   where p_include_deleted or deleted_at is null
   order by created_at, id
$$;

create function ayb.app_get(p_id uuid)
  returns ayb.apps
  language plpgsql stable security definer
  set search_path = ''
as $$
declare
  r ayb.apps;
begin
  select * into r from ayb.apps where id = p_id;
  if not found then
    raise exception 'app % not found', p_id using errcode = 'P0002';
  end if;
  return r;
end
$$;

-- ayb.app_usage returns the app's request and rejection counts per window
-- since p_since (default: the last 24 hours), newest first.
create function ayb.app_usage(p_app_id uuid, p_since timestamptz default null)
  returns table (window_start timestamptz, window_seconds double precision, requests bigint, rejected bigint)
  language plpgsql stable security definer
  set search_path = ''
as $$
begin
  perform ayb.app_get(p_app_id);
  return query
    select u.window_start, extract(epoch from coalesce(a.rate_limit_window, interval '1 minute'))::double precision,
           u.requests, u.rejected
      from ayb.app_usage u join ayb.apps a on a.id = u.app_id
     where u.app_id = p_app_id and u.window_start >= coalesce(p_since, now() - interval '1 day')
     order by u.window_start desc;
end
$$;

-- ayb.apikey_check_names validates a table or function allow-list: plain or
-- schema-qualified identifiers, no duplicates; returns it sorted.
create function ayb.apikey_check_names(p_names text[], p_what text) returns text[]
  language plpgsql immutable
  set search_path = ''
as $$
declare
  n text;
begin
  foreach n in array coalesce(p_names, '{}') loop
    if n is null or n !~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$' then
      raise exception 'invalid % name %', p_what, coalesce(quote_literal(n), 'null')
        using errcode = '22023', hint = 'use table or schema.table names';
    end if;
  end loop;
  return array(select distinct x from unnest(coalesce(p_names, '{}')) x order by 1);
end
$$;

-- ayb.apikey_create stores a key whose plaintext the caller generated (the
-- server shows it once; only its SHA-256 is kept). p_user_id null makes a
-- service key (service_role). p_as_user set means a user creating a key for
-- themself: only for their own user id, never a service key, and for an app
-- only if they own it. The app row is locked FOR SHARE so a concurrent
-- ayb.app_delete either revokes this key or makes this call fail.
create function ayb.apikey_create(p_name text, p_key_hash bytea, p_key_prefix text, p_user_id uuid, p_scope text,
                                  p_app_id uuid default null, p_allowed_tables text[] default '{}',
                                  p_allowed_functions text[] default '{}', p_expires_at timestamptz default null,
                                  p_rate_limit_requests integer default null, p_rate_limit_window interval default null,
                                  p_rate_limit_burst integer default null,
                                  p_actor uuid default null, p_as_user uuid default null, p_rotated_from uuid default null)
  returns ayb.api_keys
  language plpgsql security definer
  set search_path = ''
as $$
declare
  r ayb.api_keys;
  a ayb.apps;
begin
  if p_name is null or length(btrim(p_name)) = 0 or length(btrim(p_name)) > 100 then
    raise exception 'key name is required (at most 100 characters)' using errcode = '22023';
  end if;
  if p_scope is null or p_scope not in ('read', 'write', 'full') then
    raise exception 'scope must be read, write or full, not %', coalesce(p_scope, 'null') using errcode = '22023';
  end if;
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = '22023';
  end if;
  perform ayb.ratelimit_policy_check(p_rate_limit_requests, p_rate_limit_window, p_rate_limit_burst);
  if p_as_user is not null then
    if p_user_id is null then
      raise exception 'only an admin may create a service key' using errcode = '42501';
    end if;
    if p_user_id <> p_as_user then
      raise exception 'you may only create keys for yourself' using errcode = '42501';
    end if;
  end if;
  if p_user_id is not null and not exists (select 1 from ayb.users u where u.id = p_user_id and u.banned_at is null) then
    raise exception 'user % does not exist or is banned', p_user_id using errcode = '22023';
  end if;
  if p_app_id is not null then
    select * into a from ayb.apps where id = p_app_id and deleted_at is null for share;
    if not found then
      raise exception 'app % not found', p_app_id using errcode = 'P0002';
    end if;
    if p_as_user is not null and a.owner_id is distinct from p_as_user then
      raise exception 'only the app''s owner or an admin may create keys for app %', p_app_id using errcode = '42501';
    end if;
  end if;
  insert into ayb.api_keys (name, key_prefix, key_hash, kind, user_id, app_id, scope, allowed_tables, allowed_functions,
                            rate_limit_requests, rate_limit_window, rate_limit_burst, expires_at, created_by, rotated_from)
  values (btrim(p_name), p_key_prefix, p_key_hash, case when p_user_id is null then 'service' else 'user' end,
          p_user_id, p_app_id, p_scope, ayb.apikey_check_names(p_allowed_tables, 'table'),
          ayb.apikey_check_names(p_allowed_functions, 'function'),
          p_rate_limit_requests, p_rate_limit_window, p_rate_limit_burst, p_expires_at,
          coalesce(p_actor, auth.uid()), p_rotated_from)
  returning * into r;
  return r;
end
$$;

-- ayb.apikey_list lists keys, newest first, optionally of one user or app.
create function ayb.apikey_list(p_user_id uuid default null, p_app_id uuid default null,
                                p_include_revoked boolean default true)
  returns setof ayb.api_keys
  language sql stable security definer
  set search_path = ''
as $$
  select * from ayb.api_keys
   where (p_user_id is null or user_id = p_user_id)
     and (p_app_id is null or app_id = p_app_id)
     and (p_include_revoked or revoked_at is null)
   order by created_at desc, id
$$;

-- ayb.apikey_revoke revokes a key (idempotent: a revoked key is returned as
-- it is). With p_as_user, only that user's own keys are found.
create function ayb.apikey_revoke(p_id uuid, p_actor uuid default null, p_as_user uuid default null)
  returns ayb.api_keys
  language plpgsql security definer
  set search_path = ''
as $$
declare
  r ayb.api_keys;
begin
  update ayb.api_keys
     set revoked_at = now(), revoked_by = coalesce(p_actor, auth.uid()), revoked_reason = 'revoked'
   where id = p_id and revoked_at is null and (p_as_user is null or user_id = p_as_user)
  returning * into r;
  if not found then
    select * into r from ayb.api_keys where id = p_id and (p_as_user is null or user_id = p_as_user);
    if not found then
      raise exception 'api key % not found', p_id using errcode = 'P0002';
    end if;
  end if;
  return r;
end
$$;

-- ayb.apikey_rotate creates a new key with the old one's settings and
-- retires the old one: at once, or after p_grace (its expiry moves to
-- now() + p_grace, never later than it was), so clients can switch over
-- while both keys work.
create function ayb.apikey_rotate(p_id uuid, p_key_hash bytea, p_key_prefix text, p_grace interval default null,
                                  p_actor uuid default null, p_as_user uuid default null)
  returns ayb.api_keys
  language plpgsql security definer
  set search_path = ''
as $$
declare
  o ayb.api_keys;
  r ayb.api_keys;
  actor uuid := coalesce(p_actor, auth.uid());
begin
  select * into o from ayb.api_keys
   where id = p_id and (p_as_user is null or user_id = p_as_user) for update;
  if not found then
    raise exception 'api key % not found', p_id using errcode = 'P0002';
  end if;
  if o.revoked_at is not null or (o.expires_at is not null and o.expires_at <= now()) then
    raise exception 'api key % is revoked or expired; create a new key instead', p_id using errcode = '22023';
  end if;
  if p_grace is not null and (p_grace < interval '0' or p_grace > interval '30 days') then
    raise exception 'grace must be between 0 and 30 days' using errcode = '22023';
  end if;
  -- Settings are copied, so the owner check for app keys is not repeated.
  r := ayb.apikey_create(o.name, p_key_hash, p_key_prefix, o.user_id, o.scope, o.app_id,
                         o.allowed_tables, o.allowed_functions, o.expires_at,
                         o.rate_limit_requests, o.rate_limit_window, o.rate_limit_burst,
                         actor, null, o.id);
  if p_grace is null or p_grace = interval '0' then
    update ayb.api_keys set revoked_at = now(), revoked_by = actor, revoked_reason = 'rotated' where id = o.id;
  else
    update ayb.api_keys set expires_at = least(coalesce(expires_at, 'infinity'), now() + p_grace) where id = o.id;
  end if;
  return r;
end
$$;

-- Who may call what. Admin functions: service_role (admins in psql, the
-- admin API) and ayb_system (the server); never anon or authenticated.
revoke execute on function
  ayb.app_create(text, text, uuid, integer, interval, integer, uuid),
  ayb.app_update(uuid, text, text, uuid, integer, interval, integer, boolean, boolean),
  ayb.app_delete(uuid, uuid), ayb.app_list(boolean), ayb.app_get(uuid), ayb.app_usage(uuid, timestamptz),
  ayb.apikey_create(text, bytea, text, uuid, text, uuid, text[], text[], timestamptz, integer, interval, integer, uuid, uuid, uuid),
  ayb.apikey_list(uuid, uuid, boolean), ayb.apikey_revoke(uuid, uuid, uuid),
  ayb.apikey_rotate(uuid, bytea, text, interval, uuid, uuid),
  ayb.ratelimit_take(text, integer, interval, integer, integer, timestamptz),
  ayb.apikey_take(uuid, integer, timestamptz),
  ayb.apikey_flush(uuid[], uuid[], bigint[], bigint[], timestamptz),
  ayb.ratelimit_sweep(interval, timestamptz)
  from public, anon, authenticated;

grant execute on function
  ayb.app_create(text, text, uuid, integer, interval, integer, uuid),
  ayb.app_update(uuid, text, text, uuid, integer, interval, integer, boolean, boolean),
  ayb.app_delete(uuid, uuid), ayb.app_list(boolean), ayb.app_get(uuid), ayb.app_usage(uuid, timestamptz),
  ayb.apikey_create(text, bytea, text, uuid, text, uuid, text[], text[], timestamptz, integer, interval, integer, uuid, uuid, uuid),
  ayb.apikey_list(uuid, uuid, boolean), ayb.apikey_revoke(uuid, uuid, uuid),
  ayb.apikey_rotate(uuid, bytea, text, interval, uuid, uuid)
  to service_role, ayb_system;

-- The request path's functions belong to the server alone.
grant execute on function
  ayb.ratelimit_take(text, integer, interval, integer, integer, timestamptz),
  ayb.apikey_take(uuid, integer, timestamptz),
  ayb.apikey_flush(uuid[], uuid[], bigint[], bigint[], timestamptz),
  ayb.ratelimit_sweep(interval, timestamptz)
  to ayb_system;

-- Helpers called inside the functions above (by their owner).
grant execute on function
  ayb.ratelimit_policy_check(integer, interval, integer), ayb.app_check_name(text), ayb.app_check_owner(uuid),
  ayb.apikey_check_names(text[], text)
  to ayb_system;
