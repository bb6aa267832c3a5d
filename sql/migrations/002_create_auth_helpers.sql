-- Why: policies read identity one way only, through these stable helpers over
-- request.jwt.claims (set per request by the server). Names match Supabase's,
-- so policies written for Supabase work unchanged; app_id, client_id and
-- has_scope are AYB's own for apps, OAuth clients and scoped keys.

-- auth.jwt() returns the claims object. Missing or empty claims give an
-- empty object; malformed claims raise a clear error instead of a crash deep
-- inside a policy.
create or replace function auth.jwt() returns jsonb
  language plpgsql stable
  set search_path = ''
as $$
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

-- auth.uid() is the "sub" claim as a uuid, or null when absent or not a uuid
-- (API keys of service accounts, anonymous callers).
create or replace function auth.uid() returns uuid
  language sql stable
  set search_path = ''
as $$
  select case
    when (auth.jwt() ->> 'sub') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (auth.jwt() ->> 'sub')::uuid
  end
$$;

create or replace function auth.role() returns text
  language sql stable
  set search_path = ''
as $$
  select coalesce(auth.jwt() ->> 'role', nullif(current_setting('role', true), 'none'))
$$;

create or replace function auth.email() returns text
  language sql stable
  set search_path = ''
as $$
  select auth.jwt() ->> 'email'
$$;

create or replace function auth.app_id() returns uuid
  language sql stable
  set search_path = ''
as $$
  select case
    when (auth.jwt() ->> 'app_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (auth.jwt() ->> 'app_id')::uuid
  end
$$;

create or replace function auth.client_id() returns text
  language sql stable
  set search_path = ''
as $$
  select auth.jwt() ->> 'client_id'
$$;

-- auth.has_scope(s) is true when the credential carries scope s. A credential
-- with no scope claim (a user's own session) has every scope; "full" implies
-- "write", and "write" implies "read". OAuth scopes are space-separated.
create or replace function auth.has_scope(requested text) returns boolean
  language sql stable
  set search_path = ''
as $$
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

grant execute on function auth.jwt(), auth.uid(), auth.role(), auth.email(),
  auth.app_id(), auth.client_id(), auth.has_scope(text)
  to anon, authenticated, service_role, ayb_system;
