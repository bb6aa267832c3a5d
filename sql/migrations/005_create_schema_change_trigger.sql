-- Why: the REST API serves from a schema cache in each server instance. When
-- an admin changes tables, views, functions or grants (through psql or a user
-- migration), every instance must reload. An event trigger NOTIFYs channel
-- ayb_schema after each DDL command; instances LISTEN and reload, debounced.
-- The payload is a constant signal, so Postgres folds a transaction's many
-- DDL commands into one notification. Event triggers need a superuser; on a
-- database where migrations do not run as one, the trigger is skipped with a
-- notice and the cache reloads only at start.

create function ayb.schema_notify() returns event_trigger
  language plpgsql
  set search_path = ''
as $$
begin
  perform pg_notify('ayb_schema', 'ddl');
end
$$;

do $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    create event trigger ayb_schema_ddl on ddl_command_end execute function ayb.schema_notify();
    create event trigger ayb_schema_drop on sql_drop execute function ayb.schema_notify();
  else
    raise notice 'not a superuser: skipping the schema-change event triggers';
  end if;
end
$$;
