-- The claim helpers policies call are inlined into the calling query
-- (no SET clause, one expression), and still answer as before.
begin;
select plan(9);

select is((select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'auth' and p.proname in ('uid', 'role', 'email', 'app_id', 'client_id')
              and p.proconfig is null and p.prolang = (select oid from pg_language where lanname = 'sql')),
          5, 'uid, role, email, app_id and client_id are plain SQL functions with no SET clause');

create temp table notes (id int primary key, owner uuid);
create index on notes (owner);
create function pg_temp.plan_of(q text) returns text language plpgsql as $f$
declare r record; out text := '';
begin
  for r in execute 'explain (verbose, costs off) ' || q loop out := out || r."QUERY PLAN" || E'\n'; end loop;
  return out;
end $f$;
set local enable_seqscan = off;
select matches(pg_temp.plan_of('select * from notes where owner = auth.uid()'), 'current_setting',
  'auth.uid() is expanded into the query that calls it');
select doesnt_match(pg_temp.plan_of('select * from notes where owner = auth.uid()'), 'auth\.uid',
  'no call to auth.uid() is left in the plan');
select matches(pg_temp.plan_of('select * from notes where owner = auth.uid()'), 'Index Cond',
  'owner = auth.uid() can be an index condition');

select set_config('request.jwt.claims', '{"sub":"4B7D1A8E-9C1F-4A57-8D7E-2F3B4C5D6E7F","role":"authenticated","app_id":"nope"}', true);
select is(auth.uid(), '4b7d1a8e-9c1f-4a57-8d7e-2f3b4c5d6e7f'::uuid, 'an upper-case uuid sub is a uid');
select is(auth.app_id(), null, 'a non-uuid app_id is null');
select set_config('request.jwt.claims', '', true);
select is(auth.uid(), null, 'empty claims give a null uid');
select is(auth.role(), (select nullif(current_setting('role', true), 'none')), 'empty claims give the session role');

-- A search_path that shadows pg_catalog's operators and types changes nothing.
create schema shadow;
create function shadow.evil(jsonb, text) returns text language sql as $f$ select '00000000-0000-0000-0000-000000000001' $f$;
create operator shadow.->> (leftarg = jsonb, rightarg = text, function = shadow.evil);
set local search_path = shadow, pg_catalog, tap, public;
select set_config('request.jwt.claims', '{"sub":"4b7d1a8e-9c1f-4a57-8d7e-2f3b4c5d6e7f"}', true);
select is(auth.uid(), '4b7d1a8e-9c1f-4a57-8d7e-2f3b4c5d6e7f'::uuid, 'a shadowing ->> operator is not used');

select * from finish();
rollback;
