-- Why: everything in AYB stands on this. It creates the private schema `ayb`
-- (system tables and the SQL API), the schema `auth` (claim helpers for
-- policies), and the three API roles that requests run as. The roles are
-- cluster-wide, so they are created only when missing: a second AYB database
-- on the same cluster reuses them.

create schema if not exists ayb;
create schema if not exists auth;
create schema if not exists extensions;

do $$
declare
  r record;
begin
  for r in select * from (values
      ('anon', false),
      ('authenticated', false),
      ('service_role', true),
      ('ayb_system', false)
    ) as t(name, bypass)
  loop
    if not exists (select 1 from pg_roles where rolname = r.name) then
      begin
        execute format('create role %I nologin noinherit %s', r.name,
                       case when r.bypass then 'bypassrls' else 'nobypassrls' end);
      exception when duplicate_object then
        null; -- created concurrently by another database's migration
      end;
    end if;
  end loop;
end
$$;

-- ayb_system holds the server's own rights on its private schema. The
-- server's login role is a member of it and of the three API roles; requests
-- SET ROLE to one of the API roles and so lose the system rights.
do $$
begin
  execute format('grant anon, authenticated, service_role, ayb_system to %I', current_user);
end
$$;

-- Functions are never executable by PUBLIC unless granted explicitly.
alter default privileges revoke execute on functions from public;
alter default privileges in schema ayb revoke execute on functions from public;
alter default privileges in schema auth revoke execute on functions from public;

-- Schema ayb is private: only the server (ayb_system) may use it.
revoke all on schema ayb from public;
grant usage on schema ayb to ayb_system, service_role;
alter default privileges in schema ayb grant select, insert, update, delete, truncate, references, trigger on tables to ayb_system;
alter default privileges in schema ayb grant usage, select, update on sequences to ayb_system;
alter default privileges in schema ayb grant execute on functions to ayb_system;

-- Schema auth holds only stable helpers; the API roles may call them.
revoke all on schema auth from public;
grant usage on schema auth to anon, authenticated, service_role, ayb_system;

grant usage on schema extensions to anon, authenticated, service_role, ayb_system;

-- Schema public is where users' tables live, exposed over REST. Grants give
-- the API roles table-level access; row-level security decides rows. Tables
-- created later by the admin get the same grants (as Supabase does).
revoke create on schema public from public;
grant usage on schema public to anon, authenticated, service_role;
grant all on all tables in schema public to anon, authenticated, service_role;
grant all on all sequences in schema public to anon, authenticated, service_role;
grant execute on all functions in schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant execute on functions to anon, authenticated, service_role;

-- The migration table itself predates the default privileges above.
grant select on ayb.schema_version to ayb_system;
