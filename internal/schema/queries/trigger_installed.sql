-- Whether the DDL event trigger that signals schema changes is installed
-- and enabled (it needs a superuser at migration time).
select exists (
  select 1 from pg_catalog.pg_event_trigger
  where evtname = 'ayb_schema_ddl' and evtenabled <> 'D'
)
