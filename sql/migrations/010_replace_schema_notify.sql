-- Why: sessions that create temporary tables (scratch work in jobs, admin
-- scripts) made every instance reload its REST schema cache, though
-- temporary objects never reach the API. The signal now skips DDL that
-- touches only temporary objects.

create or replace function ayb.schema_notify() returns event_trigger
  language plpgsql
  set search_path = ''
as $$
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
