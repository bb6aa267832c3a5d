CREATE SCHEMA auth;

CREATE SCHEMA ayb;

CREATE TYPE ayb.job_state AS ENUM (
    'available',
    'scheduled',
    'running',
    'retryable',
    'completed',
    'discarded',
    'cancelled'
);

CREATE FUNCTION auth.app_id() RETURNS uuid
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $_$
  select case
    when (auth.jwt() ->> 'app_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (auth.jwt() ->> 'app_id')::uuid
  end
$_$;

CREATE FUNCTION auth.client_id() RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select auth.jwt() ->> 'client_id'
$$;

CREATE FUNCTION auth.email() RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select auth.jwt() ->> 'email'
$$;

CREATE FUNCTION auth.has_scope(requested text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  with s as (
    select coalesce(auth.jwt() ->> 'scope', '') as scope
  ), words as (
    select regexp_split_to_table(scope, '\s+') as w from s where scope <> ''
  )
  select case
    when (select scope from s) = '' then true
    else exists (
      select 1 from words
      where w = requested
         or (w = 'full')
         or (w = 'write' and requested = 'read')
    )
  end
$$;

CREATE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  raw text := nullif(current_setting('request.jwt.claims', true), '');
begin
  if raw is null then
    return '{}'::jsonb;
  end if;
  begin
    return raw::jsonb;
  exception when others then
    raise exception 'request.jwt.claims is not valid JSON'
      using errcode = '22023',
            hint = 'set request.jwt.claims to a JSON object, e.g. select set_config(''request.jwt.claims'', ''{"sub":"..."}'', true)';
  end;
end
$$;

CREATE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select coalesce(auth.jwt() ->> 'role', nullif(current_setting('role', true), 'none'))
$$;

CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $_$
  select case
    when (auth.jwt() ->> 'sub') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (auth.jwt() ->> 'sub')::uuid
  end
$_$;

CREATE FUNCTION ayb.housekeeping_run(p_args jsonb DEFAULT '{}'::jsonb, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(name text, removed bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
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
$_$;

CREATE FUNCTION ayb.job_backoff(p_attempt integer) RETURNS interval
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  select pg_catalog.make_interval(secs =>
    least(power(2::float8, least(p_attempt, 30)), 86400) * (0.9 + random() * 0.2))
$$;

CREATE FUNCTION ayb.job_caller_is_admin() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select coalesce(r.rolsuper, false)
      or pg_catalog.pg_has_role(r.oid, 'service_role', 'member')
      or pg_catalog.pg_has_role(r.oid, 'ayb_system', 'member')
  from pg_catalog.pg_roles r
  where r.rolname = coalesce(nullif(pg_catalog.current_setting('role'), 'none'), session_user::text)
$$;

CREATE TABLE ayb.jobs (
    id bigint NOT NULL,
    queue text DEFAULT 'default'::text NOT NULL,
    kind text NOT NULL,
    args jsonb DEFAULT '{}'::jsonb NOT NULL,
    priority smallint DEFAULT 0 NOT NULL,
    state ayb.job_state DEFAULT 'available'::ayb.job_state NOT NULL,
    attempt integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 20 NOT NULL,
    scheduled_at timestamp with time zone DEFAULT now() NOT NULL,
    attempted_at timestamp with time zone,
    attempted_by text,
    lease_until timestamp with time zone,
    finalized_at timestamp with time zone,
    errors jsonb DEFAULT '[]'::jsonb NOT NULL,
    unique_key text,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT jobs_attempt_check CHECK ((attempt >= 0)),
    CONSTRAINT jobs_attempts_within_max CHECK ((attempt <= max_attempts)),
    CONSTRAINT jobs_errors_check CHECK ((jsonb_typeof(errors) = 'array'::text)),
    CONSTRAINT jobs_finalized_has_time CHECK (((state = ANY (ARRAY['completed'::ayb.job_state, 'discarded'::ayb.job_state, 'cancelled'::ayb.job_state])) = (finalized_at IS NOT NULL))),
    CONSTRAINT jobs_kind_check CHECK ((kind ~ '^[A-Za-z0-9_.:-]{1,128}$'::text)),
    CONSTRAINT jobs_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 1000))),
    CONSTRAINT jobs_priority_check CHECK (((priority >= 0) AND (priority <= 9))),
    CONSTRAINT jobs_queue_check CHECK ((queue ~ '^[A-Za-z0-9_.:-]{1,64}$'::text)),
    CONSTRAINT jobs_running_has_lease CHECK (((state <> 'running'::ayb.job_state) OR ((lease_until IS NOT NULL) AND (attempted_at IS NOT NULL) AND (attempted_by IS NOT NULL) AND (attempt >= 1)))),
    CONSTRAINT jobs_unique_key_check CHECK (((length(unique_key) >= 1) AND (length(unique_key) <= 512)))
);

CREATE FUNCTION ayb.job_cancel(p_id bigint, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS ayb.jobs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_claim(p_worker text, p_queue text, p_limit integer, p_lease interval DEFAULT '00:00:30'::interval, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF ayb.jobs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_complete(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_enqueue(p_kinds text[], p_args jsonb[] DEFAULT NULL::jsonb[], p_queues text[] DEFAULT NULL::text[], p_priorities smallint[] DEFAULT NULL::smallint[], p_run_at timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], p_max_attempts integer[] DEFAULT NULL::integer[], p_unique_keys text[] DEFAULT NULL::text[], p_unique_windows interval[] DEFAULT NULL::interval[], p_tags text[] DEFAULT NULL::text[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(id bigint, duplicate boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_enqueue(p_kind text, p_args jsonb DEFAULT '{}'::jsonb, p_queue text DEFAULT 'default'::text, p_priority integer DEFAULT 0, p_run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, p_delay interval DEFAULT NULL::interval, p_max_attempts integer DEFAULT 20, p_unique_key text DEFAULT NULL::text, p_unique_window interval DEFAULT NULL::interval, p_tags text[] DEFAULT '{}'::text[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_fail(p_ids bigint[], p_attempts integer[], p_errors text[], p_retry_at timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], p_discard boolean[] DEFAULT NULL::boolean[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS TABLE(id bigint, state ayb.job_state)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_heartbeat(p_ids bigint[], p_attempts integer[], p_lease interval DEFAULT '00:00:30'::interval, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  update ayb.jobs j
     set lease_until = coalesce(p_now, pg_catalog.now()) + p_lease
    from unnest(p_ids, p_attempts) as u(id, attempt)
   where j.id = u.id and j.attempt = u.attempt and j.state = 'running'
  returning j.id
$$;

CREATE FUNCTION ayb.job_housekeeping(p_now timestamp with time zone, p_args jsonb) RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select ayb.job_prune(coalesce((p_args ->> 'completed_retention')::interval, '1 day'),
                       coalesce((p_args ->> 'failed_retention')::interval, '7 days'), p_now)
$$;

CREATE FUNCTION ayb.job_prune(p_completed_age interval DEFAULT '1 day'::interval, p_failed_age interval DEFAULT '7 days'::interval, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_release(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS SETOF bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_rescue(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_retry(p_id bigint, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS ayb.jobs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.job_run_sql(p_function text, p_args jsonb) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
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
$_$;

CREATE FUNCTION ayb.matview_check(p_schema text, p_name text, p_mode text) RETURNS oid
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
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

CREATE TABLE ayb.matviews (
    id bigint NOT NULL,
    schema_name text NOT NULL,
    view_name text NOT NULL,
    mode text DEFAULT 'standard'::text NOT NULL,
    refresh_on_change boolean DEFAULT false NOT NULL,
    debounce interval DEFAULT '00:00:02'::interval NOT NULL,
    last_refresh_at timestamp with time zone,
    last_duration_ms double precision,
    last_status text,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT matviews_check CHECK (((last_status IS NULL) = (last_refresh_at IS NULL))),
    CONSTRAINT matviews_check1 CHECK (((last_status IS DISTINCT FROM 'error'::text) OR (last_error IS NOT NULL))),
    CONSTRAINT matviews_debounce_check CHECK (((debounce >= '00:00:00'::interval) AND (debounce <= '1 day'::interval))),
    CONSTRAINT matviews_last_status_check CHECK ((last_status = ANY (ARRAY['success'::text, 'error'::text]))),
    CONSTRAINT matviews_mode_check CHECK ((mode = ANY (ARRAY['standard'::text, 'concurrent'::text]))),
    CONSTRAINT matviews_schema_name_check CHECK ((schema_name ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'::text)),
    CONSTRAINT matviews_view_name_check CHECK ((view_name ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'::text))
);

CREATE FUNCTION ayb.matview_get(p_view text) RETURNS ayb.matviews
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.matview_on_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE TABLE ayb.matview_refreshes (
    id bigint NOT NULL,
    matview_id bigint NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL,
    duration_ms double precision NOT NULL,
    status text NOT NULL,
    error text,
    error_code text,
    triggered_by text DEFAULT 'manual'::text NOT NULL,
    CONSTRAINT matview_refreshes_check CHECK ((finished_at >= started_at)),
    CONSTRAINT matview_refreshes_check1 CHECK (((status = 'error'::text) = (error IS NOT NULL))),
    CONSTRAINT matview_refreshes_duration_ms_check CHECK ((duration_ms >= (0)::double precision)),
    CONSTRAINT matview_refreshes_status_check CHECK ((status = ANY (ARRAY['success'::text, 'error'::text]))),
    CONSTRAINT matview_refreshes_triggered_by_check CHECK (((length(triggered_by) >= 1) AND (length(triggered_by) <= 200)))
);

CREATE FUNCTION ayb.matview_refresh(p_view text, p_triggered_by text DEFAULT 'manual'::text) RETURNS ayb.matview_refreshes
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.matview_register(p_view text, p_mode text DEFAULT 'standard'::text, p_schedule text DEFAULT NULL::text, p_timezone text DEFAULT 'UTC'::text, p_refresh_on_change boolean DEFAULT false, p_debounce interval DEFAULT '00:00:02'::interval) RETURNS ayb.matviews
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.matview_sources(p_oid oid) RETURNS SETOF regclass
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.matview_split(p_view text, OUT schema_name text, OUT view_name text) RETURNS record
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.matview_sync_triggers(p_id bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.matview_unregister(p_view text) RETURNS ayb.matviews
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.matview_update(p_view text, p_mode text DEFAULT NULL::text, p_schedule text DEFAULT NULL::text, p_timezone text DEFAULT NULL::text, p_refresh_on_change boolean DEFAULT NULL::boolean, p_debounce interval DEFAULT NULL::interval) RETURNS ayb.matviews
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.schedule_check(p_cron text, p_timezone text, p_kind text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $_$
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
$_$;

CREATE TABLE ayb.schedules (
    name text NOT NULL,
    cron text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    kind text NOT NULL,
    args jsonb DEFAULT '{}'::jsonb NOT NULL,
    queue text DEFAULT 'default'::text NOT NULL,
    priority smallint DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 20 NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    catch_up boolean DEFAULT true NOT NULL,
    next_run_at timestamp with time zone,
    last_fire_at timestamp with time zone,
    last_enqueued_at timestamp with time zone,
    last_job_id bigint,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT schedules_cron_check CHECK (((length(cron) >= 1) AND (length(cron) <= 200))),
    CONSTRAINT schedules_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 1000))),
    CONSTRAINT schedules_name_check CHECK ((name ~ '^[A-Za-z0-9_.:-]{1,128}$'::text)),
    CONSTRAINT schedules_priority_check CHECK (((priority >= 0) AND (priority <= 9))),
    CONSTRAINT schedules_queue_check CHECK ((queue ~ '^[A-Za-z0-9_.:-]{1,64}$'::text))
);

CREATE FUNCTION ayb.schedule_delete(p_name text) RETURNS ayb.schedules
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare v ayb.schedules;
begin
  delete from ayb.schedules s where s.name = p_name returning * into v;
  if not found then
    raise exception 'schedule % not found', p_name using errcode = 'PT404';
  end if;
  return v;
end
$$;

CREATE FUNCTION ayb.schedule_disable(p_name text) RETURNS ayb.schedules
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.schedule_enable(p_name text) RETURNS ayb.schedules
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.schedule_fire(p_name text, p_fire_at timestamp with time zone, p_next timestamp with time zone, p_enqueue boolean DEFAULT true, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.schedule_run_now(p_name text, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.schedule_set_next(p_name text, p_next timestamp with time zone, p_error text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with u as (
    update ayb.schedules s set next_run_at = p_next, last_error = p_error
     where s.name = p_name and s.enabled and s.next_run_at is null
    returning 1)
  select exists (select 1 from u)
$$;

CREATE FUNCTION ayb.schedule_upsert(p_name text, p_cron text, p_kind text, p_args jsonb DEFAULT '{}'::jsonb, p_timezone text DEFAULT 'UTC'::text, p_queue text DEFAULT 'default'::text, p_priority integer DEFAULT 0, p_max_attempts integer DEFAULT 20, p_enabled boolean DEFAULT true, p_catch_up boolean DEFAULT true) RETURNS ayb.schedules
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE TABLE ayb.housekeeping (
    name text NOT NULL,
    function regprocedure NOT NULL,
    "position" integer DEFAULT 100 NOT NULL,
    CONSTRAINT housekeeping_name_check CHECK ((name ~ '^[A-Za-z0-9_.:-]{1,64}$'::text))
);

CREATE TABLE ayb.job_kinds (
    kind text NOT NULL,
    admin_only boolean DEFAULT false NOT NULL,
    registered_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT job_kinds_kind_check CHECK ((kind ~ '^[A-Za-z0-9_.:-]{1,128}$'::text))
);

ALTER TABLE ayb.jobs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE ayb.matview_refreshes ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.matview_refreshes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE ayb.matviews ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.matviews_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE ayb.schema_version (
    version integer NOT NULL
);

CREATE TABLE ayb.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    password_hash text,
    email_verified_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    is_admin boolean DEFAULT false NOT NULL,
    banned_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_email_check CHECK ((((length(email) >= 3) AND (length(email) <= 320)) AND (email = lower(email)))),
    CONSTRAINT users_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text))
);

ALTER TABLE ONLY ayb.housekeeping
    ADD CONSTRAINT housekeeping_pkey PRIMARY KEY (name);

ALTER TABLE ONLY ayb.job_kinds
    ADD CONSTRAINT job_kinds_pkey PRIMARY KEY (kind);

ALTER TABLE ONLY ayb.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.matview_refreshes
    ADD CONSTRAINT matview_refreshes_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.matviews
    ADD CONSTRAINT matviews_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.matviews
    ADD CONSTRAINT matviews_schema_name_view_name_key UNIQUE (schema_name, view_name);

ALTER TABLE ONLY ayb.schedules
    ADD CONSTRAINT schedules_pkey PRIMARY KEY (name);

ALTER TABLE ONLY ayb.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE INDEX jobs_fetch_idx ON ayb.jobs USING btree (queue, priority, scheduled_at, id) WHERE (state = ANY (ARRAY['available'::ayb.job_state, 'scheduled'::ayb.job_state, 'retryable'::ayb.job_state]));

CREATE INDEX jobs_finalized_idx ON ayb.jobs USING btree (finalized_at) WHERE (finalized_at IS NOT NULL);

CREATE INDEX jobs_lease_idx ON ayb.jobs USING btree (lease_until) WHERE (state = 'running'::ayb.job_state);

CREATE INDEX jobs_unique_key_idx ON ayb.jobs USING btree (unique_key, created_at) WHERE (unique_key IS NOT NULL);

CREATE INDEX matview_refreshes_matview_idx ON ayb.matview_refreshes USING btree (matview_id, id DESC);

CREATE INDEX schedules_due_idx ON ayb.schedules USING btree (next_run_at) WHERE enabled;

CREATE UNIQUE INDEX users_email_key ON ayb.users USING btree (lower(email));

ALTER TABLE ONLY ayb.matview_refreshes
    ADD CONSTRAINT matview_refreshes_matview_id_fkey FOREIGN KEY (matview_id) REFERENCES ayb.matviews(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.schedules
    ADD CONSTRAINT schedules_kind_fkey FOREIGN KEY (kind) REFERENCES ayb.job_kinds(kind) ON UPDATE CASCADE;

GRANT USAGE ON SCHEMA auth TO anon;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT USAGE ON SCHEMA auth TO service_role;
GRANT USAGE ON SCHEMA auth TO ayb_system;

GRANT USAGE ON SCHEMA ayb TO ayb_system;
GRANT USAGE ON SCHEMA ayb TO service_role;

GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

REVOKE ALL ON FUNCTION auth.app_id() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.app_id() TO anon;
GRANT ALL ON FUNCTION auth.app_id() TO authenticated;
GRANT ALL ON FUNCTION auth.app_id() TO service_role;
GRANT ALL ON FUNCTION auth.app_id() TO ayb_system;

REVOKE ALL ON FUNCTION auth.client_id() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.client_id() TO anon;
GRANT ALL ON FUNCTION auth.client_id() TO authenticated;
GRANT ALL ON FUNCTION auth.client_id() TO service_role;
GRANT ALL ON FUNCTION auth.client_id() TO ayb_system;

REVOKE ALL ON FUNCTION auth.email() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.email() TO anon;
GRANT ALL ON FUNCTION auth.email() TO authenticated;
GRANT ALL ON FUNCTION auth.email() TO service_role;
GRANT ALL ON FUNCTION auth.email() TO ayb_system;

REVOKE ALL ON FUNCTION auth.has_scope(requested text) FROM PUBLIC;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO anon;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO authenticated;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO service_role;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO ayb_system;

REVOKE ALL ON FUNCTION auth.jwt() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.jwt() TO anon;
GRANT ALL ON FUNCTION auth.jwt() TO authenticated;
GRANT ALL ON FUNCTION auth.jwt() TO service_role;
GRANT ALL ON FUNCTION auth.jwt() TO ayb_system;

REVOKE ALL ON FUNCTION auth.role() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.role() TO anon;
GRANT ALL ON FUNCTION auth.role() TO authenticated;
GRANT ALL ON FUNCTION auth.role() TO service_role;
GRANT ALL ON FUNCTION auth.role() TO ayb_system;

REVOKE ALL ON FUNCTION auth.uid() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.uid() TO anon;
GRANT ALL ON FUNCTION auth.uid() TO authenticated;
GRANT ALL ON FUNCTION auth.uid() TO service_role;
GRANT ALL ON FUNCTION auth.uid() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.housekeeping_run(p_args jsonb, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.housekeeping_run(p_args jsonb, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.housekeeping_run(p_args jsonb, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_backoff(p_attempt integer) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_backoff(p_attempt integer) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_backoff(p_attempt integer) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_caller_is_admin() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_caller_is_admin() TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_caller_is_admin() TO service_role;

GRANT ALL ON TABLE ayb.jobs TO ayb_system;

REVOKE ALL ON FUNCTION ayb.job_cancel(p_id bigint, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_cancel(p_id bigint, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_cancel(p_id bigint, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_claim(p_worker text, p_queue text, p_limit integer, p_lease interval, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_claim(p_worker text, p_queue text, p_limit integer, p_lease interval, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_claim(p_worker text, p_queue text, p_limit integer, p_lease interval, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_complete(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_complete(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_complete(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_enqueue(p_kinds text[], p_args jsonb[], p_queues text[], p_priorities smallint[], p_run_at timestamp with time zone[], p_max_attempts integer[], p_unique_keys text[], p_unique_windows interval[], p_tags text[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_enqueue(p_kinds text[], p_args jsonb[], p_queues text[], p_priorities smallint[], p_run_at timestamp with time zone[], p_max_attempts integer[], p_unique_keys text[], p_unique_windows interval[], p_tags text[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_enqueue(p_kinds text[], p_args jsonb[], p_queues text[], p_priorities smallint[], p_run_at timestamp with time zone[], p_max_attempts integer[], p_unique_keys text[], p_unique_windows interval[], p_tags text[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_enqueue(p_kind text, p_args jsonb, p_queue text, p_priority integer, p_run_at timestamp with time zone, p_delay interval, p_max_attempts integer, p_unique_key text, p_unique_window interval, p_tags text[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_enqueue(p_kind text, p_args jsonb, p_queue text, p_priority integer, p_run_at timestamp with time zone, p_delay interval, p_max_attempts integer, p_unique_key text, p_unique_window interval, p_tags text[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_enqueue(p_kind text, p_args jsonb, p_queue text, p_priority integer, p_run_at timestamp with time zone, p_delay interval, p_max_attempts integer, p_unique_key text, p_unique_window interval, p_tags text[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_fail(p_ids bigint[], p_attempts integer[], p_errors text[], p_retry_at timestamp with time zone[], p_discard boolean[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_fail(p_ids bigint[], p_attempts integer[], p_errors text[], p_retry_at timestamp with time zone[], p_discard boolean[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_fail(p_ids bigint[], p_attempts integer[], p_errors text[], p_retry_at timestamp with time zone[], p_discard boolean[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_heartbeat(p_ids bigint[], p_attempts integer[], p_lease interval, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_heartbeat(p_ids bigint[], p_attempts integer[], p_lease interval, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_heartbeat(p_ids bigint[], p_attempts integer[], p_lease interval, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_housekeeping(p_now timestamp with time zone, p_args jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_housekeeping(p_now timestamp with time zone, p_args jsonb) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_housekeeping(p_now timestamp with time zone, p_args jsonb) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_prune(p_completed_age interval, p_failed_age interval, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_prune(p_completed_age interval, p_failed_age interval, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_prune(p_completed_age interval, p_failed_age interval, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_release(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_release(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_release(p_ids bigint[], p_attempts integer[], p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_rescue(p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_rescue(p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_rescue(p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_retry(p_id bigint, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_retry(p_id bigint, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_retry(p_id bigint, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.job_run_sql(p_function text, p_args jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.job_run_sql(p_function text, p_args jsonb) TO ayb_system;
GRANT ALL ON FUNCTION ayb.job_run_sql(p_function text, p_args jsonb) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_check(p_schema text, p_name text, p_mode text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_check(p_schema text, p_name text, p_mode text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_check(p_schema text, p_name text, p_mode text) TO service_role;

GRANT ALL ON TABLE ayb.matviews TO ayb_system;

REVOKE ALL ON FUNCTION ayb.matview_get(p_view text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_get(p_view text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_get(p_view text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_on_change() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_on_change() TO ayb_system;

GRANT ALL ON TABLE ayb.matview_refreshes TO ayb_system;

REVOKE ALL ON FUNCTION ayb.matview_refresh(p_view text, p_triggered_by text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_refresh(p_view text, p_triggered_by text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_refresh(p_view text, p_triggered_by text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_register(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_register(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_register(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_sources(p_oid oid) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_sources(p_oid oid) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_sources(p_oid oid) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_split(p_view text, OUT schema_name text, OUT view_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_split(p_view text, OUT schema_name text, OUT view_name text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_split(p_view text, OUT schema_name text, OUT view_name text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_sync_schedule(p_id bigint, p_cron text, p_timezone text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_sync_triggers(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_sync_triggers(p_id bigint) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_sync_triggers(p_id bigint) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_unregister(p_view text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_unregister(p_view text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_unregister(p_view text) TO service_role;

REVOKE ALL ON FUNCTION ayb.matview_update(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.matview_update(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) TO ayb_system;
GRANT ALL ON FUNCTION ayb.matview_update(p_view text, p_mode text, p_schedule text, p_timezone text, p_refresh_on_change boolean, p_debounce interval) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_check(p_cron text, p_timezone text, p_kind text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_check(p_cron text, p_timezone text, p_kind text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_check(p_cron text, p_timezone text, p_kind text) TO service_role;

GRANT ALL ON TABLE ayb.schedules TO ayb_system;

REVOKE ALL ON FUNCTION ayb.schedule_delete(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_delete(p_name text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_delete(p_name text) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_disable(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_disable(p_name text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_disable(p_name text) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_enable(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_enable(p_name text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_enable(p_name text) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_fire(p_name text, p_fire_at timestamp with time zone, p_next timestamp with time zone, p_enqueue boolean, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_fire(p_name text, p_fire_at timestamp with time zone, p_next timestamp with time zone, p_enqueue boolean, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_fire(p_name text, p_fire_at timestamp with time zone, p_next timestamp with time zone, p_enqueue boolean, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_run_now(p_name text, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_run_now(p_name text, p_now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_run_now(p_name text, p_now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_set_next(p_name text, p_next timestamp with time zone, p_error text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_set_next(p_name text, p_next timestamp with time zone, p_error text) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_set_next(p_name text, p_next timestamp with time zone, p_error text) TO service_role;

REVOKE ALL ON FUNCTION ayb.schedule_upsert(p_name text, p_cron text, p_kind text, p_args jsonb, p_timezone text, p_queue text, p_priority integer, p_max_attempts integer, p_enabled boolean, p_catch_up boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.schedule_upsert(p_name text, p_cron text, p_kind text, p_args jsonb, p_timezone text, p_queue text, p_priority integer, p_max_attempts integer, p_enabled boolean, p_catch_up boolean) TO ayb_system;
GRANT ALL ON FUNCTION ayb.schedule_upsert(p_name text, p_cron text, p_kind text, p_args jsonb, p_timezone text, p_queue text, p_priority integer, p_max_attempts integer, p_enabled boolean, p_catch_up boolean) TO service_role;

GRANT ALL ON TABLE ayb.housekeeping TO ayb_system;

GRANT ALL ON TABLE ayb.job_kinds TO ayb_system;

GRANT ALL ON SEQUENCE ayb.jobs_id_seq TO ayb_system;

GRANT ALL ON SEQUENCE ayb.matview_refreshes_id_seq TO ayb_system;

GRANT ALL ON SEQUENCE ayb.matviews_id_seq TO ayb_system;

GRANT SELECT ON TABLE ayb.schema_version TO ayb_system;

GRANT ALL ON TABLE ayb.users TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON SEQUENCES  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON FUNCTIONS  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON TABLES  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin REVOKE ALL ON FUNCTIONS  FROM PUBLIC;
