-- The REST schema cache's DDL signal: event triggers fire ayb.schema_notify,
-- which the API roles cannot call themselves.
begin;
select plan(5);

select is((select count(*)::int from pg_event_trigger where evtname in ('ayb_schema_ddl', 'ayb_schema_drop') and evtenabled = 'O'),
  2, 'both schema-change event triggers are installed and enabled');
select is((select evtfoid::regproc::text from pg_event_trigger where evtname = 'ayb_schema_ddl'),
  'ayb.schema_notify', 'the DDL trigger calls ayb.schema_notify');
select ok(not has_function_privilege('anon', 'ayb.schema_notify()', 'execute'), 'anon cannot execute ayb.schema_notify');
select ok(not has_function_privilege('authenticated', 'ayb.schema_notify()', 'execute'), 'authenticated cannot execute ayb.schema_notify');

-- DDL inside a transaction still succeeds with the trigger in place.
create table public.tap_schema_probe (id int);
select has_table('public', 'tap_schema_probe', 'DDL runs normally with the event trigger');
rollback;
