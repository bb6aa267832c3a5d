CREATE SCHEMA auth;

CREATE SCHEMA ayb;

CREATE TYPE ayb.job_state AS ENUM (
    'available',
    'scheduled',
    'running',
    'retryable',
    'completed',
    'discarded',
    'cancelled'
);

CREATE FUNCTION auth.app_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $_$
  select case
    when (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'app_id')
         operator(pg_catalog.~*) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'app_id')::pg_catalog.uuid
  end
$_$;

CREATE FUNCTION auth.client_id() RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb operator(pg_catalog.->>) 'client_id'
$$;

CREATE FUNCTION auth.email() RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb operator(pg_catalog.->>) 'email'
$$;

CREATE FUNCTION auth.has_scope(requested text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  with s as (
    select coalesce(auth.jwt() ->> 'scope', '') as scope
  ), words as (
    select regexp_split_to_table(scope, '\s+') as w from s where scope <> ''
  )
  select case
    when (select scope from s) = '' then true
    else exists (
      select 1 from words
      where w = requested
         or (w = 'full')
         or (w = 'write' and requested = 'read')
    )
  end
$$;

CREATE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  raw text := nullif(current_setting('request.jwt.claims', true), '');
begin
  if raw is null then
    return '{}'::jsonb;
  end if;
  begin
    return raw::jsonb;
  exception when others then
    raise exception 'request.jwt.claims is not valid JSON'
      using errcode = '22023',
            hint = 'set request.jwt.claims to a JSON object, e.g. select set_config(''request.jwt.claims'', ''{"sub":"..."}'', true)';
  end;
end
$$;

CREATE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb operator(pg_catalog.->>) 'role',
    nullif(pg_catalog.current_setting('role', true), 'none'))
$$;

CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    AS $_$
  select case
    when (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'sub')
         operator(pg_catalog.~*) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'sub')::pg_catalog.uuid
  end
$_$;

CREATE FUNCTION ayb.api_keys_live_app() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.api_keys_notify() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.apikey_check_names(p_names text[], p_what text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $_$
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
$_$;

CREATE TABLE ayb.api_keys (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    key_prefix text NOT NULL,
    key_hash bytea NOT NULL,
    kind text NOT NULL,
    user_id uuid,
    app_id uuid,
    scope text NOT NULL,
    allowed_tables text[] DEFAULT '{}'::text[] NOT NULL,
    allowed_functions text[] DEFAULT '{}'::text[] NOT NULL,
    rate_limit_requests integer,
    rate_limit_window interval,
    rate_limit_burst integer,
    expires_at timestamp with time zone,
    last_used_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by uuid,
    rotated_from uuid,
    revoked_at timestamp with time zone,
    revoked_by uuid,
    revoked_reason text,
    realtime boolean DEFAULT false NOT NULL,
    CONSTRAINT api_keys_allowed_functions_check CHECK ((array_position(allowed_functions, NULL::text) IS NULL)),
    CONSTRAINT api_keys_allowed_tables_check CHECK ((array_position(allowed_tables, NULL::text) IS NULL)),
    CONSTRAINT api_keys_key_hash_check CHECK ((length(key_hash) = 32)),
    CONSTRAINT api_keys_key_prefix_check CHECK ((key_prefix ~ '^ayb_sk_[0-9A-Za-z]{8}$'::text)),
    CONSTRAINT api_keys_kind_check CHECK ((kind = ANY (ARRAY['user'::text, 'service'::text]))),
    CONSTRAINT api_keys_kind_user CHECK ((((kind = 'service'::text) AND (user_id IS NULL)) OR ((kind = 'user'::text) AND ((user_id IS NOT NULL) OR (revoked_at IS NOT NULL))))),
    CONSTRAINT api_keys_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 100))),
    CONSTRAINT api_keys_rate_limit_burst_check CHECK (((rate_limit_burst >= 1) AND (rate_limit_burst <= 1000000000))),
    CONSTRAINT api_keys_rate_limit_complete CHECK ((((rate_limit_requests IS NULL) = (rate_limit_window IS NULL)) AND ((rate_limit_burst IS NULL) OR (rate_limit_requests IS NOT NULL)))),
    CONSTRAINT api_keys_rate_limit_requests_check CHECK (((rate_limit_requests >= 1) AND (rate_limit_requests <= 1000000000))),
    CONSTRAINT api_keys_rate_limit_window_check CHECK (((rate_limit_window >= '00:00:01'::interval) AND (rate_limit_window <= '1 day'::interval))),
    CONSTRAINT api_keys_revoked_reason CHECK (((revoked_at IS NULL) = (revoked_reason IS NULL))),
    CONSTRAINT api_keys_revoked_reason_check CHECK ((revoked_reason = ANY (ARRAY['revoked'::text, 'rotated'::text, 'app_deleted'::text, 'user_deleted'::text]))),
    CONSTRAINT api_keys_scope_check CHECK ((scope = ANY (ARRAY['read'::text, 'write'::text, 'full'::text])))
);

CREATE FUNCTION ayb.apikey_create(p_name text, p_key_hash bytea, p_key_prefix text, p_user_id uuid, p_scope text, p_app_id uuid DEFAULT NULL::uuid, p_allowed_tables text[] DEFAULT '{}'::text[], p_allowed_functions text[] DEFAULT '{}'::text[], p_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone, p_rate_limit_requests integer DEFAULT NULL::integer, p_rate_limit_window interval DEFAULT NULL::interval, p_rate_limit_burst integer DEFAULT NULL::integer, p_actor uuid DEFAULT NULL::uuid, p_as_user uuid DEFAULT NULL::uuid, p_rotated_from uuid DEFAULT NULL::uuid, p_realtime boolean DEFAULT false) RETURNS ayb.api_keys
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
                            rate_limit_requests, rate_limit_window, rate_limit_burst, expires_at, created_by, rotated_from,
                            realtime)
  values (btrim(p_name), p_key_prefix, p_key_hash, case when p_user_id is null then 'service' else 'user' end,
          p_user_id, p_app_id, p_scope, ayb.apikey_check_names(p_allowed_tables, 'table'),
          ayb.apikey_check_names(p_allowed_functions, 'function'),
          p_rate_limit_requests, p_rate_limit_window, p_rate_limit_burst, p_expires_at,
          coalesce(p_actor, auth.uid()), p_rotated_from, coalesce(p_realtime, false))
  returning * into r;
  return r;
end
$$;

