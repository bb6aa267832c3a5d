-- Why: every instance pruned the realtime event log on a ticker of its own:
-- N deletes a minute with N instances, and none at all while no instance
-- served realtime but tables still captured changes. Pruning is now a job:
-- the schedule ayb.realtime.prune enqueues one realtime.prune job per
-- minute whichever instances are up (each fire time enqueues once), and
-- whichever worker claims it prunes with its configured retention
-- (`[realtime] retention`), or with the job's args {"retention": "2 hours"}.
-- Edit, run or disable it like any schedule (ayb schedules ...).

insert into ayb.job_kinds (kind, admin_only) values ('realtime.prune', true)
on conflict (kind) do update set admin_only = true;

insert into ayb.schedules (name, cron, kind, args)
values ('ayb.realtime.prune', '@every 1m', 'realtime.prune', '{}');

-- A negative retention would prune everything below the horizon, including
-- what was committed a moment ago: refuse it. Otherwise unchanged from 009.
create or replace function ayb.realtime_prune(older_than interval, now timestamptz default now())
  returns bigint
  language plpgsql volatile
  set search_path = ''
as $$
declare
  through bigint;
  n bigint;
begin
  if older_than is null or older_than < interval '0' then
    raise exception 'the retention must not be negative (got %)', coalesce(older_than::text, 'null')
      using errcode = '22023', hint = 'for example ayb.realtime_prune(''1 hour'')';
  end if;
  with d as (
    delete from ayb.realtime_events
     where created_at < now - older_than and id <= ayb.realtime_horizon()
    returning id
  )
  select max(id), count(*) into through, n from d;
  if through is not null then
    update ayb.realtime_state set pruned_through = greatest(pruned_through, through);
  end if;
  return coalesce(n, 0);
end
$$;
