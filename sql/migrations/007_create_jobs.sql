-- Why: background work (email, push, webhooks, housekeeping, users' own
-- jobs) needs a durable queue that several server instances share. The
-- queue's logic lives here as SQL functions over private tables, so psql,
-- triggers and the Go workers all use the same API; the Go side only claims,
-- runs handlers and reports back. Schedules (cron) live here too, fired by
-- any instance with a guarded update so each fire time enqueues once.

create type ayb.job_state as enum (
  'available', 'scheduled', 'running', 'retryable', 'completed', 'discarded', 'cancelled'
);

create table ayb.jobs (
  id            bigint generated always as identity primary key,
  queue         text not null default 'default' check (queue ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  kind          text not null check (kind ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  args          jsonb not null default '{}'::jsonb,
  -- 0 runs first, 9 last (as in Oban).
  priority      smallint not null default 0 check (priority between 0 and 9),
  state         ayb.job_state not null default 'available',
  -- attempt is also the fencing token: every claim increments it, and every
  -- finalizing call names the attempt it holds.
  attempt       integer not null default 0 check (attempt >= 0),
  max_attempts  integer not null default 20 check (max_attempts between 1 and 1000),
  scheduled_at  timestamptz not null default now(),
  attempted_at  timestamptz,
  attempted_by  text,
  lease_until   timestamptz,
  finalized_at  timestamptz,
  errors        jsonb not null default '[]'::jsonb check (jsonb_typeof(errors) = 'array'),
  unique_key    text check (length(unique_key) between 1 and 512),
  tags          text[] not null default '{}',
  created_at    timestamptz not null default now(),
  constraint jobs_finalized_has_time
    check ((state in ('completed', 'discarded', 'cancelled')) = (finalized_at is not null)),
  constraint jobs_running_has_lease
    check (state <> 'running' or (lease_until is not null and attempted_at is not null and attempted_by is not null and attempt >= 1)),
  constraint jobs_attempts_within_max check (attempt <= max_attempts)
);

-- The claim query walks this index in order: queue, then priority, then time.
create index jobs_fetch_idx on ayb.jobs (queue, priority, scheduled_at, id)
  where state in ('available', 'scheduled', 'retryable');
create index jobs_lease_idx on ayb.jobs (lease_until) where state = 'running';
create index jobs_unique_key_idx on ayb.jobs (unique_key, created_at) where unique_key is not null;
create index jobs_finalized_idx on ayb.jobs (finalized_at) where finalized_at is not null;
create index jobs_kind_idx on ayb.jobs (kind, id);

-- Kinds the workers know. Built-ins are seeded here; the server adds the
-- kinds it registers at start. Schedules must name a known kind.
create table ayb.job_kinds (
  kind        text primary key check (kind ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  admin_only  boolean not null default false,
  registered_at timestamptz not null default now()
);
insert into ayb.job_kinds (kind, admin_only) values
  ('sql', true), ('matview.refresh', false), ('housekeeping', false);

-- Housekeeping hook: each area registers a function
-- fn(p_now timestamptz, p_args jsonb) returns bigint (rows removed) here
-- from its own migration; the `housekeeping` job calls them all.
create table ayb.housekeeping (
  name      text primary key check (name ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  function  regprocedure not null,
  position  integer not null default 100
);

create table ayb.schedules (
  name             text primary key check (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  cron             text not null check (length(cron) between 1 and 200),
  timezone         text not null default 'UTC',
  kind             text not null references ayb.job_kinds (kind) on update cascade,
  args             jsonb not null default '{}'::jsonb,
  queue            text not null default 'default' check (queue ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  priority         smallint not null default 0 check (priority between 0 and 9),
  max_attempts     integer not null default 20 check (max_attempts between 1 and 1000),
  enabled          boolean not null default true,
  -- After downtime, missed fire times collapse into one run (true) or are
  -- skipped (false).
  catch_up         boolean not null default true,
  -- NULL: to be computed by the next scheduler tick from its current time
  -- (after create, enable or a cron change; the parser lives in Go).
  next_run_at      timestamptz,
  last_fire_at     timestamptz,
  last_enqueued_at timestamptz,
  last_job_id      bigint,
  last_error       text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
create index schedules_due_idx on ayb.schedules (next_run_at) where enabled;

-- ---------------------------------------------------------------------------
-- Enqueue

-- Whether the caller may enqueue admin-only kinds (sql): a superuser, or a
-- member of service_role or ayb_system acting as itself. Inside a security
-- definer function current_user is the owner, so the caller is read from
-- the role setting (what SET ROLE / the request chose) or the session user.
create function ayb.job_caller_is_admin() returns boolean
language sql stable
set search_path = ''
as $$
  select coalesce(r.rolsuper, false)
      or pg_catalog.pg_has_role(r.oid, 'service_role', 'member')
      or pg_catalog.pg_has_role(r.oid, 'ayb_system', 'member')
  from pg_catalog.pg_roles r
  where r.rolname = coalesce(nullif(pg_catalog.current_setting('role'), 'none'), session_user::text)
$$;

-- Batch enqueue: parallel arrays, one element per job (NULL arrays or
-- elements take defaults). Returns one row per input, in input order: the
-- job id, and whether it was a duplicate of an existing job (its id).
-- A unique key skips the job while a job with that key is still waiting to
-- run (available, scheduled, retryable) or was created within its window.
-- Jobs due now send one NOTIFY per queue per call on channel ayb_jobs.
create function ayb.job_enqueue(
  p_kinds          text[],
  p_args           jsonb[] default null,
  p_queues         text[] default null,
  p_priorities     smallint[] default null,
  p_run_at         timestamptz[] default null,
  p_max_attempts   integer[] default null,
  p_unique_keys    text[] default null,
  p_unique_windows interval[] default null,
  p_tags           text[] default null,
  p_now            timestamptz default null
) returns table (id bigint, duplicate boolean)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_n integer := coalesce(pg_catalog.array_length(p_kinds, 1), 0);
  v_i integer;
  v_id bigint;
  v_run timestamptz;
  v_key text;
begin
  if v_n = 0 then
    return;
  end if;
  if 'sql' = any (p_kinds) and not ayb.job_caller_is_admin() then
    raise exception 'only admins may enqueue jobs of kind sql' using errcode = '42501';
  end if;
  if p_unique_keys is null or pg_catalog.array_length(pg_catalog.array_remove(p_unique_keys, null), 1) is null then
    -- Fast path: no unique keys, one INSERT for the whole batch.
    return query
    insert into ayb.jobs (kind, args, queue, priority, state, scheduled_at, max_attempts, tags, created_at)
    select u.kind,
           coalesce(u.args, '{}'::jsonb),
           coalesce(u.queue, 'default'),
           coalesce(u.priority, 0),
           case when coalesce(u.run_at, v_now) > v_now then 'scheduled'::ayb.job_state else 'available'::ayb.job_state end,
           coalesce(u.run_at, v_now),
           coalesce(u.max_attempts, 20),
           coalesce(p_tags, '{}'),
           v_now
    from unnest(p_kinds, p_args, p_queues, p_priorities, p_run_at, p_max_attempts)
           with ordinality as u(kind, args, queue, priority, run_at, max_attempts, ord)
    order by u.ord
    returning ayb.jobs.id, false;
  else
    for v_i in 1 .. v_n loop
      v_key := p_unique_keys[v_i];
      v_run := coalesce(p_run_at[v_i], v_now);
      v_id := null;
      if v_key is not null then
        -- Serialize enqueuers of one key until their transactions end, then
        -- look for a duplicate (read committed: sees committed rows).
        perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ayb.job_unique'), pg_catalog.hashtext(v_key));
        select j.id into v_id from ayb.jobs j
        where j.unique_key = v_key
          and (j.state in ('available', 'scheduled', 'retryable')
               or (p_unique_windows[v_i] is not null and j.created_at > v_now - p_unique_windows[v_i]))
        order by j.id desc limit 1;
      end if;
      if v_id is not null then
        id := v_id; duplicate := true;
        return next;
      else
        insert into ayb.jobs (kind, args, queue, priority, state, scheduled_at, max_attempts, unique_key, tags, created_at)
        values (p_kinds[v_i], coalesce(p_args[v_i], '{}'::jsonb), coalesce(p_queues[v_i], 'default'),
                coalesce(p_priorities[v_i], 0),
                case when v_run > v_now then 'scheduled'::ayb.job_state else 'available'::ayb.job_state end,
                v_run, coalesce(p_max_attempts[v_i], 20), v_key, coalesce(p_tags, '{}'), v_now)
        returning ayb.jobs.id into v_id;
        id := v_id; duplicate := false;
        return next;
      end if;
    end loop;
  end if;
  perform pg_catalog.pg_notify('ayb_jobs', 'insert:' || q)
  from (select distinct coalesce(p_queues[i], 'default') as q
        from pg_catalog.generate_subscripts(p_kinds, 1) as i
        where coalesce(p_run_at[i], v_now) <= v_now) s;
end
$$;

-- Single enqueue. Give p_run_at or p_delay (not both) to run later.
create function ayb.job_enqueue(
  p_kind          text,
  p_args          jsonb default '{}'::jsonb,
  p_queue         text default 'default',
  p_priority      integer default 0,
  p_run_at        timestamptz default null,
  p_delay         interval default null,
  p_max_attempts  integer default 20,
  p_unique_key    text default null,
  p_unique_window interval default null,
  p_tags          text[] default '{}',
  p_now           timestamptz default null
) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_id bigint;
begin
  if p_run_at is not null and p_delay is not null then
    raise exception 'give run_at or delay, not both' using errcode = '22023';
  end if;
  select e.id into v_id from ayb.job_enqueue(
    array[p_kind], array[p_args], array[p_queue], array[p_priority::smallint],
    array[coalesce(p_run_at, v_now + p_delay)], array[p_max_attempts],
    array[p_unique_key], array[p_unique_window], p_tags, v_now) e;
  return v_id;
end
$$;

-- ---------------------------------------------------------------------------
-- Claim, heartbeat, complete, fail

-- Claims up to p_limit due jobs of one queue for p_worker in one statement:
-- highest priority first, then oldest. SKIP LOCKED lets many workers claim
-- at once without waiting on each other.
create function ayb.job_claim(
  p_worker text,
  p_queue  text,
  p_limit  integer,
  p_lease  interval default '30 seconds',
  p_now    timestamptz default null
) returns setof ayb.jobs
language plpgsql volatile security definer
set search_path = ''
as $$
-- plpgsql, not sql: PG15 re-plans a non-inlined SQL function's body on
-- every call, while plpgsql caches the plan (the claim runs thousands of
-- times a second).
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
begin
  return query
  with due as (
    select j.id from ayb.jobs j
    where j.state in ('available', 'scheduled', 'retryable')
      and j.queue = p_queue
      and j.scheduled_at <= v_now
    order by j.priority, j.scheduled_at, j.id
    limit p_limit
    for update skip locked
  )
  update ayb.jobs j
     set state = 'running',
         attempt = j.attempt + 1,
         attempted_at = v_now,
         attempted_by = p_worker,
         lease_until = v_now + p_lease
    from due
   where j.id = due.id
  returning j.*;
end
$$;

-- Extends the leases of running jobs the caller still holds (same attempt).
-- Returns the ids still held; a missing id was cancelled or rescued.
create function ayb.job_heartbeat(
  p_ids      bigint[],
  p_attempts integer[],
  p_lease    interval default '30 seconds',
  p_now      timestamptz default null
) returns setof bigint
language sql volatile security definer
set search_path = ''
as $$
  update ayb.jobs j
     set lease_until = coalesce(p_now, pg_catalog.now()) + p_lease
    from unnest(p_ids, p_attempts) as u(id, attempt)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id
$$;

-- Completes a batch of running jobs. Each is fenced by its attempt: a job
-- rescued and claimed again (or cancelled) is not touched. Returns the ids
-- that were completed.
create function ayb.job_complete(
  p_ids      bigint[],
  p_attempts integer[],
  p_now      timestamptz default null
) returns setof bigint
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  return query
  update ayb.jobs j
     set state = 'completed',
         finalized_at = coalesce(p_now, pg_catalog.now()),
         lease_until = null
    from unnest(p_ids, p_attempts) as u(id, attempt)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id;
end
$$;

-- Backoff before attempt n+1: 2^n seconds capped at a day, +-10% jitter.
create function ayb.job_backoff(p_attempt integer) returns interval
language sql volatile
set search_path = ''
as $$
  select pg_catalog.make_interval(secs =>
    least(power(2::float8, least(p_attempt, 30)), 86400) * (0.9 + random() * 0.2))
$$;

-- Fails a batch of running jobs (fenced by attempt like job_complete):
-- records the error in the job's history, then schedules a retry after
-- p_retry_at (or exponential backoff) or discards the job after its last
-- attempt. Returns the ids that were failed with their new state.
create function ayb.job_fail(
  p_ids      bigint[],
  p_attempts integer[],
  p_errors   text[],
  p_retry_at timestamptz[] default null,
  p_discard  boolean[] default null,
  p_now      timestamptz default null
) returns table (id bigint, state ayb.job_state)
language sql volatile security definer
set search_path = ''
as $$
  update ayb.jobs j
     set state = case when j.attempt >= j.max_attempts or coalesce(u.discard, false)
                      then 'discarded'::ayb.job_state else 'retryable'::ayb.job_state end,
         scheduled_at = case when j.attempt >= j.max_attempts or coalesce(u.discard, false) then j.scheduled_at
                             else coalesce(u.retry_at, coalesce(p_now, pg_catalog.now()) + ayb.job_backoff(j.attempt)) end,
         finalized_at = case when j.attempt >= j.max_attempts or coalesce(u.discard, false)
                             then coalesce(p_now, pg_catalog.now()) end,
         lease_until = null,
         errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'attempt', j.attempt, 'at', coalesce(p_now, pg_catalog.now()),
                    'by', j.attempted_by, 'error', left(coalesce(u.error, 'unknown error'), 4000)))
    from unnest(p_ids, p_attempts, p_errors, p_retry_at, p_discard) as u(id, attempt, error, retry_at, discard)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id, j.state
$$;

-- Gives running jobs back to the queue without counting a failure (a worker
-- shutting down). The attempt stays, so the old holder stays fenced out.
create function ayb.job_release(
  p_ids      bigint[],
  p_attempts integer[],
  p_now      timestamptz default null
) returns setof bigint
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  return query
  update ayb.jobs j
     set state = 'available',
         scheduled_at = coalesce(p_now, pg_catalog.now()),
         lease_until = null,
         max_attempts = greatest(j.max_attempts, j.attempt + 1),
         errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'attempt', j.attempt, 'at', coalesce(p_now, pg_catalog.now()),
                    'by', j.attempted_by, 'error', 'released: worker shut down'))
    from unnest(p_ids, p_attempts) as u(id, attempt)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id;
  if found then
    perform pg_catalog.pg_notify('ayb_jobs', 'insert:' || q)
    from (select distinct j.queue as q from ayb.jobs j where j.id = any (p_ids)) s;
  end if;
end
$$;

-- Running jobs whose lease expired (their worker died) go back to
-- retryable, due now, or are discarded after their last attempt.
create function ayb.job_rescue(p_now timestamptz default null) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_n integer;
begin
  with stuck as (
    select j.id from ayb.jobs j
    where j.state = 'running' and j.lease_until < v_now
    for update skip locked
  ), upd as (
    update ayb.jobs j
       set state = case when j.attempt >= j.max_attempts then 'discarded'::ayb.job_state else 'retryable'::ayb.job_state end,
           finalized_at = case when j.attempt >= j.max_attempts then v_now end,
           scheduled_at = v_now,
           lease_until = null,
           errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                      'attempt', j.attempt, 'at', v_now, 'by', j.attempted_by,
                      'error', 'lease expired: worker lost'))
      from stuck where j.id = stuck.id
    returning j.queue, j.state
  )
  select count(*) into v_n from upd;
  if v_n > 0 then
    perform pg_catalog.pg_notify('ayb_jobs', 'insert:' || q)
    from (select distinct j.queue as q from ayb.jobs j where j.state = 'retryable' and j.scheduled_at = v_now) s;
  end if;
  return v_n;
end
$$;

-- ---------------------------------------------------------------------------
-- Cancel, retry, prune

-- Cancels a job. A waiting job is finalized at once; a running job is
-- finalized too (its late completion is refused) and its worker is told on
-- channel ayb_jobs ('cancel:<id>') so the handler's context is cancelled.
create function ayb.job_cancel(p_id bigint, p_now timestamptz default null) returns ayb.jobs
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.jobs;
  v_was ayb.job_state;
begin
  select * into v from ayb.jobs where id = p_id for update;
  if not found then
    raise exception 'job % not found', p_id using errcode = 'PT404';
  end if;
  v_was := v.state;
  if v.state in ('completed', 'discarded', 'cancelled') then
    raise exception 'job % is already %', p_id, v.state using errcode = 'PT409',
      hint = 'only waiting or running jobs can be cancelled';
  end if;
  update ayb.jobs set state = 'cancelled', finalized_at = coalesce(p_now, pg_catalog.now()), lease_until = null
  where id = p_id returning * into v;
  if v_was = 'running' then
    perform pg_catalog.pg_notify('ayb_jobs', 'cancel:' || p_id);
  end if;
  return v;
end
$$;

-- Makes a finalized or retryable job available again now. It gets at least
-- one more attempt.
create function ayb.job_retry(p_id bigint, p_now timestamptz default null) returns ayb.jobs
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.jobs;
begin
  select * into v from ayb.jobs where id = p_id for update;
  if not found then
    raise exception 'job % not found', p_id using errcode = 'PT404';
  end if;
  if v.state in ('running', 'available') then
    raise exception 'job % is %', p_id, v.state using errcode = 'PT409',
      hint = 'only completed, discarded, cancelled, scheduled or retryable jobs can be retried';
  end if;
  update ayb.jobs
     set state = 'available', scheduled_at = coalesce(p_now, pg_catalog.now()), finalized_at = null,
         max_attempts = greatest(max_attempts, attempt + 1)
   where id = p_id returning * into v;
  perform pg_catalog.pg_notify('ayb_jobs', 'insert:' || v.queue);
  return v;
end
$$;

-- Deletes finalized jobs older than the given ages. Returns rows deleted.
create function ayb.job_prune(
  p_completed_age interval default '1 day',
  p_failed_age    interval default '7 days',
  p_now           timestamptz default null
) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_n bigint;
begin
  with d as (
    delete from ayb.jobs j
    where j.finalized_at is not null
      and ((j.state = 'completed' and j.finalized_at < v_now - p_completed_age)
        or (j.state in ('discarded', 'cancelled') and j.finalized_at < v_now - p_failed_age))
    returning 1
  ) select count(*) into v_n from d;
  return v_n;
end
$$;

-- The housekeeping entry for jobs: args {"completed_retention": "1 day",
-- "failed_retention": "7 days"} (the housekeeping schedule's args).
create function ayb.job_housekeeping(p_now timestamptz, p_args jsonb) returns bigint
language sql volatile security definer
set search_path = ''
as $$
  select ayb.job_prune(coalesce((p_args ->> 'completed_retention')::interval, '1 day'),
                       coalesce((p_args ->> 'failed_retention')::interval, '7 days'), p_now)
$$;

insert into ayb.housekeeping (name, function, position)
values ('jobs.prune', 'ayb.job_housekeeping(timestamptz, jsonb)', 100);

-- Runs every registered housekeeping function; returns what each removed.
create function ayb.housekeeping_run(p_args jsonb default '{}'::jsonb, p_now timestamptz default null)
returns table (name text, removed bigint)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  r record;
begin
  for r in select h.name, h.function::oid as fn from ayb.housekeeping h order by h.position, h.name loop
    name := r.name;
    execute pg_catalog.format('select %s($1, $2)', r.fn::regproc) into removed
      using coalesce(p_now, pg_catalog.now()), coalesce(p_args, '{}'::jsonb);
    return next;
  end loop;
end
$$;

-- The `sql` job kind: calls p_function(jsonb) with the job's args. It runs
-- as its caller (security invoker); the worker calls it as service_role,
-- never as the server's own role.
create function ayb.job_run_sql(p_function text, p_args jsonb) returns text
language plpgsql volatile
set search_path = ''
as $$
declare
  v_fn regprocedure;
  v_schema text;
  v_name text;
  v_out text;
begin
  begin
    v_fn := pg_catalog.to_regprocedure(p_function || '(jsonb)');
  exception when others then
    v_fn := null;
  end;
  if v_fn is null then
    raise exception 'function %(jsonb) does not exist', p_function using errcode = '42883',
      hint = 'a sql job calls a function that takes one jsonb argument: {"function": "schema.name", "args": {...}}';
  end if;
  select n.nspname, p.proname into v_schema, v_name
  from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace where p.oid = v_fn;
  execute pg_catalog.format('select %I.%I($1)::text', v_schema, v_name) into v_out using p_args;
  return v_out;
end
$$;

-- ---------------------------------------------------------------------------
-- Schedules

create function ayb.schedule_check(p_cron text, p_timezone text, p_kind text) returns void
language plpgsql stable
set search_path = ''
as $$
begin
  if not exists (select 1 from pg_catalog.pg_timezone_names where name = p_timezone) and p_timezone <> 'UTC' then
    raise exception 'unknown time zone %', p_timezone using errcode = '22023',
      hint = 'use an IANA name such as Europe/Berlin';
  end if;
  -- The full parser is in Go (the scheduler); this rejects what can never parse.
  if not (p_cron ~ '^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$'
       or p_cron ~ '^@every [0-9]+(\.[0-9]+)?(ms|s|m|h)([0-9]+(\.[0-9]+)?(ms|s|m|h))*$'
       or p_cron ~ '^\s*\S+(\s+\S+){4,5}\s*$') then
    raise exception 'invalid cron expression %', p_cron using errcode = '22023',
      hint = 'five fields (minute hour day month weekday), six with seconds first, or @hourly, @daily, @every 30s';
  end if;
  if not exists (select 1 from ayb.job_kinds k where k.kind = p_kind) then
    raise exception 'unknown job kind %', p_kind using errcode = '22023',
      hint = 'known kinds: ' || (select string_agg(kind, ', ' order by kind) from ayb.job_kinds);
  end if;
  if (select admin_only from ayb.job_kinds k where k.kind = p_kind) and not ayb.job_caller_is_admin() then
    raise exception 'only admins may schedule jobs of kind %', p_kind using errcode = '42501';
  end if;
end
$$;

-- Creates or replaces a schedule. Changing its cron or time zone (or
-- creating it) leaves next_run_at NULL for the scheduler to compute.
create function ayb.schedule_upsert(
  p_name         text,
  p_cron         text,
  p_kind         text,
  p_args         jsonb default '{}'::jsonb,
  p_timezone     text default 'UTC',
  p_queue        text default 'default',
  p_priority     integer default 0,
  p_max_attempts integer default 20,
  p_enabled      boolean default true,
  p_catch_up     boolean default true
) returns ayb.schedules
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.schedules;
begin
  perform ayb.schedule_check(p_cron, p_timezone, p_kind);
  insert into ayb.schedules as s (name, cron, timezone, kind, args, queue, priority, max_attempts, enabled, catch_up)
  values (p_name, p_cron, p_timezone, p_kind, coalesce(p_args, '{}'::jsonb), p_queue, p_priority, p_max_attempts, p_enabled, p_catch_up)
  on conflict (name) do update
     set cron = excluded.cron, timezone = excluded.timezone, kind = excluded.kind, args = excluded.args,
         queue = excluded.queue, priority = excluded.priority, max_attempts = excluded.max_attempts,
         enabled = excluded.enabled, catch_up = excluded.catch_up,
         next_run_at = case when s.cron = excluded.cron and s.timezone = excluded.timezone and s.enabled
                            then s.next_run_at end,
         last_error = null,
         updated_at = pg_catalog.now()
  returning * into v;
  perform pg_catalog.pg_notify('ayb_jobs', 'schedule:' || p_name);
  return v;
end
$$;

create function ayb.schedule_enable(p_name text) returns ayb.schedules
language plpgsql volatile security definer
set search_path = ''
as $$
declare v ayb.schedules;
begin
  update ayb.schedules s
     set enabled = true, next_run_at = case when s.enabled then s.next_run_at end, updated_at = pg_catalog.now()
   where s.name = p_name returning * into v;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  perform pg_catalog.pg_notify('ayb_jobs', 'schedule:' || p_name);
  return v;
end
$$;

create function ayb.schedule_disable(p_name text) returns ayb.schedules
language plpgsql volatile security definer
set search_path = ''
as $$
declare v ayb.schedules;
begin
  update ayb.schedules s set enabled = false, next_run_at = null, updated_at = pg_catalog.now()
   where s.name = p_name returning * into v;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  return v;
end
$$;

create function ayb.schedule_delete(p_name text) returns ayb.schedules
language plpgsql volatile security definer
set search_path = ''
as $$
declare v ayb.schedules;
begin
  delete from ayb.schedules s where s.name = p_name returning * into v;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  return v;
end
$$;

-- Sets a schedule's first next_run_at (computed by a scheduler), only if
-- no other scheduler set it meanwhile.
create function ayb.schedule_set_next(p_name text, p_next timestamptz, p_error text default null) returns boolean
language sql volatile security definer
set search_path = ''
as $$
  with u as (
    update ayb.schedules s set next_run_at = p_next, last_error = p_error
     where s.name = p_name and s.enabled and s.next_run_at is null
    returning 1)
  select exists (select 1 from u)
$$;

-- Fires a due schedule: moves next_run_at from p_fire_at to p_next and
-- enqueues its job (unless p_enqueue is false: a missed fire skipped). The
-- update is guarded by enabled and the expected next_run_at, so among any
-- number of schedulers exactly one fires each fire time, and a schedule
-- disabled at its due moment fires nothing. Returns the job id (NULL if
-- this caller lost the race, or the fire was skipped).
create function ayb.schedule_fire(
  p_name    text,
  p_fire_at timestamptz,
  p_next    timestamptz,
  p_enqueue boolean default true,
  p_now     timestamptz default null
) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.schedules;
  v_now timestamptz := coalesce(p_now, pg_catalog.now());
  v_id bigint;
begin
  update ayb.schedules s
     set next_run_at = p_next, last_fire_at = p_fire_at
   where s.name = p_name and s.enabled and s.next_run_at = p_fire_at
  returning * into v;
  if not found or not p_enqueue then
    return null;
  end if;
  v_id := ayb.job_enqueue(v.kind, v.args, v.queue, v.priority, null, null, v.max_attempts,
                          'schedule:' || v.name || ':' || pg_catalog.to_char(p_fire_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                          interval '1 day', array['schedule:' || v.name], v_now);
  update ayb.schedules s set last_enqueued_at = v_now, last_job_id = v_id where s.name = p_name;
  return v_id;
end
$$;

-- Enqueues a schedule's job now, outside its cron (admin "run now").
create function ayb.schedule_run_now(p_name text, p_now timestamptz default null) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.schedules;
  v_id bigint;
begin
  select * into v from ayb.schedules s where s.name = p_name;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  v_id := ayb.job_enqueue(v.kind, v.args, v.queue, v.priority, null, null, v.max_attempts,
                          null, null, array['schedule:' || v.name], p_now);
  update ayb.schedules s set last_enqueued_at = coalesce(p_now, pg_catalog.now()), last_job_id = v_id where s.name = p_name;
  return v_id;
end
$$;

-- Housekeeping runs hourly by default; edit or disable it like any schedule.
insert into ayb.schedules (name, cron, kind, args)
values ('ayb.housekeeping', '@hourly', 'housekeeping',
        '{"completed_retention": "1 day", "failed_retention": "7 days"}');

-- EXECUTE: the server (ayb_system) and admins (service_role) only.
do $$
declare
  f text;
begin
  foreach f in array array[
    'ayb.job_caller_is_admin()',
    'ayb.job_enqueue(text[], jsonb[], text[], smallint[], timestamptz[], integer[], text[], interval[], text[], timestamptz)',
    'ayb.job_enqueue(text, jsonb, text, integer, timestamptz, interval, integer, text, interval, text[], timestamptz)',
    'ayb.job_claim(text, text, integer, interval, timestamptz)',
    'ayb.job_heartbeat(bigint[], integer[], interval, timestamptz)',
    'ayb.job_complete(bigint[], integer[], timestamptz)',
    'ayb.job_backoff(integer)',
    'ayb.job_fail(bigint[], integer[], text[], timestamptz[], boolean[], timestamptz)',
    'ayb.job_release(bigint[], integer[], timestamptz)',
    'ayb.job_rescue(timestamptz)',
    'ayb.job_cancel(bigint, timestamptz)',
    'ayb.job_retry(bigint, timestamptz)',
    'ayb.job_prune(interval, interval, timestamptz)',
    'ayb.job_housekeeping(timestamptz, jsonb)',
    'ayb.housekeeping_run(jsonb, timestamptz)',
    'ayb.job_run_sql(text, jsonb)',
    'ayb.schedule_check(text, text, text)',
    'ayb.schedule_upsert(text, text, text, jsonb, text, text, integer, integer, boolean, boolean)',
    'ayb.schedule_enable(text)',
    'ayb.schedule_disable(text)',
    'ayb.schedule_delete(text)',
    'ayb.schedule_set_next(text, timestamptz, text)',
    'ayb.schedule_fire(text, timestamptz, timestamptz, boolean, timestamptz)',
    'ayb.schedule_run_now(text, timestamptz)'
  ] loop
    execute format('revoke all on function %s from public', f);
    execute format('grant execute on function %s to ayb_system, service_role', f);
  end loop;
end
$$;
