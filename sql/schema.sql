CREATE SCHEMA auth;

CREATE SCHEMA ayb;

CREATE FUNCTION auth.app_id() RETURNS uuid
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $_$
  select case
    when (auth.jwt() ->> 'app_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (auth.jwt() ->> 'app_id')::uuid
  end
$_$;

CREATE FUNCTION auth.client_id() RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select auth.jwt() ->> 'client_id'
$$;

CREATE FUNCTION auth.email() RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select auth.jwt() ->> 'email'
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
    SET search_path TO ''
    AS $$
  select coalesce(auth.jwt() ->> 'role', nullif(current_setting('role', true), 'none'))
$$;

CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $_$
  select case
    when (auth.jwt() ->> 'sub') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (auth.jwt() ->> 'sub')::uuid
  end
$_$;

CREATE FUNCTION ayb.schema_notify() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  -- Temporary objects never reach the API; skip them so sessions that use
  -- temp tables do not make every instance reload.
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

CREATE TABLE ayb.schema_version (
    version integer NOT NULL
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

ALTER TABLE ONLY ayb.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE UNIQUE INDEX users_email_key ON ayb.users USING btree (lower(email));

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

REVOKE ALL ON FUNCTION ayb.schema_notify() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schema_notify() TO ayb_system;

GRANT SELECT ON TABLE ayb.schema_version TO ayb_system;

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
