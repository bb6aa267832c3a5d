-- Why: materialized views are the cheap way to serve heavy aggregates, but
-- only if something refreshes them safely. This registry records which views
-- AYB refreshes and how (standard or concurrent, on a schedule, after their
-- source tables change), checks the prerequisites up front, never lets two
-- refreshes of one view overlap, and keeps a history of every refresh.

create table ayb.matviews (
  id                bigint generated always as identity primary key,
  schema_name       text not null check (schema_name ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'),
  view_name         text not null check (view_name ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'),
  mode              text not null default 'standard' check (mode in ('standard', 'concurrent')),
  -- The schedule (cron) lives in ayb.schedules as 'matview:<schema>.<view>'.
  refresh_on_change boolean not null default false,
  debounce          interval not null default '2 seconds' check (debounce >= '0' and debounce <= '1 day'),
  last_refresh_at   timestamptz,
  last_duration_ms  double precision,
  last_status       text check (last_status in ('success', 'error')),
  last_error        text,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  unique (schema_name, view_name),
  check ((last_status is null) = (last_refresh_at is null)),
  check (last_status is distinct from 'error' or last_error is not null)
);

create table ayb.matview_refreshes (
  id           bigint generated always as identity primary key,
  matview_id   bigint not null references ayb.matviews (id) on delete cascade,
  started_at   timestamptz not null,
  finished_at  timestamptz not null,
  duration_ms  double precision not null check (duration_ms >= 0),
  status       text not null check (status in ('success', 'error')),
  error        text,
  error_code   text,
  triggered_by text not null default 'manual' check (length(triggered_by) between 1 and 200),
  check (finished_at >= started_at),
  check ((status = 'error') = (error is not null))
);
create index matview_refreshes_matview_idx on ayb.matview_refreshes (matview_id, id desc);

-- Resolves 'view' or 'schema.view' to (schema, name); schema defaults to public.
create function ayb.matview_split(p_view text, out schema_name text, out view_name text)
language plpgsql immutable
set search_path = ''
as $$
declare
  v_parts text[];
begin
  v_parts := pg_catalog.parse_ident(p_view);
  if pg_catalog.array_length(v_parts, 1) = 1 then
    schema_name := 'public'; view_name := v_parts[1];
  elsif pg_catalog.array_length(v_parts, 1) = 2 then
    schema_name := v_parts[1]; view_name := v_parts[2];
  else
    raise exception 'invalid view name %', p_view using errcode = '22023', hint = 'use view or schema.view';
  end if;
exception when invalid_parameter_value or syntax_error or invalid_name then
  raise exception 'invalid view name %', p_view using errcode = '22023', hint = 'use view or schema.view';
end
$$;

-- Raises a clear error when a view cannot be refreshed in a mode:
-- PT404 if it is not a materialized view, PT409 if concurrent mode lacks
-- its prerequisites (populated, a unique index on plain columns, no WHERE).
create function ayb.matview_check(p_schema text, p_name text, p_mode text) returns oid
language plpgsql stable
set search_path = ''
as $$
declare
  v_oid oid;
  v_populated boolean;
begin
  select c.oid, c.relispopulated into v_oid, v_populated
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = p_schema and c.relname = p_name and c.relkind = 'm';
  if v_oid is null then
    raise exception 'materialized view %.% does not exist', p_schema, p_name using errcode = 'PT404';
  end if;
  if p_mode = 'concurrent' then
    if not v_populated then
      raise exception 'materialized view %.% is not populated, so it cannot be refreshed concurrently', p_schema, p_name
        using errcode = 'PT409', hint = 'refresh it once in standard mode first';
    end if;
    if not exists (select 1 from pg_catalog.pg_index i
                   where i.indrelid = v_oid and i.indisunique and i.indisvalid
                     and i.indpred is null and i.indexprs is null) then
      raise exception 'materialized view %.% has no unique index on plain columns without a WHERE clause, which concurrent refresh needs', p_schema, p_name
        using errcode = 'PT409',
              hint = pg_catalog.format('create unique index on %I.%I (<key columns>), or use mode standard', p_schema, p_name);
    end if;
  end if;
  return v_oid;
end
$$;

-- The tables a view reads, following views (and matviews) down to tables.
create function ayb.matview_sources(p_oid oid) returns setof regclass
language sql stable
set search_path = ''
as $$
  with recursive deps(oid) as (
    select d.refobjid
    from pg_catalog.pg_rewrite r
    join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid = r.oid
                               and d.refclassid = 'pg_catalog.pg_class'::regclass
    where r.ev_class = p_oid and d.refobjid <> p_oid
    union
    select d.refobjid
    from deps
    join pg_catalog.pg_rewrite r on r.ev_class = deps.oid
    join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid = r.oid
                               and d.refclassid = 'pg_catalog.pg_class'::regclass
    where d.refobjid <> deps.oid
  )
  select distinct deps.oid::regclass from deps
  join pg_catalog.pg_class c on c.oid = deps.oid
  where c.relkind in ('r', 'p')
$$;

-- Statement trigger on a source table: enqueue one debounced refresh job.
-- The job's unique key makes every write until it starts share that job.
create function ayb.matview_on_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v ayb.matviews;
  v_key text;
begin
  select * into v from ayb.matviews m where m.id = tg_argv[0]::bigint;
  if not found or not v.refresh_on_change then
    return null;
  end if;
  v_key := 'matview.refresh:' || v.schema_name || '.' || v.view_name;
  -- Fast path without the key's lock: a refresh is already pending.
  if exists (select 1 from ayb.jobs j where j.unique_key = v_key and j.state in ('available', 'scheduled', 'retryable')) then
    return null;
  end if;
  perform ayb.job_enqueue('matview.refresh',
    pg_catalog.jsonb_build_object('view', v.schema_name || '.' || v.view_name, 'triggered_by', 'change'),
    'default', 0, null, v.debounce, 5, v_key, null, '{}', null);
  return null;
end
$$;

-- Installs or removes the change triggers of a registration.
create function ayb.matview_sync_triggers(p_id bigint) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v ayb.matviews;
  v_oid oid;
  r record;
  v_trigger text := 'ayb_matview_refresh_' || p_id;
begin
  -- Drop ours wherever they are, then recreate if wanted.
  for r in select t.tgrelid::regclass as tbl from pg_catalog.pg_trigger t where t.tgname = v_trigger loop
    execute pg_catalog.format('drop trigger %I on %s', v_trigger, r.tbl);
  end loop;
  select * into v from ayb.matviews m where m.id = p_id;
  if not found or not v.refresh_on_change then
    return;
  end if;
  v_oid := ayb.matview_check(v.schema_name, v.view_name, 'standard');
  for r in select s as tbl from ayb.matview_sources(v_oid) s loop
    execute pg_catalog.format(
      'create trigger %I after insert or update or delete or truncate on %s for each statement execute function ayb.matview_on_change(%L)',
      v_trigger, r.tbl, p_id::text);
  end loop;
end
$$;

-- Keeps the registration's schedule row in step (NULL cron: no schedule).
create function ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v ayb.matviews;
  v_name text;
begin
  select * into v from ayb.matviews m where m.id = p_id;
  v_name := 'matview:' || v.schema_name || '.' || v.view_name;
  if p_cron is null then
    delete from ayb.schedules s where s.name = v_name;
  else
    perform ayb.schedule_upsert(v_name, p_cron, 'matview.refresh',
      pg_catalog.jsonb_build_object('view', v.schema_name || '.' || v.view_name, 'triggered_by', 'schedule'),
      coalesce(p_timezone, 'UTC'), 'default', 0, 5, true, true);
  end if;
end
$$;

create function ayb.matview_get(p_view text) returns ayb.matviews
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v ayb.matviews;
  s record;
begin
  s := ayb.matview_split(p_view);
  select * into v from ayb.matviews m where m.schema_name = s.schema_name and m.view_name = s.view_name;
  if not found then
    raise exception 'materialized view %.% is not registered', s.schema_name, s.view_name using errcode = 'PT404',
      hint = 'register it with ayb.matview_register';
  end if;
  return v;
end
$$;

-- Registers a materialized view for refresh. p_schedule is an optional cron
-- expression (in p_timezone); p_refresh_on_change installs statement
-- triggers on its source tables that enqueue a refresh p_debounce later.
create function ayb.matview_register(
  p_view              text,
  p_mode              text default 'standard',
  p_schedule          text default null,
  p_timezone          text default 'UTC',
  p_refresh_on_change boolean default false,
  p_debounce          interval default '2 seconds'
) returns ayb.matviews
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.matviews;
  s record;
begin
  s := ayb.matview_split(p_view);
  if p_mode is null or p_mode not in ('standard', 'concurrent') then
    raise exception 'invalid refresh mode %', p_mode using errcode = '22023', hint = 'standard or concurrent';
  end if;
  perform ayb.matview_check(s.schema_name, s.view_name, p_mode);
  if exists (select 1 from ayb.matviews m where m.schema_name = s.schema_name and m.view_name = s.view_name) then
    raise exception 'materialized view %.% is already registered', s.schema_name, s.view_name using errcode = 'PT409',
      hint = 'update it with ayb.matview_update';
  end if;
  insert into ayb.matviews (schema_name, view_name, mode, refresh_on_change, debounce)
  values (s.schema_name, s.view_name, p_mode, coalesce(p_refresh_on_change, false), coalesce(p_debounce, '2 seconds'))
  returning * into v;
  perform ayb.matview_sync_triggers(v.id);
  perform ayb.matview_sync_schedule(v.id, p_schedule, p_timezone);
  return v;
end
$$;

-- Updates a registration; NULL arguments keep the current value, except
-- p_schedule, where '' removes the schedule and NULL keeps it.
create function ayb.matview_update(
  p_view              text,
  p_mode              text default null,
  p_schedule          text default null,
  p_timezone          text default null,
  p_refresh_on_change boolean default null,
  p_debounce          interval default null
) returns ayb.matviews
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.matviews;
  v_sched ayb.schedules;
begin
  v := ayb.matview_get(p_view);
  if p_mode is not null and p_mode not in ('standard', 'concurrent') then
    raise exception 'invalid refresh mode %', p_mode using errcode = '22023', hint = 'standard or concurrent';
  end if;
  perform ayb.matview_check(v.schema_name, v.view_name, coalesce(p_mode, v.mode));
  update ayb.matviews m
     set mode = coalesce(p_mode, m.mode),
         refresh_on_change = coalesce(p_refresh_on_change, m.refresh_on_change),
         debounce = coalesce(p_debounce, m.debounce),
         updated_at = pg_catalog.now()
   where m.id = v.id returning * into v;
  perform ayb.matview_sync_triggers(v.id);
  if p_schedule is not null or p_timezone is not null then
    select * into v_sched from ayb.schedules s where s.name = 'matview:' || v.schema_name || '.' || v.view_name;
    perform ayb.matview_sync_schedule(v.id,
      case when p_schedule = '' then null else coalesce(p_schedule, v_sched.cron) end,
      coalesce(p_timezone, v_sched.timezone, 'UTC'));
  end if;
  return v;
end
$$;

-- Unregisters a view (the view itself stays): drops its triggers, its
-- schedule and its history.
create function ayb.matview_unregister(p_view text) returns ayb.matviews
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.matviews;
begin
  v := ayb.matview_get(p_view);
  update ayb.matviews m set refresh_on_change = false where m.id = v.id;
  perform ayb.matview_sync_triggers(v.id);
  perform ayb.matview_sync_schedule(v.id, null, null);
  delete from ayb.matviews m where m.id = v.id;
  return v;
end
$$;

-- Refreshes a registered view. Two refreshes of one view never overlap: the
-- second caller gets PT409 'already refreshing' at once. The prerequisites
-- are checked again; a failure (view dropped: error_code PT404; concurrent
-- prerequisites gone: PT409; the refresh itself failing: its SQLSTATE) is
-- recorded in the history and returned as a row with status 'error', not
-- raised, so the record survives. On success a NOTIFY on channel
-- matview_refreshed carries 'schema.view'.
--
-- Callers should run it with statement_timeout = 0 (the Go side does): a
-- long refresh must not be killed by a timeout meant for requests.
create function ayb.matview_refresh(p_view text, p_triggered_by text default 'manual')
returns ayb.matview_refreshes
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v ayb.matviews;
  h ayb.matview_refreshes;
  v_start timestamptz := pg_catalog.clock_timestamp();
  v_end timestamptz;
  v_err text;
  v_code text;
begin
  v := ayb.matview_get(p_view);
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('ayb.matview_refresh'), v.id::integer) then
    raise exception 'materialized view %.% is already refreshing', v.schema_name, v.view_name
      using errcode = 'PT409', hint = 'wait for the running refresh to finish';
  end if;
  begin
    perform ayb.matview_check(v.schema_name, v.view_name, v.mode);
    execute pg_catalog.format('refresh materialized view %s %I.%I',
      case when v.mode = 'concurrent' then 'concurrently' else '' end, v.schema_name, v.view_name);
  exception when others then
    get stacked diagnostics v_err = message_text, v_code = returned_sqlstate;
  end;
  v_end := pg_catalog.clock_timestamp();
  insert into ayb.matview_refreshes (matview_id, started_at, finished_at, duration_ms, status, error, error_code, triggered_by)
  values (v.id, v_start, v_end, extract(epoch from v_end - v_start) * 1000,
          case when v_err is null then 'success' else 'error' end, v_err, v_code, coalesce(p_triggered_by, 'manual'))
  returning * into h;
  update ayb.matviews m
     set last_refresh_at = v_start, last_duration_ms = h.duration_ms, last_status = h.status, last_error = v_err
   where m.id = v.id;
  if v_err is null then
    perform pg_catalog.pg_notify('matview_refreshed', v.schema_name || '.' || v.view_name);
  end if;
  return h;
end
$$;

do $$
declare
  f text;
begin
  foreach f in array array[
    'ayb.matview_split(text)',
    'ayb.matview_check(text, text, text)',
    'ayb.matview_sources(oid)',
    'ayb.matview_sync_triggers(bigint)',
    'ayb.matview_sync_schedule(bigint, text, text)',
    'ayb.matview_get(text)',
    'ayb.matview_register(text, text, text, text, boolean, interval)',
    'ayb.matview_update(text, text, text, text, boolean, interval)',
    'ayb.matview_unregister(text)',
    'ayb.matview_refresh(text, text)'
  ] loop
    execute format('revoke all on function %s from public', f);
    execute format('grant execute on function %s to ayb_system, service_role', f);
  end loop;
  -- Trigger functions are not called directly.
  revoke all on function ayb.matview_on_change() from public;
end
$$;
