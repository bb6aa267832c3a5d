-- Why: a request ran with no time limit, so one anonymous GET with a filter
-- no index serves (or an expensive RPC) could hold a connection and a CPU for
-- as long as it liked. Requests now run with their role's statement_timeout
-- (the server reads `alter role ... set statement_timeout` from the catalog
-- and applies it per request, since SET ROLE does not), and the API roles
-- get Supabase's defaults: 3 s for anon, 8 s for authenticated; service_role
-- keeps none. Change them with psql, then `notify ayb_schema` so every
-- instance rereads them:
--   alter role authenticated set statement_timeout = '15s'; notify ayb_schema;
-- The roles are shared by every database of the cluster, so a value an admin
-- already set (here or for another AYB database) is left as it is.

do $$
declare
  r record;
begin
  for r in select * from (values ('anon', '3s'), ('authenticated', '8s')) as t(name, timeout)
  loop
    if not exists (
      select 1
      from pg_catalog.pg_db_role_setting d
      join pg_catalog.pg_roles ro on ro.oid = d.setrole
      cross join lateral unnest(d.setconfig) as s(setting)
      where ro.rolname = r.name and s.setting like 'statement\_timeout=%'
    ) then
      begin
        execute format('alter role %I set statement_timeout = %L', r.name, r.timeout);
      exception when insufficient_privilege then
        raise notice 'AYB: could not set a statement_timeout on role %: requests as % run without one until an admin does (alter role % set statement_timeout = ''%'')',
          r.name, r.name, r.name, r.timeout;
      end;
    end if;
  end loop;
end
$$;
