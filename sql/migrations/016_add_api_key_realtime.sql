-- Why: an API key could open a realtime stream as soon as it could read a
-- table, but a key handed to a batch job or a server-side integration has no
-- business holding a live subscription. Realtime access becomes a right of
-- its own on every key, closed by default: a key streams only if it was
-- created (or later updated) with realtime = true. Rotation keeps the
-- setting; changing it NOTIFYs ayb_apikeys so every instance drops its
-- cached copy at once.

alter table ayb.api_keys add column realtime boolean not null default false;

drop trigger api_keys_notify on ayb.api_keys;
create trigger api_keys_notify
  after update of revoked_at, expires_at, scope, allowed_tables, allowed_functions, kind, user_id, app_id,
                  rate_limit_requests, rate_limit_window, rate_limit_burst, realtime
     or delete on ayb.api_keys
  for each row execute function ayb.api_keys_notify();

-- ayb.apikey_create gains p_realtime (last, default false); the old
-- signature goes so that named calls stay unambiguous. apikey_rotate calls
-- it, so it is replaced below with the same body plus the copied setting.
drop function ayb.apikey_rotate(uuid, bytea, text, interval, uuid, uuid);
drop function ayb.apikey_create(text, bytea, text, uuid, text, uuid, text[], text[], timestamptz, integer, interval,
                                integer, uuid, uuid, uuid);

-- ayb.apikey_create stores a key whose plaintext the caller generated (the
-- server shows it once; only its SHA-256 is kept). p_user_id null makes a
-- service key (service_role). p_as_user set means a user creating a key for
-- themself: only for their own user id, never a service key, and for an app
-- only if they own it. The app row is locked FOR SHARE so a concurrent
-- ayb.app_delete either revokes this key or makes this call fail.
-- p_realtime grants the key realtime (SSE) access.
create function ayb.apikey_create(p_name text, p_key_hash bytea, p_key_prefix text, p_user_id uuid, p_scope text,
                                  p_app_id uuid default null, p_allowed_tables text[] default '{}',
                                  p_allowed_functions text[] default '{}', p_expires_at timestamptz default null,
                                  p_rate_limit_requests integer default null, p_rate_limit_window interval default null,
                                  p_rate_limit_burst integer default null,
                                  p_actor uuid default null, p_as_user uuid default null, p_rotated_from uuid default null,
                                  p_realtime boolean default false)
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

-- ayb.apikey_rotate creates a new key with the old one's settings (realtime
-- included) and retires the old one: at once, or after p_grace (its expiry
-- moves to now() + p_grace, never later than it was), so clients can switch
-- over while both keys work.
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
                         actor, null, o.id, o.realtime);
  if p_grace is null or p_grace = interval '0' then
    update ayb.api_keys set revoked_at = now(), revoked_by = actor, revoked_reason = 'rotated' where id = o.id;
  else
    update ayb.api_keys set expires_at = least(coalesce(expires_at, 'infinity'), now() + p_grace) where id = o.id;
  end if;
  return r;
end
$$;

-- ayb.apikey_set_realtime grants (true) or withdraws (false) a live key's
-- realtime access. With p_as_user, only that user's own keys are found.
-- New streams see the change at once (the NOTIFY above); streams already
-- open with the key close at their next key check.
create function ayb.apikey_set_realtime(p_id uuid, p_realtime boolean, p_as_user uuid default null)
  returns ayb.api_keys
  language plpgsql security definer
  set search_path = ''
as $$
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

revoke execute on function
  ayb.apikey_create(text, bytea, text, uuid, text, uuid, text[], text[], timestamptz, integer, interval, integer, uuid, uuid, uuid, boolean),
  ayb.apikey_rotate(uuid, bytea, text, interval, uuid, uuid),
  ayb.apikey_set_realtime(uuid, boolean, uuid)
  from public, anon, authenticated;

grant execute on function
  ayb.apikey_create(text, bytea, text, uuid, text, uuid, text[], text[], timestamptz, integer, interval, integer, uuid, uuid, uuid, boolean),
  ayb.apikey_rotate(uuid, bytea, text, interval, uuid, uuid),
  ayb.apikey_set_realtime(uuid, boolean, uuid)
  to service_role, ayb_system;
