-- Why: auth.uid() (and the other claim helpers) are called by RLS policies
-- in nearly every request. Declared with SET search_path, a SQL function is
-- never inlined: PostgreSQL parses and plans its body again in every query
-- that calls it. Measured with pgbench on these machines, one
-- `select auth.uid()` cost ~56 us, more than the rest of a GET by key under
-- an owner policy (140 us per request, 79 us as service_role). Written as a
-- single expression with no SET clause they are inlined into the calling
-- query like any expression: the planner can use `owner = auth.uid()` as an
-- index condition, and a call costs a few microseconds.
--
-- Without SET search_path the body is parsed with the caller's search_path,
-- so every function, type and operator in it is qualified with pg_catalog.
-- (A session able to change search_path could set request.jwt.claims
-- itself; API callers can do neither.) Malformed claims JSON raises the
-- JSON parser's error (22P02), as auth.uid() has since migration 014;
-- auth.jwt() keeps its friendlier one.

create or replace function auth.uid() returns uuid
  language sql stable
as $$
  select case
    when (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'sub')
         operator(pg_catalog.~*) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'sub')::pg_catalog.uuid
  end
$$;

create or replace function auth.role() returns text
  language sql stable
as $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb operator(pg_catalog.->>) 'role',
    nullif(pg_catalog.current_setting('role', true), 'none'))
$$;

create or replace function auth.email() returns text
  language sql stable
as $$
  select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb operator(pg_catalog.->>) 'email'
$$;

create or replace function auth.app_id() returns uuid
  language sql stable
as $$
  select case
    when (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'app_id')
         operator(pg_catalog.~*) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'app_id')::pg_catalog.uuid
  end
$$;

create or replace function auth.client_id() returns text
  language sql stable
as $$
  select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb operator(pg_catalog.->>) 'client_id'
$$;
