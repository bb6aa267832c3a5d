-- The functions a realtime check round calls every time keep cached plans
-- (plpgsql, or inlined), and still answer as before.
begin;
select plan(9);

select is((select string_agg(p.proname || ':' || l.lanname, ',' order by p.proname)
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
            where n.nspname = 'ayb' and p.proname in ('realtime_fingerprint', 'realtime_columns')),
          'realtime_columns:plpgsql,realtime_fingerprint:plpgsql',
          'the per-round catalog functions are plpgsql (their plans are cached per session)');
select is(ayb.realtime_lock_base(), x'4159000000000000'::bigint, 'the lock key base is unchanged');
select is((select proconfig from pg_proc where oid = 'ayb.realtime_lock_base()'::regprocedure), null,
          'realtime_lock_base has no SET clause, so it is folded into its callers');

create table public.fp_rows (id int primary key, owner uuid, secret text);
grant select on public.fp_rows to authenticated;
alter table public.fp_rows enable row level security;
create temp table fps (step text, fp text);
insert into fps values ('start', ayb.realtime_fingerprint('public.fp_rows', 'authenticated'));
select is(ayb.realtime_fingerprint('public.fp_rows', 'authenticated'), (select fp from fps where step = 'start'),
          'the fingerprint is stable while nothing changes');

create policy own on public.fp_rows for select using (owner = auth.uid());
insert into fps values ('policy', ayb.realtime_fingerprint('public.fp_rows', 'authenticated'));
select isnt((select fp from fps where step = 'policy'), (select fp from fps where step = 'start'),
            'a new policy changes the fingerprint');

alter policy own on public.fp_rows using (owner is not null);
select isnt(ayb.realtime_fingerprint('public.fp_rows', 'authenticated'), (select fp from fps where step = 'policy'),
            'an altered policy changes the fingerprint');
insert into fps values ('altered', ayb.realtime_fingerprint('public.fp_rows', 'authenticated'));

revoke select on public.fp_rows from authenticated;
select isnt(ayb.realtime_fingerprint('public.fp_rows', 'authenticated'), (select fp from fps where step = 'altered'),
            'a revoked grant changes the fingerprint');

grant select (id, owner) on public.fp_rows to authenticated;
select is(ayb.realtime_columns('public.fp_rows', 'authenticated'), array['id', 'owner'],
          'columns: only the granted ones');
revoke all on public.fp_rows from anon;
select is(ayb.realtime_columns('public.fp_rows', 'anon'), '{}'::text[], 'columns: none for a role without grants');

select * from finish();
rollback;
