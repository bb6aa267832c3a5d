-- Realtime capture and visibility, as anon, a member (owner of the
-- membership), another user and service_role.
begin;
select plan(27);

create table public.rt_members (team_id int, user_id uuid, primary key (team_id, user_id));
create table public.rt_rows (id int primary key, team_id int, body text, secret text);
alter table public.rt_rows enable row level security;
create policy rt_team on public.rt_rows for select
  using (exists (select 1 from public.rt_members m where m.team_id = rt_rows.team_id and m.user_id = auth.uid()));
revoke select on public.rt_rows from authenticated, anon;
grant select (id, team_id, body) on public.rt_rows to authenticated;
create table public.rt_nokey (v int);
insert into public.rt_members values (1, '11111111-1111-4111-8111-111111111111');

-- The log and the management functions are private.
set local role anon;
select throws_ok('select * from ayb.realtime_events', '42501', null, 'anon cannot read the event log');
reset role;
set local role authenticated;
select throws_ok('select * from ayb.realtime_events', '42501', null, 'authenticated cannot read the event log');
select throws_ok($$select ayb.realtime_enable('public.rt_rows')$$, '42501', null, 'authenticated cannot enable realtime');
reset role;
select ok(has_function_privilege('service_role', 'ayb.realtime_enable(regclass)', 'execute'), 'service_role may enable realtime');
select ok(not has_function_privilege('authenticated', 'ayb.realtime_check(regclass, text, text[], jsonb[], boolean, uuid[])', 'execute'),
  'authenticated cannot run visibility checks');

select throws_ok($$select ayb.realtime_enable('public.rt_nokey')$$, '22023', null, 'a table without primary key is refused');
select lives_ok($$select ayb.realtime_enable('public.rt_rows')$$, 'enable installs capture');
select lives_ok($$select ayb.realtime_enable('public.rt_rows')$$, 'enable is idempotent');
select is((select pk_columns from ayb.realtime_list() where tbl = 'public.rt_rows'), array['id'], 'list shows the table and its key');

-- Capture: each change is logged with its images, in order.
insert into public.rt_rows values (1, 1, 'a', 's'), (2, 2, 'b', 's');
update public.rt_rows set body = 'a2' where id = 1;
delete from public.rt_rows where id = 2;
select results_eq(
  $$select op, pk, record ->> 'body', old_record ->> 'body' from ayb.realtime_events where tbl = 'public.rt_rows'::regclass order by id$$,
  $$values ('insert', '{"id": 1}'::jsonb, 'a', null), ('insert', '{"id": 2}', 'b', null),
           ('update', '{"id": 1}', 'a2', 'a'), ('delete', '{"id": 2}', null, 'b')$$,
  'inserts, updates and deletes are logged with new and old images');
-- This transaction holds the writer lock: its own events are above the horizon.
select ok(ayb.realtime_horizon() < (select max(id) from ayb.realtime_events), 'an uncommitted writer holds the horizon back');

-- Visibility on row images, per role and claims.
select results_eq(
  $$select claims_idx from ayb.realtime_check('public.rt_rows', 'authenticated',
      array['{"sub":"11111111-1111-4111-8111-111111111111"}'], array['{"id":1,"team_id":1}'::jsonb])$$,
  $$values (1)$$, 'a member sees a team row');
select is_empty(
  $$select 1 from ayb.realtime_check('public.rt_rows', 'authenticated',
      array['{"sub":"22222222-2222-4222-8222-222222222222"}'], array['{"id":1,"team_id":1}'::jsonb])$$,
  'another user does not');
select is_empty(
  $$select 1 from ayb.realtime_check('public.rt_rows', 'anon', array['{}'], array['{"id":1,"team_id":1}'::jsonb])$$,
  'anon (no SELECT grant) sees nothing');
select results_eq(
  $$select claims_idx from ayb.realtime_check('public.rt_rows', 'service_role', array['{}'], array['{"id":1,"team_id":9}'::jsonb])$$,
  $$values (1)$$, 'service_role bypasses RLS');
select results_eq(
  $$select image_idx from ayb.realtime_check('public.rt_rows', 'authenticated',
      array['{"sub":"11111111-1111-4111-8111-111111111111"}'],
      (select array_agg(old_record order by id) from ayb.realtime_events where op = 'delete'))$$,
  $$select 1 where false$$, 'a deleted row of another team is judged on its old image: not visible');
select results_eq(
  $$select count(*)::int from ayb.realtime_check('public.rt_rows', 'authenticated',
      array['{"sub":"11111111-1111-4111-8111-111111111111"}'],
      array['{"id":1,"team_id":1}'::jsonb], true)$$,
  $$values (1)$$, 'the general path agrees');
-- Compiled policies are cached per session; a policy change applies at once.
create policy rt_none on public.rt_rows as restrictive for select using (false);
select is_empty(
  $$select 1 from ayb.realtime_check('public.rt_rows', 'authenticated',
      array['{"sub":"11111111-1111-4111-8111-111111111111"}'], array['{"id":1,"team_id":1}'::jsonb])$$,
  'a restrictive policy added later applies to the next check');
drop policy rt_none on public.rt_rows;
delete from public.rt_members;
select is_empty(
  $$select 1 from ayb.realtime_check('public.rt_rows', 'authenticated',
      array['{"sub":"11111111-1111-4111-8111-111111111111"}'], array['{"id":1,"team_id":1}'::jsonb])$$,
  'a membership removed is seen by the next check');
select throws_ok($$select * from ayb.realtime_check('public.rt_rows', 'ayb_system', array['{}'], array['{}'::jsonb])$$,
  '22023', null, 'checks run only as an API role');
select is(current_user::text, session_user::text, 'the check restores the role');
select is(ayb.realtime_columns('public.rt_rows', 'authenticated'), array['id', 'team_id', 'body'], 'revoked columns are not selectable');

-- Pruning.
select ok(ayb.realtime_prune('0 seconds', now() + interval '1 hour') >= 0, 'prune runs');
select ok(ayb.realtime_pruned_through() >= 0, 'pruned_through is tracked');
select throws_ok($$select ayb.realtime_prune('-1 hour')$$, '22023', null, 'a negative retention is refused');
select is((select kind || ' ' || cron from ayb.schedules where name = 'ayb.realtime.prune'), 'realtime.prune @every 1m',
  'a schedule prunes the log every minute');
select lives_ok($$select ayb.realtime_disable('public.rt_rows')$$, 'disable removes capture');

select * from finish();
rollback;