CREATE FUNCTION ayb.apikey_flush(p_touch uuid[], p_app_ids uuid[], p_requests bigint[], p_rejected bigint[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS void
    LANGUAGE sql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.apikey_list(p_user_id uuid DEFAULT NULL::uuid, p_app_id uuid DEFAULT NULL::uuid, p_include_revoked boolean DEFAULT true) RETURNS SETOF ayb.api_keys
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select * from ayb.api_keys
   where (p_user_id is null or user_id = p_user_id)
     and (p_app_id is null or app_id = p_app_id)
     and (p_include_revoked or revoked_at is null)
   order by created_at desc, id
$$;

CREATE FUNCTION ayb.apikey_revoke(p_id uuid, p_actor uuid DEFAULT NULL::uuid, p_as_user uuid DEFAULT NULL::uuid) RETURNS ayb.api_keys
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.apikey_rotate(p_id uuid, p_key_hash bytea, p_key_prefix text, p_grace interval DEFAULT NULL::interval, p_actor uuid DEFAULT NULL::uuid, p_as_user uuid DEFAULT NULL::uuid) RETURNS ayb.api_keys
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
                         actor, null, o.id, o.realtime);
  if p_grace is null or p_grace = interval '0' then
    update ayb.api_keys set revoked_at = now(), revoked_by = actor, revoked_reason = 'rotated' where id = o.id;
  else
    update ayb.api_keys set expires_at = least(coalesce(expires_at, 'infinity'), now() + p_grace) where id = o.id;
  end if;
  return r;
end
$$;

CREATE FUNCTION ayb.apikey_set_realtime(p_id uuid, p_realtime boolean, p_as_user uuid DEFAULT NULL::uuid) RETURNS ayb.api_keys
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  r ayb.api_keys;
begin
  if p_realtime is null then
    raise exception 'realtime must be true or false' using errcode = '22023';
  end if;
  select * into r from ayb.api_keys
   where id = p_id and (p_as_user is null or user_id = p_as_user) for update;
  if not found then
    raise exception 'api key % not found', p_id using errcode = 'P0002';
  end if;
  if r.revoked_at is not null then
    raise exception 'api key % is revoked', p_id using errcode = '22023';
  end if;
  if r.realtime is distinct from p_realtime then
    update ayb.api_keys set realtime = p_realtime where id = p_id returning * into r;
  end if;
  return r;
end
$$;

CREATE FUNCTION ayb.apikey_take(p_key_id uuid, p_count integer DEFAULT 1, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone, OUT granted integer, OUT rate_limit integer, OUT window_seconds double precision, OUT remaining integer, OUT reset_after double precision, OUT retry_after double precision) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.app_check_name(p_name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.app_check_owner(p_owner_id uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
  if p_owner_id is not null and not exists (select 1 from ayb.users where id = p_owner_id) then
    raise exception 'owner user % does not exist', p_owner_id using errcode = '22023';
  end if;
end
$$;

CREATE TABLE ayb.apps (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    owner_id uuid,
    rate_limit_requests integer,
    rate_limit_window interval,
    rate_limit_burst integer,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    deleted_by uuid,
    CONSTRAINT apps_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT apps_name_check CHECK ((((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 100)) AND (name = btrim(name)))),
    CONSTRAINT apps_rate_limit_burst_check CHECK (((rate_limit_burst >= 1) AND (rate_limit_burst <= 1000000000))),
    CONSTRAINT apps_rate_limit_complete CHECK ((((rate_limit_requests IS NULL) = (rate_limit_window IS NULL)) AND ((rate_limit_burst IS NULL) OR (rate_limit_requests IS NOT NULL)))),
    CONSTRAINT apps_rate_limit_requests_check CHECK (((rate_limit_requests >= 1) AND (rate_limit_requests <= 1000000000))),
    CONSTRAINT apps_rate_limit_window_check CHECK (((rate_limit_window >= '00:00:01'::interval) AND (rate_limit_window <= '1 day'::interval)))
);

CREATE FUNCTION ayb.app_create(p_name text, p_description text DEFAULT ''::text, p_owner_id uuid DEFAULT NULL::uuid, p_rate_limit_requests integer DEFAULT NULL::integer, p_rate_limit_window interval DEFAULT NULL::interval, p_rate_limit_burst integer DEFAULT NULL::integer, p_actor uuid DEFAULT NULL::uuid) RETURNS ayb.apps
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.app_delete(p_id uuid, p_actor uuid DEFAULT NULL::uuid) RETURNS ayb.apps
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.app_get(p_id uuid) RETURNS ayb.apps
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.app_list(p_include_deleted boolean DEFAULT false) RETURNS SETOF ayb.apps
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select * from ayb.apps
   where p_include_deleted or deleted_at is null
   order by created_at, id
$$;

CREATE FUNCTION ayb.app_update(p_id uuid, p_name text DEFAULT NULL::text, p_description text DEFAULT NULL::text, p_owner_id uuid DEFAULT NULL::uuid, p_rate_limit_requests integer DEFAULT NULL::integer, p_rate_limit_window interval DEFAULT NULL::interval, p_rate_limit_burst integer DEFAULT NULL::integer, p_clear_owner boolean DEFAULT false, p_clear_rate_limit boolean DEFAULT false) RETURNS ayb.apps
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
  -- A new policy starts from a full bucket (other changes keep the state).
  if p_clear_rate_limit or p_rate_limit_requests is not null then
    delete from ayb.ratelimit_state where key = 'app:' || p_id::text;
  end if;
  return r;
end
$$;

CREATE FUNCTION ayb.app_usage(p_app_id uuid, p_since timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(window_start timestamp with time zone, window_seconds double precision, requests bigint, rejected bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.auth_housekeeping(p_now timestamp with time zone, p_args jsonb) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_before timestamptz := p_now - coalesce((p_args ->> 'auth_ended_retention')::interval, interval '1 day');
  v_n bigint;
  v_total bigint := 0;
begin
  delete from ayb.sessions where revoked_at < v_before or expires_at < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  delete from ayb.one_time_tokens where expires_at < v_before or used_at < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  delete from ayb.oauth_exchange_codes where expires_at < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  delete from ayb.oauth_flows where expires_at < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  delete from ayb.auth_throttle where window_start < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  return v_total;
end
$$;

CREATE FUNCTION ayb.auth_refresh(p_hash bytea, p_new_hash bytea, p_now timestamp with time zone, p_ttl interval) RETURNS TABLE(status text, session_id uuid, refresh_id bigint, user_id uuid, email text, password_hash text, email_verified_at timestamp with time zone, metadata jsonb, is_admin boolean, banned_at timestamp with time zone, created_at timestamp with time zone, updated_at timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_token bigint;
  v_session uuid;
  v_live boolean;
  v_new bigint;
begin
  -- Exactly one of two concurrent callers gets the row.
  update ayb.refresh_tokens t set used_at = p_now
   where t.token_hash = p_hash and t.used_at is null
  returning t.id, t.session_id into v_token, v_session;

  if v_token is null then
    update ayb.sessions s set revoked_at = p_now, revoked_reason = 'refresh_reuse'
      from ayb.refresh_tokens t
     where t.token_hash = p_hash and s.id = t.session_id and s.revoked_at is null
    returning s.id into v_session;
    if v_session is not null then
      perform pg_notify('ayb_auth', 'session:' || v_session);
      return query select 'reused'::text, v_session, null::bigint, null::uuid, null::text, null::text,
        null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
      return;
    end if;
    return query select 'invalid'::text, null::uuid, null::bigint, null::uuid, null::text, null::text,
      null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
    return;
  end if;

  select s.revoked_at is null and s.expires_at > p_now and u.banned_at is null into v_live
    from ayb.sessions s join ayb.users u on u.id = s.user_id
   where s.id = v_session;
  if not coalesce(v_live, false) then
    return query select 'ended'::text, v_session, null::bigint, null::uuid, null::text, null::text,
      null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
    return;
  end if;

  update ayb.sessions s set refreshed_at = p_now, expires_at = p_now + p_ttl where s.id = v_session;
  insert into ayb.refresh_tokens (session_id, token_hash, parent_id, created_at)
  values (v_session, p_new_hash, v_token, p_now)
  returning id into v_new;

  return query
    select 'ok'::text, v_session, v_new, u.id, u.email, u.password_hash, u.email_verified_at, u.metadata,
           u.is_admin, u.banned_at, u.created_at, u.updated_at
      from ayb.users u join ayb.sessions s on s.user_id = u.id
     where s.id = v_session;
end
$$;

CREATE FUNCTION ayb.housekeeping_run(p_args jsonb DEFAULT '{}'::jsonb, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(name text, removed bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  r record;
begin
  for r in select h.name, h.function::oid as fn from ayb.housekeeping h order by h.position, h.name loop
    name := r.name;
    execute pg_catalog.format('select %s($1, $2)', r.fn::regproc) into removed
      using coalesce(p_now, pg_catalog.now()), coalesce(p_args, '{}'::jsonb);
    return next;
  end loop;
end
$_$;

CREATE FUNCTION ayb.job_backoff(p_attempt integer) RETURNS interval
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  select pg_catalog.make_interval(secs =>
    least(power(2::float8, least(p_attempt, 30)), 86400) * (0.9 + random() * 0.2))
$$;

CREATE FUNCTION ayb.job_caller_is_admin() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select coalesce(r.rolsuper, false)
      or pg_catalog.pg_has_role(r.oid, 'service_role', 'member')
      or pg_catalog.pg_has_role(r.oid, 'ayb_system', 'member')
  from pg_catalog.pg_roles r
  where r.rolname = coalesce(nullif(pg_catalog.current_setting('role'), 'none'), session_user::text)
$$;

CREATE TABLE ayb.jobs (
    id bigint NOT NULL,
    queue text DEFAULT 'default'::text NOT NULL,
    kind text NOT NULL,
    args jsonb DEFAULT '{}'::jsonb NOT NULL,
    priority smallint DEFAULT 0 NOT NULL,
    state ayb.job_state DEFAULT 'available'::ayb.job_state NOT NULL,
    attempt integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 20 NOT NULL,
    scheduled_at timestamp with time zone DEFAULT now() NOT NULL,
    attempted_at timestamp with time zone,
    attempted_by text,
    lease_until timestamp with time zone,
    finalized_at timestamp with time zone,
    errors jsonb DEFAULT '[]'::jsonb NOT NULL,
    unique_key text,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT jobs_attempt_check CHECK ((attempt >= 0)),
    CONSTRAINT jobs_attempts_within_max CHECK ((attempt <= max_attempts)),
    CONSTRAINT jobs_errors_check CHECK ((jsonb_typeof(errors) = 'array'::text)),
    CONSTRAINT jobs_finalized_has_time CHECK (((state = ANY (ARRAY['completed'::ayb.job_state, 'discarded'::ayb.job_state, 'cancelled'::ayb.job_state])) = (finalized_at IS NOT NULL))),
    CONSTRAINT jobs_kind_check CHECK ((kind ~ '^[A-Za-z0-9_.:-]{1,128}$'::text)),
    CONSTRAINT jobs_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 1000))),
    CONSTRAINT jobs_priority_check CHECK (((priority >= 0) AND (priority <= 9))),
    CONSTRAINT jobs_queue_check CHECK ((queue ~ '^[A-Za-z0-9_.:-]{1,64}$'::text)),
    CONSTRAINT jobs_running_has_lease CHECK (((state <> 'running'::ayb.job_state) OR ((lease_until IS NOT NULL) AND (attempted_at IS NOT NULL) AND (attempted_by IS NOT NULL) AND (attempt >= 1)))),
    CONSTRAINT jobs_unique_key_check CHECK (((length(unique_key) >= 1) AND (length(unique_key) <= 512)))
);

CREATE FUNCTION ayb.job_cancel(p_id bigint, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS ayb.jobs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.jobs;
  v_was ayb.job_state;
begin
  select * into v from ayb.jobs where id = p_id for update;
  if not found then
    raise exception 'job % not found', p_id using errcode = 'PT404';
  end if;
  v_was := v.state;
  if v.state in ('completed', 'discarded', 'cancelled') then
    raise exception 'job % is already %', p_id, v.state using errcode = 'PT409',
      hint = 'only waiting or running jobs can be cancelled';
  end if;
  update ayb.jobs set state = 'cancelled', finalized_at = coalesce(p_now, pg_catalog.now()), lease_until = null
  where id = p_id returning * into v;
  if v_was = 'running' then
    perform pg_catalog.pg_notify('ayb_jobs', 'cancel:' || p_id);
  end if;
  return v;
end
$$;

CREATE FUNCTION ayb.job_claim(p_worker text, p_queue text, p_limit integer, p_lease interval DEFAULT '00:00:30'::interval, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF ayb.jobs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET enable_sort TO 'off'
    SET enable_bitmapscan TO 'off'
    AS $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
begin
  return query
  with due as (
    select j.id from ayb.jobs j
    where j.state in ('available', 'scheduled', 'retryable')
      and j.queue = p_queue
      and j.scheduled_at <= v_now
    order by j.priority, j.scheduled_at, j.id
    limit p_limit
    for update skip locked
  )
  update ayb.jobs j
     set state = 'running',
         attempt = j.attempt + 1,
         attempted_at = v_now,
         attempted_by = p_worker,
         lease_until = v_now + p_lease
    from due
   where j.id = due.id
  returning j.*;
end
$$;

CREATE FUNCTION ayb.job_complete(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  return query
  update ayb.jobs j
     set state = 'completed',
         finalized_at = coalesce(p_now, pg_catalog.now()),
         lease_until = null
    from unnest(p_ids, p_attempts) as u(id, attempt)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id;
end
$$;

CREATE FUNCTION ayb.job_enqueue(p_kinds text[], p_args jsonb[] DEFAULT NULL::jsonb[], p_queues text[] DEFAULT NULL::text[], p_priorities smallint[] DEFAULT NULL::smallint[], p_run_at timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], p_max_attempts integer[] DEFAULT NULL::integer[], p_unique_keys text[] DEFAULT NULL::text[], p_unique_windows interval[] DEFAULT NULL::interval[], p_tags text[] DEFAULT NULL::text[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(id bigint, duplicate boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_n integer := coalesce(pg_catalog.array_length(p_kinds, 1), 0);
  v_i integer;
  v_id bigint;
  v_run timestamptz;
  v_key text;
begin
  if v_n = 0 then
    return;
  end if;
  if 'sql' = any (p_kinds) and not ayb.job_caller_is_admin() then
    raise exception 'only admins may enqueue jobs of kind sql' using errcode = '42501';
  end if;
  if p_unique_keys is null or pg_catalog.array_length(pg_catalog.array_remove(p_unique_keys, null), 1) is null then
    -- Fast path: no unique keys, one INSERT for the whole batch.
    return query
    insert into ayb.jobs (kind, args, queue, priority, state, scheduled_at, max_attempts, tags, created_at)
    select u.kind,
           coalesce(u.args, '{}'::jsonb),
           coalesce(u.queue, 'default'),
           coalesce(u.priority, 0),
           case when coalesce(u.run_at, v_now) > v_now then 'scheduled'::ayb.job_state else 'available'::ayb.job_state end,
           coalesce(u.run_at, v_now),
           coalesce(u.max_attempts, 20),
           coalesce(p_tags, '{}'),
           v_now
    from unnest(p_kinds, p_args, p_queues, p_priorities, p_run_at, p_max_attempts)
           with ordinality as u(kind, args, queue, priority, run_at, max_attempts, ord)
    order by u.ord
    returning ayb.jobs.id, false;
  else
    for v_i in 1 .. v_n loop
      v_key := p_unique_keys[v_i];
      v_run := coalesce(p_run_at[v_i], v_now);
      v_id := null;
      if v_key is not null then
        -- Serialize enqueuers of one key until their transactions end, then
        -- look for a duplicate (read committed: sees committed rows).
        perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ayb.job_unique'), pg_catalog.hashtext(v_key));
        select j.id into v_id from ayb.jobs j
        where j.unique_key = v_key
          and (j.state in ('available', 'scheduled', 'retryable')
               or (p_unique_windows[v_i] is not null and j.created_at > v_now - p_unique_windows[v_i]))
        order by j.id desc limit 1;
      end if;
      if v_id is not null then
        id := v_id; duplicate := true;
        return next;
      else
        insert into ayb.jobs (kind, args, queue, priority, state, scheduled_at, max_attempts, unique_key, tags, created_at)
        values (p_kinds[v_i], coalesce(p_args[v_i], '{}'::jsonb), coalesce(p_queues[v_i], 'default'),
                coalesce(p_priorities[v_i], 0),
                case when v_run > v_now then 'scheduled'::ayb.job_state else 'available'::ayb.job_state end,
                v_run, coalesce(p_max_attempts[v_i], 20), v_key, coalesce(p_tags, '{}'), v_now)
        returning ayb.jobs.id into v_id;
        id := v_id; duplicate := false;
        return next;
      end if;
    end loop;
  end if;
  perform pg_catalog.pg_notify('ayb_jobs', 'insert:' || q)
  from (select distinct coalesce(p_queues[i], 'default') as q
        from pg_catalog.generate_subscripts(p_kinds, 1) as i
        where coalesce(p_run_at[i], v_now) <= v_now) s;
end
$$;

CREATE FUNCTION ayb.job_enqueue(p_kind text, p_args jsonb DEFAULT '{}'::jsonb, p_queue text DEFAULT 'default'::text, p_priority integer DEFAULT 0, p_run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, p_delay interval DEFAULT NULL::interval, p_max_attempts integer DEFAULT 20, p_unique_key text DEFAULT NULL::text, p_unique_window interval DEFAULT NULL::interval, p_tags text[] DEFAULT '{}'::text[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_id bigint;
begin
  if p_run_at is not null and p_delay is not null then
    raise exception 'give run_at or delay, not both' using errcode = '22023';
  end if;
  select e.id into v_id from ayb.job_enqueue(
    array[p_kind], array[p_args], array[p_queue], array[p_priority::smallint],
    array[coalesce(p_run_at, v_now + p_delay)], array[p_max_attempts],
    array[p_unique_key], array[p_unique_window], p_tags, v_now) e;
  return v_id;
end
$$;

CREATE FUNCTION ayb.job_fail(p_ids bigint[], p_attempts integer[], p_errors text[], p_retry_at timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], p_discard boolean[] DEFAULT NULL::boolean[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(id bigint, state ayb.job_state)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  update ayb.jobs j
     set state = case when j.attempt >= j.max_attempts or coalesce(u.discard, false)
                      then 'discarded'::ayb.job_state else 'retryable'::ayb.job_state end,
         scheduled_at = case when j.attempt >= j.max_attempts or coalesce(u.discard, false) then j.scheduled_at
                             else coalesce(u.retry_at, coalesce(p_now, pg_catalog.now()) + ayb.job_backoff(j.attempt)) end,
         finalized_at = case when j.attempt >= j.max_attempts or coalesce(u.discard, false)
                             then coalesce(p_now, pg_catalog.now()) end,
         lease_until = null,
         errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'attempt', j.attempt, 'at', coalesce(p_now, pg_catalog.now()),
                    'by', j.attempted_by, 'error', left(coalesce(u.error, 'unknown error'), 4000)))
    from unnest(p_ids, p_attempts, p_errors, p_retry_at, p_discard) as u(id, attempt, error, retry_at, discard)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id, j.state
$$;

CREATE FUNCTION ayb.job_heartbeat(p_ids bigint[], p_attempts integer[], p_lease interval DEFAULT '00:00:30'::interval, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  update ayb.jobs j
     set lease_until = coalesce(p_now, pg_catalog.now()) + p_lease
    from unnest(p_ids, p_attempts) as u(id, attempt)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id
$$;

CREATE FUNCTION ayb.job_housekeeping(p_now timestamp with time zone, p_args jsonb) RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select ayb.job_prune(coalesce((p_args ->> 'completed_retention')::interval, '1 day'),
                       coalesce((p_args ->> 'failed_retention')::interval, '7 days'), p_now)
$$;

CREATE FUNCTION ayb.job_prune(p_completed_age interval DEFAULT '1 day'::interval, p_failed_age interval DEFAULT '7 days'::interval, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_n bigint;
begin
  with d as (
    delete from ayb.jobs j
    where j.finalized_at is not null
      and ((j.state = 'completed' and j.finalized_at < v_now - p_completed_age)
        or (j.state in ('discarded', 'cancelled') and j.finalized_at < v_now - p_failed_age))
    returning 1
  ) select count(*) into v_n from d;
  return v_n;
end
$$;

CREATE FUNCTION ayb.job_release(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  return query
  update ayb.jobs j
     set state = 'available',
         scheduled_at = coalesce(p_now, pg_catalog.now()),
         lease_until = null,
         max_attempts = greatest(j.max_attempts, j.attempt + 1),
         errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'attempt', j.attempt, 'at', coalesce(p_now, pg_catalog.now()),
                    'by', j.attempted_by, 'error', 'released: worker shut down'))
    from unnest(p_ids, p_attempts) as u(id, attempt)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id;
  if found then
    perform pg_catalog.pg_notify('ayb_jobs', 'insert:' || q)
    from (select distinct j.queue as q from ayb.jobs j where j.id = any (p_ids)) s;
  end if;
end
$$;

CREATE FUNCTION ayb.job_rescue(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_n integer;
begin
  with stuck as (
    select j.id from ayb.jobs j
    where j.state = 'running' and j.lease_until < v_now
    for update skip locked
  ), upd as (
    update ayb.jobs j
       set state = case when j.attempt >= j.max_attempts then 'discarded'::ayb.job_state else 'retryable'::ayb.job_state end,
           finalized_at = case when j.attempt >= j.max_attempts then v_now end,
           scheduled_at = v_now,
           lease_until = null,
           errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                      'attempt', j.attempt, 'at', v_now, 'by', j.attempted_by,
                      'error', 'lease expired: worker lost'))
      from stuck where j.id = stuck.id
    returning j.queue, j.state
  )
  select count(*) into v_n from upd;
  if v_n > 0 then
    perform pg_catalog.pg_notify('ayb_jobs', 'insert:' || q)
    from (select distinct j.queue as q from ayb.jobs j where j.state = 'retryable' and j.scheduled_at = v_now) s;
  end if;
  return v_n;
end
$$;

CREATE FUNCTION ayb.job_retry(p_id bigint, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS ayb.jobs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.jobs;
begin
  select * into v from ayb.jobs where id = p_id for update;
  if not found then
    raise exception 'job % not found', p_id using errcode = 'PT404';
  end if;
  if v.state in ('running', 'available') then
    raise exception 'job % is %', p_id, v.state using errcode = 'PT409',
      hint = 'only completed, discarded, cancelled, scheduled or retryable jobs can be retried';
  end if;
  update ayb.jobs
     set state = 'available', scheduled_at = coalesce(p_now, pg_catalog.now()), finalized_at = null,
         max_attempts = greatest(max_attempts, attempt + 1)
   where id = p_id returning * into v;
  perform pg_catalog.pg_notify('ayb_jobs', 'insert:' || v.queue);
  return v;
end
$$;

CREATE FUNCTION ayb.job_run_sql(p_function text, p_args jsonb) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
declare
  v_fn regprocedure;
  v_schema text;
  v_name text;
  v_out text;
begin
  begin
    v_fn := pg_catalog.to_regprocedure(p_function || '(jsonb)');
  exception when others then
    v_fn := null;
  end;
  if v_fn is null then
    raise exception 'function %(jsonb) does not exist', p_function using errcode = '42883',
      hint = 'a sql job calls a function that takes one jsonb argument: {"function": "schema.name", "args": {...}}';
  end if;
  select n.nspname, p.proname into v_schema, v_name
  from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace where p.oid = v_fn;
  execute pg_catalog.format('select %I.%I($1)::text', v_schema, v_name) into v_out using p_args;
  return v_out;
end
$_$;

CREATE FUNCTION ayb.matview_check(p_schema text, p_name text, p_mode text) RETURNS oid
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  v_oid oid;
  v_populated boolean;
begin
  select c.oid, c.relispopulated into v_oid, v_populated
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = p_schema and c.relname = p_name and c.relkind = 'm';
  if v_oid is null then
    raise exception 'materialized view %.% does not exist', p_schema, p_name using errcode = 'PT404';
  end if;
  if p_mode = 'concurrent' then
    if not v_populated then
      raise exception 'materialized view %.% is not populated, so it cannot be refreshed concurrently', p_schema, p_name
        using errcode = 'PT409', hint = 'refresh it once in standard mode first';
    end if;
    if not exists (select 1 from pg_catalog.pg_index i
                   where i.indrelid = v_oid and i.indisunique and i.indisvalid
                     and i.indpred is null and i.indexprs is null) then
      raise exception 'materialized view %.% has no unique index on plain columns without a WHERE clause, which concurrent refresh needs', p_schema, p_name
        using errcode = 'PT409',
              hint = pg_catalog.format('create unique index on %I.%I (<key columns>), or use mode standard', p_schema, p_name);
    end if;
  end if;
  return v_oid;
end
$$;

CREATE TABLE ayb.matviews (
    id bigint NOT NULL,
    schema_name text NOT NULL,
    view_name text NOT NULL,
    mode text DEFAULT 'standard'::text NOT NULL,
    refresh_on_change boolean DEFAULT false NOT NULL,
    debounce interval DEFAULT '00:00:02'::interval NOT NULL,
    last_refresh_at timestamp with time zone,
    last_duration_ms double precision,
    last_status text,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT matviews_check CHECK (((last_status IS NULL) = (last_refresh_at IS NULL))),
    CONSTRAINT matviews_check1 CHECK (((last_status IS DISTINCT FROM 'error'::text) OR (last_error IS NOT NULL))),
    CONSTRAINT matviews_debounce_check CHECK (((debounce >= '00:00:00'::interval) AND (debounce <= '1 day'::interval))),
    CONSTRAINT matviews_last_status_check CHECK ((last_status = ANY (ARRAY['success'::text, 'error'::text]))),
    CONSTRAINT matviews_mode_check CHECK ((mode = ANY (ARRAY['standard'::text, 'concurrent'::text]))),
    CONSTRAINT matviews_schema_name_check CHECK ((schema_name ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'::text)),
    CONSTRAINT matviews_view_name_check CHECK ((view_name ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'::text))
);

CREATE FUNCTION ayb.matview_get(p_view text) RETURNS ayb.matviews
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.matviews;
  s record;
begin
  s := ayb.matview_split(p_view);
  select * into v from ayb.matviews m where m.schema_name = s.schema_name and m.view_name = s.view_name;
  if not found then
    raise exception 'materialized view %.% is not registered', s.schema_name, s.view_name using errcode = 'PT404',
      hint = 'register it with ayb.matview_register';
  end if;
  return v;
end
$$;

CREATE FUNCTION ayb.matview_on_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.matviews;
  v_key text;
begin
  select * into v from ayb.matviews m where m.id = tg_argv[0]::bigint;
  if not found or not v.refresh_on_change then
    return null;
  end if;
  v_key := 'matview.refresh:' || v.schema_name || '.' || v.view_name;
  -- Fast path without the key's lock: a refresh is already pending.
  if exists (select 1 from ayb.jobs j where j.unique_key = v_key and j.state in ('available', 'scheduled', 'retryable')) then
    return null;
  end if;
  perform ayb.job_enqueue('matview.refresh',
    pg_catalog.jsonb_build_object('view', v.schema_name || '.' || v.view_name, 'triggered_by', 'change'),
    'default', 0, null, v.debounce, 5, v_key, null, '{}', null);
  return null;
end
$$;

CREATE TABLE ayb.matview_refreshes (
    id bigint NOT NULL,
    matview_id bigint NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL,
    duration_ms double precision NOT NULL,
    status text NOT NULL,
    error text,
    error_code text,
    triggered_by text DEFAULT 'manual'::text NOT NULL,
    CONSTRAINT matview_refreshes_check CHECK ((finished_at >= started_at)),
    CONSTRAINT matview_refreshes_check1 CHECK (((status = 'error'::text) = (error IS NOT NULL))),
    CONSTRAINT matview_refreshes_duration_ms_check CHECK ((duration_ms >= (0)::double precision)),
    CONSTRAINT matview_refreshes_status_check CHECK ((status = ANY (ARRAY['success'::text, 'error'::text]))),
    CONSTRAINT matview_refreshes_triggered_by_check CHECK (((length(triggered_by) >= 1) AND (length(triggered_by) <= 200)))
);

CREATE FUNCTION ayb.matview_refresh(p_view text, p_triggered_by text DEFAULT 'manual'::text) RETURNS ayb.matview_refreshes
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.matviews;
  h ayb.matview_refreshes;
  v_start timestamptz := pg_catalog.clock_timestamp();
  v_end timestamptz;
  v_err text;
  v_code text;
begin
  v := ayb.matview_get(p_view);
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('ayb.matview_refresh'), v.id::integer) then
    raise exception 'materialized view %.% is already refreshing', v.schema_name, v.view_name
      using errcode = 'PT409', hint = 'wait for the running refresh to finish';
  end if;
  begin
    perform ayb.matview_check(v.schema_name, v.view_name, v.mode);
    execute pg_catalog.format('refresh materialized view %s %I.%I',
      case when v.mode = 'concurrent' then 'concurrently' else '' end, v.schema_name, v.view_name);
  exception when others then
    get stacked diagnostics v_err = message_text, v_code = returned_sqlstate;
  end;
  v_end := pg_catalog.clock_timestamp();
  insert into ayb.matview_refreshes (matview_id, started_at, finished_at, duration_ms, status, error, error_code, triggered_by)
  values (v.id, v_start, v_end, extract(epoch from v_end - v_start) * 1000,
          case when v_err is null then 'success' else 'error' end, v_err, v_code, coalesce(p_triggered_by, 'manual'))
  returning * into h;
  update ayb.matviews m
     set last_refresh_at = v_start, last_duration_ms = h.duration_ms, last_status = h.status, last_error = v_err
   where m.id = v.id;
  if v_err is null then
    perform pg_catalog.pg_notify('matview_refreshed', v.schema_name || '.' || v.view_name);
  end if;
  return h;
end
$$;

CREATE FUNCTION ayb.matview_register(p_view text, p_mode text DEFAULT 'standard'::text, p_schedule text DEFAULT NULL::text, p_timezone text DEFAULT 'UTC'::text, p_refresh_on_change boolean DEFAULT false, p_debounce interval DEFAULT '00:00:02'::interval) RETURNS ayb.matviews
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.matviews;
  s record;
begin
  s := ayb.matview_split(p_view);
  if p_mode is null or p_mode not in ('standard', 'concurrent') then
    raise exception 'invalid refresh mode %', p_mode using errcode = '22023', hint = 'standard or concurrent';
  end if;
  perform ayb.matview_check(s.schema_name, s.view_name, p_mode);
  if exists (select 1 from ayb.matviews m where m.schema_name = s.schema_name and m.view_name = s.view_name) then
    raise exception 'materialized view %.% is already registered', s.schema_name, s.view_name using errcode = 'PT409',
      hint = 'update it with ayb.matview_update';
  end if;
  insert into ayb.matviews (schema_name, view_name, mode, refresh_on_change, debounce)
  values (s.schema_name, s.view_name, p_mode, coalesce(p_refresh_on_change, false), coalesce(p_debounce, '2 seconds'))
  returning * into v;
  perform ayb.matview_sync_triggers(v.id);
  perform ayb.matview_sync_schedule(v.id, p_schedule, p_timezone);
  return v;
end
$$;

CREATE FUNCTION ayb.matview_sources(p_oid oid) RETURNS SETOF regclass
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  with recursive deps(oid) as (
    select d.refobjid
    from pg_catalog.pg_rewrite r
    join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid = r.oid
                               and d.refclassid = 'pg_catalog.pg_class'::regclass
    where r.ev_class = p_oid and d.refobjid <> p_oid
    union
    select d.refobjid
    from deps
    join pg_catalog.pg_rewrite r on r.ev_class = deps.oid
    join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid = r.oid
                               and d.refclassid = 'pg_catalog.pg_class'::regclass
    where d.refobjid <> deps.oid
  )
  select distinct deps.oid::regclass from deps
  join pg_catalog.pg_class c on c.oid = deps.oid
  where c.relkind in ('r', 'p')
$$;

CREATE FUNCTION ayb.matview_split(p_view text, OUT schema_name text, OUT view_name text) RETURNS record
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
declare
  v_parts text[];
begin
  v_parts := pg_catalog.parse_ident(p_view);
  if pg_catalog.array_length(v_parts, 1) = 1 then
    schema_name := 'public'; view_name := v_parts[1];
  elsif pg_catalog.array_length(v_parts, 1) = 2 then
    schema_name := v_parts[1]; view_name := v_parts[2];
  else
    raise exception 'invalid view name %', p_view using errcode = '22023', hint = 'use view or schema.view';
  end if;
exception when invalid_parameter_value or syntax_error or invalid_name then
  raise exception 'invalid view name %', p_view using errcode = '22023', hint = 'use view or schema.view';
end
$$;

CREATE FUNCTION ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v ayb.matviews;
  v_name text;
begin
  select * into v from ayb.matviews m where m.id = p_id;
  v_name := 'matview:' || v.schema_name || '.' || v.view_name;
  if p_cron is null then
    delete from ayb.schedules s where s.name = v_name;
  else
    perform ayb.schedule_upsert(v_name, p_cron, 'matview.refresh',
      pg_catalog.jsonb_build_object('view', v.schema_name || '.' || v.view_name, 'triggered_by', 'schedule'),
      coalesce(p_timezone, 'UTC'), 'default', 0, 5, true, true);
  end if;
end
$$;

CREATE FUNCTION ayb.matview_sync_triggers(p_id bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v ayb.matviews;
  v_oid oid;
  r record;
  v_trigger text := 'ayb_matview_refresh_' || p_id;
begin
  -- Drop ours wherever they are, then recreate if wanted.
  for r in select t.tgrelid::regclass as tbl from pg_catalog.pg_trigger t where t.tgname = v_trigger loop
    execute pg_catalog.format('drop trigger %I on %s', v_trigger, r.tbl);
  end loop;
  select * into v from ayb.matviews m where m.id = p_id;
  if not found or not v.refresh_on_change then
    return;
  end if;
  v_oid := ayb.matview_check(v.schema_name, v.view_name, 'standard');
  for r in select s as tbl from ayb.matview_sources(v_oid) s loop
    execute pg_catalog.format(
      'create trigger %I after insert or update or delete or truncate on %s for each statement execute function ayb.matview_on_change(%L)',
      v_trigger, r.tbl, p_id::text);
  end loop;
end
$$;

CREATE FUNCTION ayb.matview_unregister(p_view text) RETURNS ayb.matviews
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.matviews;
begin
  v := ayb.matview_get(p_view);
  update ayb.matviews m set refresh_on_change = false where m.id = v.id;
  perform ayb.matview_sync_triggers(v.id);
  perform ayb.matview_sync_schedule(v.id, null, null);
  delete from ayb.matviews m where m.id = v.id;
  return v;
end
$$;

CREATE FUNCTION ayb.matview_update(p_view text, p_mode text DEFAULT NULL::text, p_schedule text DEFAULT NULL::text, p_timezone text DEFAULT NULL::text, p_refresh_on_change boolean DEFAULT NULL::boolean, p_debounce interval DEFAULT NULL::interval) RETURNS ayb.matviews
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.matviews;
  v_sched ayb.schedules;
begin
  v := ayb.matview_get(p_view);
  if p_mode is not null and p_mode not in ('standard', 'concurrent') then
    raise exception 'invalid refresh mode %', p_mode using errcode = '22023', hint = 'standard or concurrent';
  end if;
  perform ayb.matview_check(v.schema_name, v.view_name, coalesce(p_mode, v.mode));
  update ayb.matviews m
     set mode = coalesce(p_mode, m.mode),
         refresh_on_change = coalesce(p_refresh_on_change, m.refresh_on_change),
         debounce = coalesce(p_debounce, m.debounce),
         updated_at = pg_catalog.now()
   where m.id = v.id returning * into v;
  perform ayb.matview_sync_triggers(v.id);
  if p_schedule is not null or p_timezone is not null then
    select * into v_sched from ayb.schedules s where s.name = 'matview:' || v.schema_name || '.' || v.view_name;
    perform ayb.matview_sync_schedule(v.id,
      case when p_schedule = '' then null else coalesce(p_schedule, v_sched.cron) end,
      coalesce(p_timezone, v_sched.timezone, 'UTC'));
  end if;
  return v;
end
$$;

CREATE FUNCTION ayb.ratelimit_policy_check(p_requests integer, p_window interval, p_burst integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.ratelimit_sweep(p_keep_usage interval DEFAULT '30 days'::interval, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS void
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  delete from ayb.ratelimit_state where tat < coalesce(p_now, now()) - interval '1 day';
  delete from ayb.app_usage where window_start < coalesce(p_now, now()) - p_keep_usage;
$$;

CREATE FUNCTION ayb.ratelimit_take(p_key text, p_requests integer, p_window interval, p_burst integer DEFAULT NULL::integer, p_count integer DEFAULT 1, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone, OUT granted integer, OUT remaining integer, OUT reset_after double precision, OUT retry_after double precision) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_capture() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  newimg jsonb;
  oldimg jsonb;
  keyimg jsonb;
begin
  if coalesce(current_setting('ayb.realtime_xact', true), '') <> pg_current_xact_id()::text then
    perform pg_advisory_xact_lock_shared(ayb.realtime_lock_base()
      + coalesce(pg_sequence_last_value('ayb.realtime_event_id_seq'), 0));
    perform set_config('ayb.realtime_xact', pg_current_xact_id()::text, true);
    if not pg_try_advisory_xact_lock(ayb.realtime_signal_key()) then
      perform pg_notify('ayb_realtime', '');
    end if;
  end if;
  if tg_op <> 'DELETE' then
    newimg := to_jsonb(new);
  end if;
  if tg_op <> 'INSERT' then
    oldimg := to_jsonb(old);
  end if;
  keyimg := coalesce(newimg, oldimg);
  insert into ayb.realtime_events (tbl, op, pk, record, old_record)
  values (tg_relid, lower(tg_op),
          (select jsonb_object_agg(k, keyimg -> k) from unnest(tg_argv) as k),
          newimg, oldimg);
  return null;
end
$$;

CREATE FUNCTION ayb.realtime_check(p_table regclass, p_role text, p_claims text[], p_images jsonb[], p_general boolean DEFAULT false, p_uids uuid[] DEFAULT NULL::uuid[]) RETURNS TABLE(claims_idx integer, image_idx integer)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
declare
  n integer;
  qual text;
  fast text;
  v_fp text;
  fname text;
  relname text;
begin
  if p_role not in ('anon', 'authenticated', 'service_role') then
    raise exception 'realtime: refusing to check as role %', p_role using errcode = '22023';
  end if;
  if p_claims is null and p_uids is null then
    raise exception 'realtime: give the claims or the uids of the subscribers' using errcode = '22023';
  end if;
  n := coalesce(cardinality(p_claims), cardinality(p_uids));
  -- Deparsing the policies on every call cost more than the check itself,
  -- so the compiled forms are cached per session under a fingerprint of
  -- everything they derive from.
  v_fp := ayb.realtime_fingerprint(p_table, p_role);
  if to_regclass('pg_temp.ayb_rt_plans') is null then
    create temp table ayb_rt_plans (tbl oid, role text, fp text, qual text, fast text, primary key (tbl, role));
  end if;
  select pl.qual, pl.fast into qual, fast from pg_temp.ayb_rt_plans pl
   where pl.tbl = p_table and pl.role = p_role and pl.fp = v_fp;
  if not found then
    qual := ayb.realtime_qual(p_table, p_role);
    fast := ayb.realtime_fast_qual(p_table, p_role, qual);
    insert into pg_temp.ayb_rt_plans values (p_table, p_role, v_fp, qual, fast)
      on conflict (tbl, role) do update set fp = excluded.fp, qual = excluded.qual, fast = excluded.fast;
  end if;
  if p_general then
    fast := null;
  end if;
  if qual = 'false' then
    return;
  end if;
  if qual = 'true' then
    return query select c, i from generate_series(1, n) c, generate_subscripts(p_images, 1) i;
    return;
  end if;
  select c.relname into relname from pg_catalog.pg_class c where c.oid = p_table;
  if fast is not null then
    -- Set-based: every claims set against every image in one statement.
    fname := 'ayb_rtf_' || md5(p_table::oid::text || ':' || fast);
    if to_regprocedure('pg_temp.' || fname || '(text,jsonb[],uuid[],jsonb[])') is null then
      execute format($f$
        create function pg_temp.%1$I(p_role text, p_claims jsonb[], p_uids uuid[], p_images jsonb[])
          returns table (claims_idx integer, image_idx integer)
          language plpgsql volatile
        as $ayb_rt_body$
        begin
          perform set_config('role', p_role, true);
          return query
            select ayb_rt_s.ayb_rt_cord::integer, ayb_rt_u.ayb_rt_iord::integer
              from unnest(p_claims, p_uids) with ordinality as ayb_rt_s(ayb_rt_claims, ayb_rt_uid, ayb_rt_cord)
              cross join unnest(p_images) with ordinality as ayb_rt_u(ayb_rt_img, ayb_rt_iord)
              cross join lateral jsonb_populate_record(null::%2$s, ayb_rt_u.ayb_rt_img) as %3$I
             where %4$s;
          perform set_config('role', 'none', true);
        end
        $ayb_rt_body$
      $f$, fname, p_table, relname, fast);
      execute format('grant execute on function pg_temp.%I(text, jsonb[], uuid[], jsonb[]) to public', fname);
    end if;
    -- auth.uid() of each claims set; the server passes them precomputed
    -- (a regex per subscriber per call is this path's largest cost).
    if p_uids is null then
      select array_agg(case when (c::jsonb ->> 'sub') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                            then (c::jsonb ->> 'sub')::uuid end order by o)
        into p_uids from unnest(p_claims) with ordinality as x(c, o);
    end if;
    -- Claims are parsed only when the policy reads auth.jwt(): parsing
    -- 1,000 claims objects costs more than checking them.
    if strpos(fast, 'ayb_rt_claims') > 0 and p_claims is null then
      raise exception 'realtime: this policy reads the claims; send them' using errcode = 'AYRCL';
    end if;
    return query execute format('select * from pg_temp.%I($1, $2, $3, $4)', fname)
      using p_role,
            case when strpos(fast, 'ayb_rt_claims') > 0 then p_claims::jsonb[]
                 else array_fill(null::jsonb, array[n]) end,
            p_uids, p_images;
    return;
  end if;
  if p_claims is null then
    raise exception 'realtime: this policy is checked per claims set; send them' using errcode = 'AYRCL';
  end if;
  fname := 'ayb_rt_' || md5(p_table::oid::text || ':' || qual);
  if to_regprocedure('pg_temp.' || fname || '(text,text[],jsonb[])') is null then
    execute format($f$
      create function pg_temp.%1$I(p_role text, p_claims text[], p_images jsonb[])
        returns table (claims_idx integer, image_idx integer)
        language plpgsql volatile
      as $ayb_rt_body$
      declare
        i integer;
        vis integer[];
      begin
        perform set_config('role', p_role, true);
        for i in 1 .. coalesce(array_length(p_claims, 1), 0) loop
          perform set_config('request.jwt.claims', p_claims[i], true);
          select array_agg(ayb_rt_ord::integer) into vis
            from unnest(p_images) with ordinality as ayb_rt_u(ayb_rt_img, ayb_rt_ord)
            cross join lateral jsonb_populate_record(null::%2$s, ayb_rt_img) as %3$I
           where %4$s;
          claims_idx := i;
          foreach image_idx in array coalesce(vis, '{}') loop
            return next;
          end loop;
        end loop;
        perform set_config('role', 'none', true);
      end
      $ayb_rt_body$
    $f$, fname, p_table, relname, qual);
    execute format('grant execute on function pg_temp.%I(text, text[], jsonb[]) to public', fname);
  end if;
  return query execute format('select * from pg_temp.%I($1, $2, $3)', fname) using p_role, p_claims, p_images;
end
$_$;

CREATE FUNCTION ayb.realtime_columns(p_table regclass, p_role text) RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
  return (select coalesce(array_agg(a.attname::text order by a.attnum), '{}')
            from pg_catalog.pg_attribute a
           where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
             and has_column_privilege(p_role, p_table, a.attnum, 'SELECT'));
end
$$;

CREATE FUNCTION ayb.realtime_disable(p_table regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  execute format('drop trigger if exists ayb_realtime on %s', p_table);
  delete from ayb.realtime_tables where tbl = p_table;
end
$$;

CREATE FUNCTION ayb.realtime_enable(p_table regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  cols text[];
  rel record;
begin
  select c.relkind, n.nspname into rel
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_table;
  if rel.relkind not in ('r', 'p') then
    raise exception 'realtime: % is not a table', p_table using errcode = '22023';
  end if;
  if rel.nspname in ('ayb', 'auth', 'pg_catalog', 'information_schema') then
    raise exception 'realtime: % is a system table', p_table using errcode = '22023';
  end if;
  select array_agg(a.attname::text order by k.ord) into cols
    from pg_catalog.pg_index i
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
   where i.indrelid = p_table and i.indisprimary;
  if cols is null then
    raise exception 'realtime: % has no primary key', p_table using errcode = '22023',
      hint = 'events name rows by their primary key; add one with alter table ... add primary key';
  end if;
  execute format('drop trigger if exists ayb_realtime on %s', p_table);
  execute format('create trigger ayb_realtime after insert or update or delete on %s '
                 'for each row execute function ayb.realtime_capture(%s)',
                 p_table, (select string_agg(quote_literal(c), ', ') from unnest(cols) c));
  insert into ayb.realtime_tables (tbl, pk_columns) values (p_table, cols)
    on conflict (tbl) do update set pk_columns = excluded.pk_columns;
end
$$;

CREATE FUNCTION ayb.realtime_fast_qual(p_table regclass, p_role text, p_qual text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  q text;
begin
  -- A sublink reading the table itself would apply its policies again
  -- (pg_depend keeps no self-reference, so look at the text: relations in
  -- the deparsed qual are schema-qualified).
  if p_qual in ('true', 'false') or strpos(p_qual, p_table::text) > 0 then
    return null;
  end if;
  if exists (
    select 1
      from pg_catalog.pg_policy p
      join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
     where p.polrelid = p_table and p.polcmd in ('r', '*')
       and (p.polroles = '{0}' or exists (
             select 1 from unnest(p.polroles) pr where pg_has_role(p_role, pr, 'USAGE')))
       and d.deptype = 'n'
       and case d.refclassid
         when 'pg_catalog.pg_class'::regclass then
           d.refobjid = p_table and d.refobjsubid = 0
           or (d.refobjid <> p_table and not exists (
                 select 1 from pg_catalog.pg_class c
                  where c.oid = d.refobjid and c.relkind in ('r', 'p') and not c.relrowsecurity))
         when 'pg_catalog.pg_proc'::regclass then not exists (
                 select 1 from pg_catalog.pg_proc f join pg_catalog.pg_namespace n on n.oid = f.pronamespace
                  where f.oid = d.refobjid
                    and ((n.nspname = 'pg_catalog' and f.proname not in ('current_setting', 'set_config'))
                      or (n.nspname = 'auth' and f.proname in ('uid', 'jwt') and f.pronargs = 0)))
         when 'pg_catalog.pg_operator'::regclass then not exists (
                 select 1 from pg_catalog.pg_operator o join pg_catalog.pg_namespace n on n.oid = o.oprnamespace
                  where o.oid = d.refobjid and n.nspname = 'pg_catalog')
         else false
       end) then
    return null;
  end if;
  q := replace(replace(p_qual, 'auth.uid()', 'ayb_rt_s.ayb_rt_uid'), 'auth.jwt()', 'ayb_rt_s.ayb_rt_claims');
  if q like '%auth.%' or q like '%current\_setting%' then
    return null;
  end if;
  return q;
end
$$;

CREATE FUNCTION ayb.realtime_fingerprint(p_table regclass, p_role text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
begin
  return md5(concat_ws('|',
    (select concat(c.relrowsecurity, c.relforcerowsecurity, c.relowner, c.relacl::text)
       from pg_catalog.pg_class c where c.oid = p_table),
    has_any_column_privilege(p_role, p_table, 'SELECT'),
    (select concat(r.oid, r.rolbypassrls, r.rolsuper) from pg_catalog.pg_roles r where r.rolname = p_role),
    (select string_agg(concat(p.oid, p.polpermissive, p.polcmd, p.polroles::text, p.polqual::text,
                              (select string_agg(pg_has_role(p_role, pr, 'USAGE')::text, ',') from unnest(p.polroles) pr
                                where pr <> 0)), ',' order by p.oid)
       from pg_catalog.pg_policy p where p.polrelid = p_table),
    (select string_agg(concat(d.refobjid, c2.relkind, c2.relrowsecurity, c2.relnamespace, c2.relname), ',' order by d.refobjid)
       from pg_catalog.pg_policy p
       join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
       join pg_catalog.pg_class c2 on d.refclassid = 'pg_catalog.pg_class'::regclass and c2.oid = d.refobjid
      where p.polrelid = p_table)));
end
$$;

CREATE FUNCTION ayb.realtime_horizon() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  l bigint;
  m bigint;
begin
  l := coalesce(pg_sequence_last_value('ayb.realtime_event_id_seq'), 0);
  select min(((lk.classid::bigint << 32) | lk.objid::bigint) - ayb.realtime_lock_base())
    into m
    from pg_catalog.pg_locks lk
   where lk.locktype = 'advisory' and lk.objsubid = 1
     and lk.database = (select oid from pg_catalog.pg_database where datname = current_database())
     and lk.classid::bigint between (ayb.realtime_lock_base() >> 32) and (ayb.realtime_lock_base() >> 32) + 65535;
  return least(l, coalesce(m, l));
end
$$;

CREATE FUNCTION ayb.realtime_list() RETURNS TABLE(tbl text, pk_columns text[], enabled_at timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select t.tbl::text, t.pk_columns, t.enabled_at from ayb.realtime_tables t order by 1
$$;

CREATE FUNCTION ayb.realtime_lock_base() RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$ select 4708794885392564224::pg_catalog.int8 $$;

CREATE FUNCTION ayb.realtime_prune(older_than interval, now timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  through bigint;
  n bigint;
begin
  if older_than is null or older_than < interval '0' then
    raise exception 'the retention must not be negative (got %)', coalesce(older_than::text, 'null')
      using errcode = '22023', hint = 'for example ayb.realtime_prune(''1 hour'')';
  end if;
  with d as (
    delete from ayb.realtime_events
     where created_at < now - older_than and id <= ayb.realtime_horizon()
    returning id
  )
  select max(id), count(*) into through, n from d;
  if through is not null then
    update ayb.realtime_state set pruned_through = greatest(pruned_through, through);
  end if;
  return coalesce(n, 0);
end
$$;

CREATE FUNCTION ayb.realtime_pruned_through() RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$ select pruned_through from ayb.realtime_state $$;

CREATE FUNCTION ayb.realtime_qual(p_table regclass, p_role text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  permissive text;
  restrictive text;
  rls boolean;
  forced boolean;
  owner oid;
begin
  if not has_any_column_privilege(p_role, p_table, 'SELECT') then
    return 'false';
  end if;
  select c.relrowsecurity, c.relforcerowsecurity, c.relowner into rls, forced, owner
    from pg_catalog.pg_class c where c.oid = p_table;
  if not rls
     or (select r.rolbypassrls or r.rolsuper from pg_catalog.pg_roles r where r.rolname = p_role)
     or ((select r.oid from pg_catalog.pg_roles r where r.rolname = p_role) = owner and not forced) then
    return 'true';
  end if;
  select string_agg('(' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'false') || ')', ' or ' order by p.polname)
           filter (where p.polpermissive),
         string_agg('(' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'false') || ')', ' and ' order by p.polname)
           filter (where not p.polpermissive)
    into permissive, restrictive
    from pg_catalog.pg_policy p
   where p.polrelid = p_table and p.polcmd in ('r', '*')
     and (p.polroles = '{0}' or exists (
           select 1 from unnest(p.polroles) pr where pg_has_role(p_role, pr, 'USAGE')));
  if permissive is null then
    return 'false';
  end if;
  return '(' || permissive || ')' || coalesce(' and (' || restrictive || ')', '');
end
$$;

CREATE FUNCTION ayb.realtime_read(p_after bigint, p_limit integer) RETURNS TABLE(id bigint, tbl text, op text, pk jsonb, record jsonb, old_record jsonb, created_at timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  h bigint := ayb.realtime_horizon();
begin
  return query
    select e.id, e.tbl::text, e.op, e.pk, e.record, e.old_record, e.created_at
      from ayb.realtime_events e
     where e.id > p_after and e.id <= h
     order by e.id
     limit p_limit;
end
$$;

CREATE FUNCTION ayb.realtime_resolve(p_names text[], p_role text) RETURNS TABLE(name text, tbl text, enabled boolean, columns text[], pk_columns text[])
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  nm text;
  rel regclass;
begin
  foreach nm in array p_names loop
    rel := to_regclass(case when nm like '%.%' then nm else 'public.' || quote_ident(nm) end);
    if rel is null then
      rel := to_regclass(nm);
    end if;
    name := nm;
    tbl := rel::text;
    enabled := false;
    columns := '{}';
    pk_columns := '{}';
    if rel is not null then
      select true, t.pk_columns into enabled, pk_columns from ayb.realtime_tables t where t.tbl = rel;
      enabled := coalesce(enabled, false);
      pk_columns := coalesce(pk_columns, '{}');
      columns := ayb.realtime_columns(rel, p_role);
    end if;
    return next;
  end loop;
end
$$;

CREATE FUNCTION ayb.realtime_rows(p_table regclass, p_pks jsonb[]) RETURNS TABLE(idx integer, record jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  cols text[];
begin
  select t.pk_columns into cols from ayb.realtime_tables t where t.tbl = p_table;
  if cols is null then
    return;
  end if;
  return query execute format(
    'select k.ord::integer, to_jsonb(t) from unnest($1) with ordinality as k(pk, ord)
       cross join lateral jsonb_populate_record(null::%1$s, k.pk) as kr
       join %1$s as t on %2$s',
    p_table,
    (select string_agg(format('t.%1$I is not distinct from kr.%1$I', c), ' and ') from unnest(cols) c))
    using p_pks;
end
$_$;

CREATE FUNCTION ayb.realtime_signal_key() RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$ select 4709076360369274880::pg_catalog.int8 $$;

COMMENT ON FUNCTION ayb.realtime_signal_key() IS 'advisory lock key: held shared by each AYB instance that waits for NOTIFY ayb_realtime (see ayb.realtime_capture)';

CREATE FUNCTION ayb.require_session(p_session uuid, p_user uuid, p_now timestamp with time zone) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
begin
  if not exists (
    select 1 from ayb.sessions s join ayb.users u on u.id = s.user_id
     where s.id = p_session and s.user_id = p_user and s.revoked_at is null
       and s.expires_at > p_now and u.banned_at is null) then
    raise exception 'the session has ended' using errcode = '28000', hint = 'sign in again';
  end if;
end
$$;

CREATE FUNCTION ayb.schedule_check(p_cron text, p_timezone text, p_kind text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $_$
begin
  if not exists (select 1 from pg_catalog.pg_timezone_names where name = p_timezone) and p_timezone <> 'UTC' then
    raise exception 'unknown time zone %', p_timezone using errcode = '22023',
      hint = 'use an IANA name such as Europe/Berlin';
  end if;
  -- The full parser is in Go (the scheduler); this rejects what can never parse.
  if not (p_cron ~ '^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$'
       or p_cron ~ '^@every [0-9]+(\.[0-9]+)?(ms|s|m|h)([0-9]+(\.[0-9]+)?(ms|s|m|h))*$'
       or p_cron ~ '^\s*\S+(\s+\S+){4,5}\s*$') then
    raise exception 'invalid cron expression %', p_cron using errcode = '22023',
      hint = 'five fields (minute hour day month weekday), six with seconds first, or @hourly, @daily, @every 30s';
  end if;
  if not exists (select 1 from ayb.job_kinds k where k.kind = p_kind) then
    raise exception 'unknown job kind %', p_kind using errcode = '22023',
      hint = 'known kinds: ' || (select string_agg(kind, ', ' order by kind) from ayb.job_kinds);
  end if;
  if (select admin_only from ayb.job_kinds k where k.kind = p_kind) and not ayb.job_caller_is_admin() then
    raise exception 'only admins may schedule jobs of kind %', p_kind using errcode = '42501';
  end if;
end
$_$;

CREATE TABLE ayb.schedules (
    name text NOT NULL,
    cron text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    kind text NOT NULL,
    args jsonb DEFAULT '{}'::jsonb NOT NULL,
    queue text DEFAULT 'default'::text NOT NULL,
    priority smallint DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 20 NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    catch_up boolean DEFAULT true NOT NULL,
    next_run_at timestamp with time zone,
    last_fire_at timestamp with time zone,
    last_enqueued_at timestamp with time zone,
    last_job_id bigint,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT schedules_cron_check CHECK (((length(cron) >= 1) AND (length(cron) <= 200))),
    CONSTRAINT schedules_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 1000))),
    CONSTRAINT schedules_name_check CHECK ((name ~ '^[A-Za-z0-9_.:-]{1,128}$'::text)),
    CONSTRAINT schedules_priority_check CHECK (((priority >= 0) AND (priority <= 9))),
    CONSTRAINT schedules_queue_check CHECK ((queue ~ '^[A-Za-z0-9_.:-]{1,64}$'::text))
);

CREATE FUNCTION ayb.schedule_delete(p_name text) RETURNS ayb.schedules
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare v ayb.schedules;
begin
  delete from ayb.schedules s where s.name = p_name returning * into v;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  return v;
end
$$;

CREATE FUNCTION ayb.schedule_disable(p_name text) RETURNS ayb.schedules
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare v ayb.schedules;
begin
  update ayb.schedules s set enabled = false, next_run_at = null, updated_at = pg_catalog.now()
   where s.name = p_name returning * into v;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  return v;
end
$$;

CREATE FUNCTION ayb.schedule_enable(p_name text) RETURNS ayb.schedules
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare v ayb.schedules;
begin
  update ayb.schedules s
     set enabled = true, next_run_at = case when s.enabled then s.next_run_at end, updated_at = pg_catalog.now()
   where s.name = p_name returning * into v;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  perform pg_catalog.pg_notify('ayb_jobs', 'schedule:' || p_name);
  return v;
end
$$;

CREATE FUNCTION ayb.schedule_fire(p_name text, p_fire_at timestamp with time zone, p_next timestamp with time zone, p_enqueue boolean DEFAULT true, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.schedules;
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_id bigint;
begin
  update ayb.schedules s
     set next_run_at = p_next, last_fire_at = p_fire_at
   where s.name = p_name and s.enabled and s.next_run_at = p_fire_at
  returning * into v;
  if not found or not p_enqueue then
    return null;
  end if;
  v_id := ayb.job_enqueue(v.kind, v.args, v.queue, v.priority, null, null, v.max_attempts,
                          'schedule:' || v.name || ':' || pg_catalog.to_char(p_fire_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                          interval '1 day', array['schedule:' || v.name], v_now);
  update ayb.schedules s set last_enqueued_at = v_now, last_job_id = v_id where s.name = p_name;
  return v_id;
end
$$;

CREATE FUNCTION ayb.schedule_run_now(p_name text, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.schedules;
  v_id bigint;
begin
  select * into v from ayb.schedules s where s.name = p_name;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  v_id := ayb.job_enqueue(v.kind, v.args, v.queue, v.priority, null, null, v.max_attempts,
                          null, null, array['schedule:' || v.name], p_now);
  update ayb.schedules s set last_enqueued_at = coalesce(p_now, pg_catalog.now()), last_job_id = v_id where s.name = p_name;
  return v_id;
end
$$;

CREATE FUNCTION ayb.schedule_set_next(p_name text, p_next timestamp with time zone, p_error text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with u as (
    update ayb.schedules s set next_run_at = p_next, last_error = p_error
     where s.name = p_name and s.enabled and s.next_run_at is null
    returning 1)
  select exists (select 1 from u)
$$;

CREATE FUNCTION ayb.schedule_upsert(p_name text, p_cron text, p_kind text, p_args jsonb DEFAULT '{}'::jsonb, p_timezone text DEFAULT 'UTC'::text, p_queue text DEFAULT 'default'::text, p_priority integer DEFAULT 0, p_max_attempts integer DEFAULT 20, p_enabled boolean DEFAULT true, p_catch_up boolean DEFAULT true) RETURNS ayb.schedules
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v ayb.schedules;
begin
  perform ayb.schedule_check(p_cron, p_timezone, p_kind);
  insert into ayb.schedules as s (name, cron, timezone, kind, args, queue, priority, max_attempts, enabled, catch_up)
  values (p_name, p_cron, p_timezone, p_kind, coalesce(p_args, '{}'::jsonb), p_queue, p_priority, p_max_attempts, p_enabled, p_catch_up)
  on conflict (name) do update
     set cron = excluded.cron, timezone = excluded.timezone, kind = excluded.kind, args = excluded.args,
         queue = excluded.queue, priority = excluded.priority, max_attempts = excluded.max_attempts,
         enabled = excluded.enabled, catch_up = excluded.catch_up,
         next_run_at = case when s.cron = excluded.cron and s.timezone = excluded.timezone and s.enabled
                            then s.next_run_at end,
         last_error = null,
         updated_at = pg_catalog.now()
  returning * into v;
  perform pg_catalog.pg_notify('ayb_jobs', 'schedule:' || p_name);
  return v;
end
$$;

CREATE FUNCTION ayb.schema_notify() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  if tg_event = 'ddl_command_end' then
    if not exists (select 1 from pg_catalog.pg_event_trigger_ddl_commands() c
                   where c.schema_name is null or c.schema_name not like 'pg\_temp%') then
      return;
    end if;
  elsif tg_event = 'sql_drop' then
    if not exists (select 1 from pg_catalog.pg_event_trigger_dropped_objects() o where not o.is_temporary) then
      return;
    end if;
  end if;
  perform pg_catalog.pg_notify('ayb_schema', 'ddl');
end
$$;

CREATE FUNCTION ayb.users_revoke_api_keys() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update ayb.api_keys
     set revoked_at = now(), revoked_reason = 'user_deleted'
   where user_id = old.id and revoked_at is null;
  return old;
end
$$;

CREATE UNLOGGED TABLE ayb.app_usage (
    app_id uuid NOT NULL,
    window_start timestamp with time zone NOT NULL,
    requests bigint DEFAULT 0 NOT NULL,
    rejected bigint DEFAULT 0 NOT NULL
);

CREATE TABLE ayb.auth_throttle (
    key text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    hits integer NOT NULL,
    CONSTRAINT auth_throttle_hits_check CHECK ((hits >= 0)),
    CONSTRAINT auth_throttle_key_check CHECK ((length(key) <= 400))
);

CREATE TABLE ayb.housekeeping (
    name text NOT NULL,
    function regprocedure NOT NULL,
    "position" integer DEFAULT 100 NOT NULL,
    CONSTRAINT housekeeping_name_check CHECK ((name ~ '^[A-Za-z0-9_.:-]{1,64}$'::text))
);

CREATE TABLE ayb.identities (
    provider text NOT NULL,
    subject text NOT NULL,
    user_id uuid NOT NULL,
    email text,
    email_verified boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT identities_provider_check CHECK ((provider ~ '^[a-z0-9_-]{1,64}$'::text)),
    CONSTRAINT identities_subject_check CHECK (((length(subject) >= 1) AND (length(subject) <= 255)))
);

CREATE TABLE ayb.job_kinds (
    kind text NOT NULL,
    admin_only boolean DEFAULT false NOT NULL,
    registered_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT job_kinds_kind_check CHECK ((kind ~ '^[A-Za-z0-9_.:-]{1,128}$'::text))
);

ALTER TABLE ayb.jobs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE ayb.mail_outbox (
    id bigint NOT NULL,
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text DEFAULT ''::text NOT NULL,
    template text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    locked_until timestamp with time zone,
    sent_at timestamp with time zone,
    failed_at timestamp with time zone,
    last_error text,
    CONSTRAINT mail_outbox_to_address_check CHECK (((length(to_address) >= 3) AND (length(to_address) <= 320)))
);

ALTER TABLE ayb.mail_outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.mail_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE ayb.matview_refreshes ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.matview_refreshes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE ayb.matviews ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.matviews_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE ayb.oauth_exchange_codes (
    code_hash bytea NOT NULL,
    session_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT oauth_exchange_codes_code_hash_check CHECK ((length(code_hash) = 32))
);

CREATE TABLE ayb.oauth_flows (
    state_hash bytea NOT NULL,
    provider text NOT NULL,
    binding_hash bytea NOT NULL,
    code_verifier text NOT NULL,
    nonce text NOT NULL,
    redirect_to text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT oauth_flows_binding_hash_check CHECK ((length(binding_hash) = 32)),
    CONSTRAINT oauth_flows_state_hash_check CHECK ((length(state_hash) = 32))
);

CREATE TABLE ayb.one_time_tokens (
    token_hash bytea NOT NULL,
    user_id uuid NOT NULL,
    purpose text NOT NULL,
    email text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT one_time_tokens_check CHECK (((purpose = 'email_change'::text) = (email IS NOT NULL))),
    CONSTRAINT one_time_tokens_purpose_check CHECK ((purpose = ANY (ARRAY['verify_email'::text, 'password_reset'::text, 'magic_link'::text, 'email_change'::text]))),
    CONSTRAINT one_time_tokens_token_hash_check CHECK ((length(token_hash) = 32))
);

CREATE UNLOGGED TABLE ayb.ratelimit_state (
    key text NOT NULL,
    tat timestamp with time zone NOT NULL,
    granted integer NOT NULL
);

CREATE TABLE ayb.realtime_events (
    id bigint NOT NULL,
    tbl regclass NOT NULL,
    op text NOT NULL,
    pk jsonb NOT NULL,
    record jsonb,
    old_record jsonb,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT realtime_events_check CHECK (((op = 'delete'::text) = (record IS NULL))),
    CONSTRAINT realtime_events_check1 CHECK (((op = 'insert'::text) = (old_record IS NULL))),
    CONSTRAINT realtime_events_op_check CHECK ((op = ANY (ARRAY['insert'::text, 'update'::text, 'delete'::text]))),
    CONSTRAINT realtime_events_pk_check CHECK ((jsonb_typeof(pk) = 'object'::text))
);

CREATE SEQUENCE ayb.realtime_event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE ayb.realtime_event_id_seq OWNED BY ayb.realtime_events.id;

CREATE TABLE ayb.realtime_state (
    singleton boolean DEFAULT true NOT NULL,
    pruned_through bigint DEFAULT 0 NOT NULL,
    CONSTRAINT realtime_state_singleton_check CHECK (singleton)
);

CREATE TABLE ayb.realtime_tables (
    tbl regclass NOT NULL,
    pk_columns text[] NOT NULL,
    enabled_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT realtime_tables_pk_columns_check CHECK ((cardinality(pk_columns) > 0))
);

CREATE TABLE ayb.refresh_tokens (
    id bigint NOT NULL,
    session_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    parent_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT refresh_tokens_token_hash_check CHECK ((length(token_hash) = 32))
);

ALTER TABLE ayb.refresh_tokens ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.refresh_tokens_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE ayb.schema_version (
    version integer NOT NULL
);

CREATE TABLE ayb.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    aal text DEFAULT 'aal1'::text NOT NULL,
    method text NOT NULL,
    user_agent text DEFAULT ''::text NOT NULL,
    ip text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    refreshed_at timestamp with time zone,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    revoked_reason text,
    CONSTRAINT sessions_aal_check CHECK ((aal = ANY (ARRAY['aal1'::text, 'aal2'::text]))),
    CONSTRAINT sessions_ip_check CHECK ((length(ip) <= 64)),
    CONSTRAINT sessions_method_check CHECK ((method = ANY (ARRAY['password'::text, 'magic_link'::text, 'oauth'::text, 'admin'::text, 'cli'::text, 'password_reset'::text]))),
    CONSTRAINT sessions_revoked_reason_check CHECK ((revoked_reason = ANY (ARRAY['logout'::text, 'logout_all'::text, 'password_change'::text, 'password_reset'::text, 'refresh_reuse'::text, 'ban'::text, 'revoked_by_user'::text, 'admin'::text]))),
    CONSTRAINT sessions_user_agent_check CHECK ((length(user_agent) <= 512))
);

CREATE TABLE ayb.signing_keys (
    kid text NOT NULL,
    alg text NOT NULL,
    private_key bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    retired_at timestamp with time zone,
    CONSTRAINT signing_keys_alg_check CHECK ((alg = 'ES256'::text)),
    CONSTRAINT signing_keys_kid_check CHECK (((length(kid) >= 8) AND (length(kid) <= 64)))
);

CREATE TABLE ayb.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    password_hash text,
    email_verified_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    is_admin boolean DEFAULT false NOT NULL,
    banned_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_email_check CHECK ((((length(email) >= 3) AND (length(email) <= 320)) AND (email = lower(email)))),
    CONSTRAINT users_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text))
);

ALTER TABLE ONLY ayb.realtime_events ALTER COLUMN id SET DEFAULT nextval('ayb.realtime_event_id_seq'::regclass);

ALTER TABLE ONLY ayb.api_keys
    ADD CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash);

ALTER TABLE ONLY ayb.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.app_usage
    ADD CONSTRAINT app_usage_pkey PRIMARY KEY (app_id, window_start);

ALTER TABLE ONLY ayb.apps
    ADD CONSTRAINT apps_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.auth_throttle
    ADD CONSTRAINT auth_throttle_pkey PRIMARY KEY (key);

ALTER TABLE ONLY ayb.housekeeping
    ADD CONSTRAINT housekeeping_pkey PRIMARY KEY (name);

ALTER TABLE ONLY ayb.identities
    ADD CONSTRAINT identities_pkey PRIMARY KEY (provider, subject);

ALTER TABLE ONLY ayb.job_kinds
    ADD CONSTRAINT job_kinds_pkey PRIMARY KEY (kind);

ALTER TABLE ONLY ayb.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.mail_outbox
    ADD CONSTRAINT mail_outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.matview_refreshes
    ADD CONSTRAINT matview_refreshes_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.matviews
    ADD CONSTRAINT matviews_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.matviews
    ADD CONSTRAINT matviews_schema_name_view_name_key UNIQUE (schema_name, view_name);

ALTER TABLE ONLY ayb.oauth_exchange_codes
    ADD CONSTRAINT oauth_exchange_codes_pkey PRIMARY KEY (code_hash);

ALTER TABLE ONLY ayb.oauth_flows
    ADD CONSTRAINT oauth_flows_pkey PRIMARY KEY (state_hash);

ALTER TABLE ONLY ayb.one_time_tokens
    ADD CONSTRAINT one_time_tokens_pkey PRIMARY KEY (token_hash);

ALTER TABLE ONLY ayb.ratelimit_state
    ADD CONSTRAINT ratelimit_state_pkey PRIMARY KEY (key);

ALTER TABLE ONLY ayb.realtime_events
    ADD CONSTRAINT realtime_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.realtime_state
    ADD CONSTRAINT realtime_state_pkey PRIMARY KEY (singleton);

ALTER TABLE ONLY ayb.realtime_tables
    ADD CONSTRAINT realtime_tables_pkey PRIMARY KEY (tbl);

ALTER TABLE ONLY ayb.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.refresh_tokens
    ADD CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY ayb.schedules
    ADD CONSTRAINT schedules_pkey PRIMARY KEY (name);

ALTER TABLE ONLY ayb.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.signing_keys
    ADD CONSTRAINT signing_keys_pkey PRIMARY KEY (kid);

ALTER TABLE ONLY ayb.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE INDEX api_keys_app_id_idx ON ayb.api_keys USING btree (app_id);

CREATE INDEX api_keys_user_id_idx ON ayb.api_keys USING btree (user_id);

CREATE UNIQUE INDEX apps_live_name_key ON ayb.apps USING btree (lower(name)) WHERE (deleted_at IS NULL);

CREATE INDEX apps_owner_id_idx ON ayb.apps USING btree (owner_id);

CREATE INDEX identities_user_id_idx ON ayb.identities USING btree (user_id);

CREATE INDEX jobs_fetch_idx ON ayb.jobs USING btree (queue, priority, scheduled_at, id) WHERE (state = ANY (ARRAY['available'::ayb.job_state, 'scheduled'::ayb.job_state, 'retryable'::ayb.job_state]));

CREATE INDEX jobs_finalized_idx ON ayb.jobs USING btree (finalized_at) WHERE (finalized_at IS NOT NULL);

CREATE INDEX jobs_lease_idx ON ayb.jobs USING btree (lease_until) WHERE (state = 'running'::ayb.job_state);

CREATE INDEX jobs_unique_key_idx ON ayb.jobs USING btree (unique_key, created_at) WHERE (unique_key IS NOT NULL);

CREATE INDEX mail_outbox_due_idx ON ayb.mail_outbox USING btree (next_attempt_at, id) WHERE ((sent_at IS NULL) AND (failed_at IS NULL));

CREATE INDEX matview_refreshes_matview_idx ON ayb.matview_refreshes USING btree (matview_id, id DESC);

CREATE INDEX one_time_tokens_user_idx ON ayb.one_time_tokens USING btree (user_id, purpose);

CREATE INDEX realtime_events_created_at ON ayb.realtime_events USING btree (created_at);

CREATE INDEX refresh_tokens_session_id_idx ON ayb.refresh_tokens USING btree (session_id);

CREATE INDEX schedules_due_idx ON ayb.schedules USING btree (next_run_at) WHERE enabled;

CREATE INDEX sessions_user_id_idx ON ayb.sessions USING btree (user_id) WHERE (revoked_at IS NULL);

CREATE UNIQUE INDEX users_email_key ON ayb.users USING btree (lower(email));

CREATE TRIGGER api_keys_live_app BEFORE INSERT OR UPDATE OF app_id, revoked_at ON ayb.api_keys FOR EACH ROW EXECUTE FUNCTION ayb.api_keys_live_app();

CREATE TRIGGER api_keys_notify AFTER DELETE OR UPDATE OF revoked_at, expires_at, scope, allowed_tables, allowed_functions, kind, user_id, app_id, rate_limit_requests, rate_limit_window, rate_limit_burst, realtime ON ayb.api_keys FOR EACH ROW EXECUTE FUNCTION ayb.api_keys_notify();

CREATE TRIGGER apps_notify AFTER DELETE OR UPDATE ON ayb.apps FOR EACH ROW EXECUTE FUNCTION ayb.api_keys_notify();

CREATE TRIGGER users_notify_api_keys AFTER DELETE OR UPDATE OF banned_at, email ON ayb.users FOR EACH ROW EXECUTE FUNCTION ayb.api_keys_notify();

CREATE TRIGGER users_revoke_api_keys BEFORE DELETE ON ayb.users FOR EACH ROW EXECUTE FUNCTION ayb.users_revoke_api_keys();

ALTER TABLE ONLY ayb.api_keys
    ADD CONSTRAINT api_keys_app_id_fkey FOREIGN KEY (app_id) REFERENCES ayb.apps(id);

ALTER TABLE ONLY ayb.api_keys
    ADD CONSTRAINT api_keys_created_by_fkey FOREIGN KEY (created_by) REFERENCES ayb.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY ayb.api_keys
    ADD CONSTRAINT api_keys_revoked_by_fkey FOREIGN KEY (revoked_by) REFERENCES ayb.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY ayb.api_keys
    ADD CONSTRAINT api_keys_rotated_from_fkey FOREIGN KEY (rotated_from) REFERENCES ayb.api_keys(id);

ALTER TABLE ONLY ayb.api_keys
    ADD CONSTRAINT api_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES ayb.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY ayb.apps
    ADD CONSTRAINT apps_created_by_fkey FOREIGN KEY (created_by) REFERENCES ayb.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY ayb.apps
    ADD CONSTRAINT apps_deleted_by_fkey FOREIGN KEY (deleted_by) REFERENCES ayb.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY ayb.apps
    ADD CONSTRAINT apps_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES ayb.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY ayb.identities
    ADD CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES ayb.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.matview_refreshes
    ADD CONSTRAINT matview_refreshes_matview_id_fkey FOREIGN KEY (matview_id) REFERENCES ayb.matviews(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.oauth_exchange_codes
    ADD CONSTRAINT oauth_exchange_codes_session_id_fkey FOREIGN KEY (session_id) REFERENCES ayb.sessions(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.one_time_tokens
    ADD CONSTRAINT one_time_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES ayb.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.refresh_tokens
    ADD CONSTRAINT refresh_tokens_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES ayb.refresh_tokens(id) ON DELETE SET NULL;

ALTER TABLE ONLY ayb.refresh_tokens
    ADD CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES ayb.sessions(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.schedules
    ADD CONSTRAINT schedules_kind_fkey FOREIGN KEY (kind) REFERENCES ayb.job_kinds(kind) ON UPDATE CASCADE;

ALTER TABLE ONLY ayb.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES ayb.users(id) ON DELETE CASCADE;

GRANT USAGE ON SCHEMA auth TO anon;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT USAGE ON SCHEMA auth TO service_role;
GRANT USAGE ON SCHEMA auth TO ayb_system;

GRANT USAGE ON SCHEMA ayb TO ayb_system;
GRANT USAGE ON SCHEMA ayb TO service_role;

GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

REVOKE ALL ON FUNCTION auth.app_id() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.app_id() TO anon;
GRANT ALL ON FUNCTION auth.app_id() TO authenticated;
GRANT ALL ON FUNCTION auth.app_id() TO service_role;
GRANT ALL ON FUNCTION auth.app_id() TO ayb_system;

REVOKE ALL ON FUNCTION auth.client_id() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.client_id() TO anon;
GRANT ALL ON FUNCTION auth.client_id() TO authenticated;
GRANT ALL ON FUNCTION auth.client_id() TO service_role;
GRANT ALL ON FUNCTION auth.client_id() TO ayb_system;

REVOKE ALL ON FUNCTION auth.email() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.email() TO anon;
GRANT ALL ON FUNCTION auth.email() TO authenticated;
GRANT ALL ON FUNCTION auth.email() TO service_role;
GRANT ALL ON FUNCTION auth.email() TO ayb_system;

REVOKE ALL ON FUNCTION auth.has_scope(requested text) FROM PUBLIC;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO anon;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO authenticated;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO service_role;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO ayb_system;

REVOKE ALL ON FUNCTION auth.jwt() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.jwt() TO anon;
GRANT ALL ON FUNCTION auth.jwt() TO authenticated;
GRANT ALL ON FUNCTION auth.jwt() TO service_role;
GRANT ALL ON FUNCTION auth.jwt() TO ayb_system;

REVOKE ALL ON FUNCTION auth.role() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.role() TO anon;
GRANT ALL ON FUNCTION auth.role() TO authenticated;
GRANT ALL ON FUNCTION auth.role() TO service_role;
GRANT ALL ON FUNCTION auth.role() TO ayb_system;

REVOKE ALL ON FUNCTION auth.uid() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.uid() TO anon;
GRANT ALL ON FUNCTION auth.uid() TO authenticated;
GRANT ALL ON FUNCTION auth.uid() TO service_role;
GRANT ALL ON FUNCTION auth.uid() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.api_keys_live_app() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.api_keys_live_app() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.api_keys_notify() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.api_keys_notify() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.apikey_check_names(p_names text[], p_what text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.apikey_check_names(p_names text[], p_what text) TO ayb_system;

GRANT ALL ON TABLE ayb.api_keys TO ayb_system;

REVOKE ALL ON FUNCTION ayb.apikey_create(p_name text, p_key_hash bytea, p_key_prefix text, p_user_id uuid, p_scope text, p_app_id uuid, p_allowed_tables text[], p_allowed_functions text[], p_expires_at timestamp with time zone, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_actor uuid, p_as_user uuid, p_rotated_from uuid, p_realtime boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.apikey_create(p_name text, p_key_hash bytea, p_key_prefix text, p_user_id uuid, p_scope text, p_app_id uuid, p_allowed_tables text[], p_allowed_functions text[], p_expires_at timestamp with time zone, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_actor uuid, p_as_user uuid, p_rotated_from uuid, p_realtime boolean) TO ayb_system;
GRANT ALL ON FUNCTION ayb.apikey_create(p_name text, p_key_hash bytea, p_key_prefix text, p_user_id uuid, p_scope text, p_app_id uuid, p_allowed_tables text[], p_allowed_functions text[], p_expires_at timestamp with time zone, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_actor uuid, p_as_user uuid, p_rotated_from uuid, p_realtime boolean) TO service_role;

REVOKE ALL ON FUNCTION ayb.apikey_flush(p_touch uuid[], p_app_ids uuid[], p_requests bigint[], p_rejected bigint[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.apikey_flush(p_touch uuid[], p_app_ids uuid[], p_requests bigint[], p_rejected bigint[], p_now timestamp with time zone) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.apikey_list(p_user_id uuid, p_app_id uuid, p_include_revoked boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.apikey_list(p_user_id uuid, p_app_id uuid, p_include_revoked boolean) TO ayb_system;
GRANT ALL ON FUNCTION ayb.apikey_list(p_user_id uuid, p_app_id uuid, p_include_revoked boolean) TO service_role;

REVOKE ALL ON FUNCTION ayb.apikey_revoke(p_id uuid, p_actor uuid, p_as_user uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.apikey_revoke(p_id uuid, p_actor uuid, p_as_user uuid) TO ayb_system;
GRANT ALL ON FUNCTION ayb.apikey_revoke(p_id uuid, p_actor uuid, p_as_user uuid) TO service_role;

REVOKE ALL ON FUNCTION ayb.apikey_rotate(p_id uuid, p_key_hash bytea, p_key_prefix text, p_grace interval, p_actor uuid, p_as_user uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.apikey_rotate(p_id uuid, p_key_hash bytea, p_key_prefix text, p_grace interval, p_actor uuid, p_as_user uuid) TO ayb_system;
GRANT ALL ON FUNCTION ayb.apikey_rotate(p_id uuid, p_key_hash bytea, p_key_prefix text, p_grace interval, p_actor uuid, p_as_user uuid) TO service_role;

REVOKE ALL ON FUNCTION ayb.apikey_set_realtime(p_id uuid, p_realtime boolean, p_as_user uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.apikey_set_realtime(p_id uuid, p_realtime boolean, p_as_user uuid) TO ayb_system;
GRANT ALL ON FUNCTION ayb.apikey_set_realtime(p_id uuid, p_realtime boolean, p_as_user uuid) TO service_role;

REVOKE ALL ON FUNCTION ayb.apikey_take(p_key_id uuid, p_count integer, p_now timestamp with time zone, OUT granted integer, OUT rate_limit integer, OUT window_seconds double precision, OUT remaining integer, OUT reset_after double precision, OUT retry_after double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.apikey_take(p_key_id uuid, p_count integer, p_now timestamp with time zone, OUT granted integer, OUT rate_limit integer, OUT window_seconds double precision, OUT remaining integer, OUT reset_after double precision, OUT retry_after double precision) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.app_check_name(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.app_check_name(p_name text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.app_check_owner(p_owner_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.app_check_owner(p_owner_id uuid) TO ayb_system;

GRANT ALL ON TABLE ayb.apps TO ayb_system;

REVOKE ALL ON FUNCTION ayb.app_create(p_name text, p_description text, p_owner_id uuid, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_actor uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.app_create(p_name text, p_description text, p_owner_id uuid, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_actor uuid) TO ayb_system;
GRANT ALL ON FUNCTION ayb.app_create(p_name text, p_description text, p_owner_id uuid, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_actor uuid) TO service_role;

REVOKE ALL ON FUNCTION ayb.app_delete(p_id uuid, p_actor uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.app_delete(p_id uuid, p_actor uuid) TO ayb_system;
GRANT ALL ON FUNCTION ayb.app_delete(p_id uuid, p_actor uuid) TO service_role;

REVOKE ALL ON FUNCTION ayb.app_get(p_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.app_get(p_id uuid) TO ayb_system;
GRANT ALL ON FUNCTION ayb.app_get(p_id uuid) TO service_role;

REVOKE ALL ON FUNCTION ayb.app_list(p_include_deleted boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.app_list(p_include_deleted boolean) TO ayb_system;
GRANT ALL ON FUNCTION ayb.app_list(p_include_deleted boolean) TO service_role;

REVOKE ALL ON FUNCTION ayb.app_update(p_id uuid, p_name text, p_description text, p_owner_id uuid, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_clear_owner boolean, p_clear_rate_limit boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.app_update(p_id uuid, p_name text, p_description text, p_owner_id uuid, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_clear_owner boolean, p_clear_rate_limit boolean) TO ayb_system;
GRANT ALL ON FUNCTION ayb.app_update(p_id uuid, p_name text, p_description text, p_owner_id uuid, p_rate_limit_requests integer, p_rate_limit_window interval, p_rate_limit_burst integer, p_clear_owner boolean, p_clear_rate_limit boolean) TO service_role;

REVOKE ALL ON FUNCTION ayb.app_usage(p_app_id uuid, p_since timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.app_usage(p_app_id uuid, p_since timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.app_usage(p_app_id uuid, p_since timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.auth_housekeeping(p_now timestamp with time zone, p_args jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.auth_housekeeping(p_now timestamp with time zone, p_args jsonb) TO ayb_system;
GRANT ALL ON FUNCTION ayb.auth_housekeeping(p_now timestamp with time zone, p_args jsonb) TO service_role;

REVOKE ALL ON FUNCTION ayb.auth_refresh(p_hash bytea, p_new_hash bytea, p_now timestamp with time zone, p_ttl interval) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.auth_refresh(p_hash bytea, p_new_hash bytea, p_now timestamp with time zone, p_ttl interval) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.housekeeping_run(p_args jsonb, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.housekeeping_run(p_args jsonb, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.housekeeping_run(p_args jsonb, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_backoff(p_attempt integer) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_backoff(p_attempt integer) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_backoff(p_attempt integer) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_caller_is_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_caller_is_admin() TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_caller_is_admin() TO service_role;

GRANT ALL ON TABLE ayb.jobs TO ayb_system;

REVOKE ALL ON FUNCTION ayb.job_cancel(p_id bigint, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_cancel(p_id bigint, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_cancel(p_id bigint, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_claim(p_worker text, p_queue text, p_limit integer, p_lease interval, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_claim(p_worker text, p_queue text, p_limit integer, p_lease interval, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_claim(p_worker text, p_queue text, p_limit integer, p_lease interval, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_complete(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_complete(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_complete(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_enqueue(p_kinds text[], p_args jsonb[], p_queues text[], p_priorities smallint[], p_run_at timestamp with time zone[], p_max_attempts integer[], p_unique_keys text[], p_unique_windows interval[], p_tags text[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_enqueue(p_kinds text[], p_args jsonb[], p_queues text[], p_priorities smallint[], p_run_at timestamp with time zone[], p_max_attempts integer[], p_unique_keys text[], p_unique_windows interval[], p_tags text[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_enqueue(p_kinds text[], p_args jsonb[], p_queues text[], p_priorities smallint[], p_run_at timestamp with time zone[], p_max_attempts integer[], p_unique_keys text[], p_unique_windows interval[], p_tags text[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_enqueue(p_kind text, p_args jsonb, p_queue text, p_priority integer, p_run_at timestamp with time zone, p_delay interval, p_max_attempts integer, p_unique_key text, p_unique_window interval, p_tags text[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_enqueue(p_kind text, p_args jsonb, p_queue text, p_priority integer, p_run_at timestamp with time zone, p_delay interval, p_max_attempts integer, p_unique_key text, p_unique_window interval, p_tags text[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_enqueue(p_kind text, p_args jsonb, p_queue text, p_priority integer, p_run_at timestamp with time zone, p_delay interval, p_max_attempts integer, p_unique_key text, p_unique_window interval, p_tags text[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_fail(p_ids bigint[], p_attempts integer[], p_errors text[], p_retry_at timestamp with time zone[], p_discard boolean[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_fail(p_ids bigint[], p_attempts integer[], p_errors text[], p_retry_at timestamp with time zone[], p_discard boolean[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_fail(p_ids bigint[], p_attempts integer[], p_errors text[], p_retry_at timestamp with time zone[], p_discard boolean[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_heartbeat(p_ids bigint[], p_attempts integer[], p_lease interval, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_heartbeat(p_ids bigint[], p_attempts integer[], p_lease interval, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_heartbeat(p_ids bigint[], p_attempts integer[], p_lease interval, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_housekeeping(p_now timestamp with time zone, p_args jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_housekeeping(p_now timestamp with time zone, p_args jsonb) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_housekeeping(p_now timestamp with time zone, p_args jsonb) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_prune(p_completed_age interval, p_failed_age interval, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_prune(p_completed_age interval, p_failed_age interval, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_prune(p_completed_age interval, p_failed_age interval, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_release(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_release(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_release(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_rescue(p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_rescue(p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_rescue(p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_retry(p_id bigint, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_retry(p_id bigint, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_retry(p_id bigint, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_run_sql(p_function text, p_args jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_run_sql(p_function text, p_args jsonb) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_run_sql(p_function text, p_args jsonb) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_check(p_schema text, p_name text, p_mode text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_check(p_schema text, p_name text, p_mode text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_check(p_schema text, p_name text, p_mode text) TO service_role;

GRANT ALL ON TABLE ayb.matviews TO ayb_system;

REVOKE ALL ON FUNCTION ayb.matview_get(p_view text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_get(p_view text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_get(p_view text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_on_change() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_on_change() TO ayb_system;

GRANT ALL ON TABLE ayb.matview_refreshes TO ayb_system;

REVOKE ALL ON FUNCTION ayb.matview_refresh(p_view text, p_triggered_by text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_refresh(p_view text, p_triggered_by text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_refresh(p_view text, p_triggered_by text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_register(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_register(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_register(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_sources(p_oid oid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_sources(p_oid oid) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_sources(p_oid oid) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_split(p_view text, OUT schema_name text, OUT view_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_split(p_view text, OUT schema_name text, OUT view_name text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_split(p_view text, OUT schema_name text, OUT view_name text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_sync_triggers(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_sync_triggers(p_id bigint) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_sync_triggers(p_id bigint) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_unregister(p_view text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_unregister(p_view text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_unregister(p_view text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_update(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_update(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_update(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) TO service_role;

REVOKE ALL ON FUNCTION ayb.ratelimit_policy_check(p_requests integer, p_window interval, p_burst integer) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.ratelimit_policy_check(p_requests integer, p_window interval, p_burst integer) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.ratelimit_sweep(p_keep_usage interval, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.ratelimit_sweep(p_keep_usage interval, p_now timestamp with time zone) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.ratelimit_take(p_key text, p_requests integer, p_window interval, p_burst integer, p_count integer, p_now timestamp with time zone, OUT granted integer, OUT remaining integer, OUT reset_after double precision, OUT retry_after double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.ratelimit_take(p_key text, p_requests integer, p_window interval, p_burst integer, p_count integer, p_now timestamp with time zone, OUT granted integer, OUT remaining integer, OUT reset_after double precision, OUT retry_after double precision) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_capture() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_capture() TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_capture() TO anon;
GRANT ALL ON FUNCTION ayb.realtime_capture() TO authenticated;
GRANT ALL ON FUNCTION ayb.realtime_capture() TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_check(p_table regclass, p_role text, p_claims text[], p_images jsonb[], p_general boolean, p_uids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_check(p_table regclass, p_role text, p_claims text[], p_images jsonb[], p_general boolean, p_uids uuid[]) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_columns(p_table regclass, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_columns(p_table regclass, p_role text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_disable(p_table regclass) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_disable(p_table regclass) TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_disable(p_table regclass) TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_enable(p_table regclass) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_enable(p_table regclass) TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_enable(p_table regclass) TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_fast_qual(p_table regclass, p_role text, p_qual text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_fast_qual(p_table regclass, p_role text, p_qual text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_fingerprint(p_table regclass, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_fingerprint(p_table regclass, p_role text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_horizon() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_horizon() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_list() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_list() TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_list() TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_lock_base() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_lock_base() TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_lock_base() TO anon;
GRANT ALL ON FUNCTION ayb.realtime_lock_base() TO authenticated;
GRANT ALL ON FUNCTION ayb.realtime_lock_base() TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_prune(older_than interval, now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_prune(older_than interval, now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_prune(older_than interval, now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_pruned_through() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_pruned_through() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_qual(p_table regclass, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_qual(p_table regclass, p_role text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_read(p_after bigint, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_read(p_after bigint, p_limit integer) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_resolve(p_names text[], p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_resolve(p_names text[], p_role text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_rows(p_table regclass, p_pks jsonb[]) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_rows(p_table regclass, p_pks jsonb[]) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_signal_key() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_signal_key() TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_signal_key() TO anon;
GRANT ALL ON FUNCTION ayb.realtime_signal_key() TO authenticated;
GRANT ALL ON FUNCTION ayb.realtime_signal_key() TO service_role;

REVOKE ALL ON FUNCTION ayb.require_session(p_session uuid, p_user uuid, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.require_session(p_session uuid, p_user uuid, p_now timestamp with time zone) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.schedule_check(p_cron text, p_timezone text, p_kind text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_check(p_cron text, p_timezone text, p_kind text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_check(p_cron text, p_timezone text, p_kind text) TO service_role;

GRANT ALL ON TABLE ayb.schedules TO ayb_system;

REVOKE ALL ON FUNCTION ayb.schedule_delete(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_delete(p_name text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_delete(p_name text) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_disable(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_disable(p_name text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_disable(p_name text) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_enable(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_enable(p_name text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_enable(p_name text) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_fire(p_name text, p_fire_at timestamp with time zone, p_next timestamp with time zone, p_enqueue boolean, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_fire(p_name text, p_fire_at timestamp with time zone, p_next timestamp with time zone, p_enqueue boolean, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_fire(p_name text, p_fire_at timestamp with time zone, p_next timestamp with time zone, p_enqueue boolean, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_run_now(p_name text, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_run_now(p_name text, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_run_now(p_name text, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_set_next(p_name text, p_next timestamp with time zone, p_error text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_set_next(p_name text, p_next timestamp with time zone, p_error text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_set_next(p_name text, p_next timestamp with time zone, p_error text) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_upsert(p_name text, p_cron text, p_kind text, p_args jsonb, p_timezone text, p_queue text, p_priority integer, p_max_attempts integer, p_enabled boolean, p_catch_up boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_upsert(p_name text, p_cron text, p_kind text, p_args jsonb, p_timezone text, p_queue text, p_priority integer, p_max_attempts integer, p_enabled boolean, p_catch_up boolean) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_upsert(p_name text, p_cron text, p_kind text, p_args jsonb, p_timezone text, p_queue text, p_priority integer, p_max_attempts integer, p_enabled boolean, p_catch_up boolean) TO service_role;

REVOKE ALL ON FUNCTION ayb.schema_notify() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schema_notify() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.users_revoke_api_keys() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.users_revoke_api_keys() TO ayb_system;

GRANT ALL ON TABLE ayb.app_usage TO ayb_system;

GRANT ALL ON TABLE ayb.auth_throttle TO ayb_system;

GRANT ALL ON TABLE ayb.housekeeping TO ayb_system;

GRANT ALL ON TABLE ayb.identities TO ayb_system;

GRANT ALL ON TABLE ayb.job_kinds TO ayb_system;

GRANT ALL ON SEQUENCE ayb.jobs_id_seq TO ayb_system;

GRANT ALL ON TABLE ayb.mail_outbox TO ayb_system;

GRANT ALL ON SEQUENCE ayb.mail_outbox_id_seq TO ayb_system;

GRANT ALL ON SEQUENCE ayb.matview_refreshes_id_seq TO ayb_system;

GRANT ALL ON SEQUENCE ayb.matviews_id_seq TO ayb_system;

GRANT ALL ON TABLE ayb.oauth_exchange_codes TO ayb_system;

GRANT ALL ON TABLE ayb.oauth_flows TO ayb_system;

GRANT ALL ON TABLE ayb.one_time_tokens TO ayb_system;

GRANT ALL ON TABLE ayb.ratelimit_state TO ayb_system;

GRANT ALL ON TABLE ayb.realtime_events TO ayb_system;

GRANT ALL ON SEQUENCE ayb.realtime_event_id_seq TO ayb_system;

GRANT ALL ON TABLE ayb.realtime_state TO ayb_system;

GRANT ALL ON TABLE ayb.realtime_tables TO ayb_system;

GRANT ALL ON TABLE ayb.refresh_tokens TO ayb_system;

GRANT ALL ON SEQUENCE ayb.refresh_tokens_id_seq TO ayb_system;

GRANT SELECT ON TABLE ayb.schema_version TO ayb_system;

GRANT ALL ON TABLE ayb.sessions TO ayb_system;

GRANT ALL ON TABLE ayb.signing_keys TO ayb_system;

GRANT ALL ON TABLE ayb.users TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON SEQUENCES  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON FUNCTIONS  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON TABLES  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin REVOKE ALL ON FUNCTIONS  FROM PUBLIC;

CREATE EVENT TRIGGER ayb_schema_ddl ON ddl_command_end
   EXECUTE FUNCTION ayb.schema_notify();

CREATE EVENT TRIGGER ayb_schema_drop ON sql_drop
   EXECUTE FUNCTION ayb.schema_notify();
