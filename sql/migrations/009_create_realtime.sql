-- Why: realtime (issue 7) must see every change to a subscribed table,
-- whoever makes it (REST, psql, a trigger, a job, another AYB instance), and
-- deliver it exactly once, in commit order, to subscribers that Postgres
-- would let SELECT the row. Capture is a row trigger appending to a private
-- event log (rows of any size; NOTIFY only carries a wake-up signal, once per
-- transaction). Readers only read below a horizon no in-progress writer can
-- fall under (see realtime_horizon). Visibility is decided by evaluating the
-- table's SELECT policies, as the subscriber's role and claims, on the row
-- image stored in the log (realtime_check), so DELETEs are judged on the old
-- row and never broadcast.

-- Tables with capture installed.
create table ayb.realtime_tables (
  tbl        regclass primary key,
  pk_columns text[] not null check (cardinality(pk_columns) > 0),
  enabled_at timestamptz not null default now()
);

create sequence ayb.realtime_event_id_seq as bigint;

-- The event log. id orders events; a reader delivers them in id order, but
-- only up to realtime_horizon(), so an event whose transaction commits late
-- is never skipped.
create table ayb.realtime_events (
  id         bigint primary key default nextval('ayb.realtime_event_id_seq'),
  tbl        regclass not null,
  op         text not null check (op in ('insert', 'update', 'delete')),
  -- primary key of the row (the new key for insert/update, the old for delete)
  pk         jsonb not null check (jsonb_typeof(pk) = 'object'),
  record     jsonb check ((op = 'delete') = (record is null)),
  old_record jsonb check ((op = 'insert') = (old_record is null)),
  created_at timestamptz not null default clock_timestamp()
);
alter sequence ayb.realtime_event_id_seq owned by ayb.realtime_events.id;
create index realtime_events_created_at on ayb.realtime_events (created_at);

-- Everything up to pruned_through has been pruned: a client resuming from
-- an older id has missed events and is told so.
create table ayb.realtime_state (
  singleton      boolean primary key default true check (singleton),
  pruned_through bigint not null default 0
);
insert into ayb.realtime_state default values;

-- Advisory-lock key space of in-progress writers (bigint keys
-- 0x4159_0000_0000_0000 + n; pg_locks shows them as classid 0x4159xxxx).
create function ayb.realtime_lock_base() returns bigint
  language sql immutable
  set search_path = ''
as $$ select x'4159000000000000'::bigint $$;

-- Row trigger installed by realtime_enable. TG_ARGV holds the primary key
-- columns. The first event of a transaction takes a shared advisory lock
-- keyed by the sequence's last value (a lower bound of every id this
-- transaction will take) and sends the one NOTIFY of the transaction.
create function ayb.realtime_capture() returns trigger
  language plpgsql security definer
  set search_path = ''
as $$
declare
  newimg jsonb;
  oldimg jsonb;
  keyimg jsonb;
begin
  if coalesce(current_setting('ayb.realtime_xact', true), '') <> pg_current_xact_id()::text then
    perform pg_advisory_xact_lock_shared(ayb.realtime_lock_base()
      + coalesce(pg_sequence_last_value('ayb.realtime_event_id_seq'), 0));
    perform set_config('ayb.realtime_xact', pg_current_xact_id()::text, true);
    perform pg_notify('ayb_realtime', '');
  end if;
  if tg_op <> 'DELETE' then
    newimg := to_jsonb(new);
  end if;
  if tg_op <> 'INSERT' then
    oldimg := to_jsonb(old);
  end if;
  keyimg := coalesce(newimg, oldimg);
  insert into ayb.realtime_events (tbl, op, pk, record, old_record)
  values (tg_relid, lower(tg_op),
          (select jsonb_object_agg(k, keyimg -> k) from unnest(tg_argv) as k),
          newimg, oldimg);
  return null;
end
$$;

-- realtime_horizon() is the largest id a reader may read: every event with
-- a smaller or equal id is committed or will never commit. Order matters:
-- (1) the sequence's last value L bounds ids allocated so far; (2) the
-- smallest lock key M of in-progress writers is below every id they hold or
-- will take; events are then read in a later statement (a newer snapshot).
create function ayb.realtime_horizon() returns bigint
  language plpgsql volatile
  set search_path = ''
as $$
declare
  l bigint;
  m bigint;
begin
  l := coalesce(pg_sequence_last_value('ayb.realtime_event_id_seq'), 0);
  select min(((lk.classid::bigint << 32) | lk.objid::bigint) - ayb.realtime_lock_base())
    into m
    from pg_catalog.pg_locks lk
   where lk.locktype = 'advisory' and lk.objsubid = 1
     and lk.database = (select oid from pg_catalog.pg_database where datname = current_database())
     and lk.classid::bigint between (ayb.realtime_lock_base() >> 32) and (ayb.realtime_lock_base() >> 32) + 65535;
  return least(l, coalesce(m, l));
end
$$;

-- realtime_read returns committed events after p_after, up to the horizon,
-- in id order.
create function ayb.realtime_read(p_after bigint, p_limit integer)
  returns table (id bigint, tbl text, op text, pk jsonb, record jsonb, old_record jsonb, created_at timestamptz)
  language plpgsql volatile
  set search_path = ''
as $$
declare
  h bigint := ayb.realtime_horizon();
begin
  return query
    select e.id, e.tbl::text, e.op, e.pk, e.record, e.old_record, e.created_at
      from ayb.realtime_events e
     where e.id > p_after and e.id <= h
     order by e.id
     limit p_limit;
end
$$;

-- realtime_prune deletes events older than the retention and remembers how
-- far it pruned. Called by the server on a ticker (or by the job queue).
create function ayb.realtime_prune(older_than interval, now timestamptz default now())
  returns bigint
  language plpgsql volatile
  set search_path = ''
as $$
declare
  through bigint;
  n bigint;
begin
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

create function ayb.realtime_pruned_through() returns bigint
  language sql stable
  set search_path = ''
as $$ select pruned_through from ayb.realtime_state $$;

-- realtime_enable installs capture on a table (idempotent). The table needs
-- a primary key: events name rows by it.
create function ayb.realtime_enable(p_table regclass) returns void
  language plpgsql security definer
  set search_path = ''
as $$
declare
  cols text[];
  rel record;
begin
  select c.relkind, n.nspname into rel
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_table;
  if rel.relkind not in ('r', 'p') then
    raise exception 'realtime: % is not a table', p_table using errcode = '22023';
  end if;
  if rel.nspname in ('ayb', 'auth', 'pg_catalog', 'information_schema') then
    raise exception 'realtime: % is a system table', p_table using errcode = '22023';
  end if;
  select array_agg(a.attname::text order by k.ord) into cols
    from pg_catalog.pg_index i
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
   where i.indrelid = p_table and i.indisprimary;
  if cols is null then
    raise exception 'realtime: % has no primary key', p_table using errcode = '22023',
      hint = 'events name rows by their primary key; add one with alter table ... add primary key';
  end if;
  execute format('drop trigger if exists ayb_realtime on %s', p_table);
  execute format('create trigger ayb_realtime after insert or update or delete on %s '
                 'for each row execute function ayb.realtime_capture(%s)',
                 p_table, (select string_agg(quote_literal(c), ', ') from unnest(cols) c));
  insert into ayb.realtime_tables (tbl, pk_columns) values (p_table, cols)
    on conflict (tbl) do update set pk_columns = excluded.pk_columns;
end
$$;

create function ayb.realtime_disable(p_table regclass) returns void
  language plpgsql security definer
  set search_path = ''
as $$
begin
  execute format('drop trigger if exists ayb_realtime on %s', p_table);
  delete from ayb.realtime_tables where tbl = p_table;
end
$$;

create function ayb.realtime_list()
  returns table (tbl text, pk_columns text[], enabled_at timestamptz)
  language sql stable
  set search_path = ''
as $$
  select t.tbl::text, t.pk_columns, t.enabled_at from ayb.realtime_tables t order by 1
$$;

-- realtime_columns: the columns p_role may SELECT on p_table.
create function ayb.realtime_columns(p_table regclass, p_role text) returns text[]
  language sql stable
  set search_path = ''
as $$
  select coalesce(array_agg(a.attname::text order by a.attnum), '{}')
    from pg_catalog.pg_attribute a
   where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
     and has_column_privilege(p_role, p_table, a.attnum, 'SELECT')
$$;

-- realtime_resolve maps the names a subscriber gave to enabled tables, with
-- what p_role may select there.
create function ayb.realtime_resolve(p_names text[], p_role text)
  returns table (name text, tbl text, enabled boolean, columns text[], pk_columns text[])
  language plpgsql stable
  set search_path = ''
as $$
declare
  nm text;
  rel regclass;
begin
  foreach nm in array p_names loop
    rel := to_regclass(case when nm like '%.%' then nm else 'public.' || quote_ident(nm) end);
    if rel is null then
      rel := to_regclass(nm);
    end if;
    name := nm;
    tbl := rel::text;
    enabled := false;
    columns := '{}';
    pk_columns := '{}';
    if rel is not null then
      select true, t.pk_columns into enabled, pk_columns from ayb.realtime_tables t where t.tbl = rel;
      enabled := coalesce(enabled, false);
      pk_columns := coalesce(pk_columns, '{}');
      columns := ayb.realtime_columns(rel, p_role);
    end if;
    return next;
  end loop;
end
$$;

-- realtime_qual is the SQL boolean over a row of p_table that says whether
-- p_role may see it: 'true' without row security (or for a role that
-- bypasses it), 'false' without SELECT rights or without a permissive
-- policy, else the SELECT/ALL policies that apply to p_role, permissive ones
-- OR-ed and restrictive ones AND-ed, as Postgres combines them.
create function ayb.realtime_qual(p_table regclass, p_role text) returns text
  language plpgsql stable
  set search_path = ''
as $$
declare
  permissive text;
  restrictive text;
  rls boolean;
  forced boolean;
  owner oid;
begin
  if not has_any_column_privilege(p_role, p_table, 'SELECT') then
    return 'false';
  end if;
  select c.relrowsecurity, c.relforcerowsecurity, c.relowner into rls, forced, owner
    from pg_catalog.pg_class c where c.oid = p_table;
  if not rls
     or (select r.rolbypassrls or r.rolsuper from pg_catalog.pg_roles r where r.rolname = p_role)
     or ((select r.oid from pg_catalog.pg_roles r where r.rolname = p_role) = owner and not forced) then
    return 'true';
  end if;
  select string_agg('(' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'false') || ')', ' or ' order by p.polname)
           filter (where p.polpermissive),
         string_agg('(' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'false') || ')', ' and ' order by p.polname)
           filter (where not p.polpermissive)
    into permissive, restrictive
    from pg_catalog.pg_policy p
   where p.polrelid = p_table and p.polcmd in ('r', '*')
     and (p.polroles = '{0}' or exists (
           select 1 from unnest(p.polroles) pr where pg_has_role(p_role, pr, 'USAGE')));
  if permissive is null then
    return 'false';
  end if;
  return '(' || permissive || ')' || coalesce(' and (' || restrictive || ')', '');
end
$$;

-- realtime_fast_qual rewrites a policy expression whose only identity
-- inputs are auth.uid() and auth.jwt() into one over the columns
-- ayb_rt_s.ayb_rt_uid / ayb_rt_s.ayb_rt_claims, so all subscribers can be
-- checked in one set-based statement. It returns null (use the general
-- path) unless every other input is safe to evaluate without switching
-- claims: functions and operators from pg_catalog (not current_setting or
-- set_config), other tables without row security (their policies would
-- read the claims), and no reference back to the table itself.
create function ayb.realtime_fast_qual(p_table regclass, p_role text, p_qual text) returns text
  language plpgsql stable
  set search_path = ''
as $$
declare
  q text;
begin
  -- A sublink reading the table itself would apply its policies again
  -- (pg_depend keeps no self-reference, so look at the text: relations in
  -- the deparsed qual are schema-qualified).
  if p_qual in ('true', 'false') or strpos(p_qual, p_table::text) > 0 then
    return null;
  end if;
  if exists (
    select 1
      from pg_catalog.pg_policy p
      join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
     where p.polrelid = p_table and p.polcmd in ('r', '*')
       and (p.polroles = '{0}' or exists (
             select 1 from unnest(p.polroles) pr where pg_has_role(p_role, pr, 'USAGE')))
       and d.deptype = 'n'
       and case d.refclassid
         when 'pg_catalog.pg_class'::regclass then
           d.refobjid = p_table and d.refobjsubid = 0
           or (d.refobjid <> p_table and not exists (
                 select 1 from pg_catalog.pg_class c
                  where c.oid = d.refobjid and c.relkind in ('r', 'p') and not c.relrowsecurity))
         when 'pg_catalog.pg_proc'::regclass then not exists (
                 select 1 from pg_catalog.pg_proc f join pg_catalog.pg_namespace n on n.oid = f.pronamespace
                  where f.oid = d.refobjid
                    and ((n.nspname = 'pg_catalog' and f.proname not in ('current_setting', 'set_config'))
                      or (n.nspname = 'auth' and f.proname in ('uid', 'jwt') and f.pronargs = 0)))
         when 'pg_catalog.pg_operator'::regclass then not exists (
                 select 1 from pg_catalog.pg_operator o join pg_catalog.pg_namespace n on n.oid = o.oprnamespace
                  where o.oid = d.refobjid and n.nspname = 'pg_catalog')
         else false
       end) then
    return null;
  end if;
  q := replace(replace(p_qual, 'auth.uid()', 'ayb_rt_s.ayb_rt_uid'), 'auth.jwt()', 'ayb_rt_s.ayb_rt_claims');
  if q like '%auth.%' or q like '%current\_setting%' then
    return null;
  end if;
  return q;
end
$$;

-- realtime_fingerprint changes whenever anything realtime_qual and
-- realtime_fast_qual derive from changes: the table's row security flags,
-- owner and grants, the role, the policies (their stored expressions and
-- roles) and the row security of tables the policies read. realtime_check
-- caches compiled policies per session under it.
create function ayb.realtime_fingerprint(p_table regclass, p_role text) returns text
  language sql stable
  set search_path = ''
as $$
  select md5(concat_ws('|',
    (select concat(c.relrowsecurity, c.relforcerowsecurity, c.relowner, c.relacl::text)
       from pg_catalog.pg_class c where c.oid = p_table),
    has_any_column_privilege(p_role, p_table, 'SELECT'),
    (select concat(r.oid, r.rolbypassrls, r.rolsuper) from pg_catalog.pg_roles r where r.rolname = p_role),
    (select string_agg(concat(p.oid, p.polpermissive, p.polcmd, p.polroles::text, p.polqual::text,
                              (select string_agg(pg_has_role(p_role, pr, 'USAGE')::text, ',') from unnest(p.polroles) pr
                                where pr <> 0)), ',' order by p.oid)
       from pg_catalog.pg_policy p where p.polrelid = p_table),
    (select string_agg(concat(d.refobjid, c2.relkind, c2.relrowsecurity, c2.relnamespace, c2.relname), ',' order by d.refobjid)
       from pg_catalog.pg_policy p
       join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
       join pg_catalog.pg_class c2 on d.refclassid = 'pg_catalog.pg_class'::regclass and c2.oid = d.refobjid
      where p.polrelid = p_table)))
$$;

-- realtime_check: for each claims set (as p_role) and each row image of
-- p_table, whether the row is visible; returns the visible (claims, image)
-- index pairs, 1-based. One call checks many subscribers against many
-- events in one round trip, switching claims in a loop (walrus-style). The
-- policy is compiled into a session-local plpgsql function so its plan is
-- cached across claims and calls.
-- Measured here (PG15, 2 cores): 1,000 claims x 10 images = 10k checks in
-- 18 ms, ~1.8 us per check, against ~14 us per check for walrus's
-- one-statement-per-subscriber loop (perf.md 2.2).
-- Not security definer: it switches role, which definer functions may not.
create function ayb.realtime_check(p_table regclass, p_role text, p_claims text[], p_images jsonb[],
                                    p_general boolean default false, p_uids uuid[] default null)
  returns table (claims_idx integer, image_idx integer)
  language plpgsql volatile
  set search_path = ''
as $$
declare
  qual text;
  fast text;
  v_fp text;
  fname text;
  relname text;
begin
  if p_role not in ('anon', 'authenticated', 'service_role') then
    raise exception 'realtime: refusing to check as role %', p_role using errcode = '22023';
  end if;
  -- Deparsing the policies on every call cost more than the check itself,
  -- so the compiled forms are cached per session under a fingerprint of
  -- everything they derive from.
  v_fp := ayb.realtime_fingerprint(p_table, p_role);
  if to_regclass('pg_temp.ayb_rt_plans') is null then
    create temp table ayb_rt_plans (tbl oid, role text, fp text, qual text, fast text, primary key (tbl, role));
  end if;
  select pl.qual, pl.fast into qual, fast from pg_temp.ayb_rt_plans pl
   where pl.tbl = p_table and pl.role = p_role and pl.fp = v_fp;
  if not found then
    qual := ayb.realtime_qual(p_table, p_role);
    fast := ayb.realtime_fast_qual(p_table, p_role, qual);
    insert into pg_temp.ayb_rt_plans values (p_table, p_role, v_fp, qual, fast)
      on conflict (tbl, role) do update set fp = excluded.fp, qual = excluded.qual, fast = excluded.fast;
  end if;
  if p_general then
    fast := null;
  end if;
  if qual = 'false' then
    return;
  end if;
  if qual = 'true' then
    return query select c, i from generate_subscripts(p_claims, 1) c, generate_subscripts(p_images, 1) i;
    return;
  end if;
  select c.relname into relname from pg_catalog.pg_class c where c.oid = p_table;
  if fast is not null then
    -- Set-based: every claims set against every image in one statement.
    fname := 'ayb_rtf_' || md5(p_table::oid::text || ':' || fast);
    if to_regprocedure('pg_temp.' || fname || '(text,jsonb[],uuid[],jsonb[])') is null then
      execute format($f$
        create function pg_temp.%1$I(p_role text, p_claims jsonb[], p_uids uuid[], p_images jsonb[])
          returns table (claims_idx integer, image_idx integer)
          language plpgsql volatile
        as $ayb_rt_body$
        begin
          perform set_config('role', p_role, true);
          return query
            select ayb_rt_s.ayb_rt_cord::integer, ayb_rt_u.ayb_rt_iord::integer
              from unnest(p_claims, p_uids) with ordinality as ayb_rt_s(ayb_rt_claims, ayb_rt_uid, ayb_rt_cord)
              cross join unnest(p_images) with ordinality as ayb_rt_u(ayb_rt_img, ayb_rt_iord)
              cross join lateral jsonb_populate_record(null::%2$s, ayb_rt_u.ayb_rt_img) as %3$I
             where %4$s;
          perform set_config('role', 'none', true);
        end
        $ayb_rt_body$
      $f$, fname, p_table, relname, fast);
      execute format('grant execute on function pg_temp.%I(text, jsonb[], uuid[], jsonb[]) to public', fname);
    end if;
    -- auth.uid() of each claims set; the server passes them precomputed
    -- (a regex per subscriber per call is this path's largest cost).
    if p_uids is null then
      select array_agg(case when (c::jsonb ->> 'sub') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                            then (c::jsonb ->> 'sub')::uuid end order by o)
        into p_uids from unnest(p_claims) with ordinality as x(c, o);
    end if;
    -- Claims are parsed only when the policy reads auth.jwt(): parsing
    -- 1,000 claims objects costs more than checking them.
    return query execute format('select * from pg_temp.%I($1, $2, $3, $4)', fname)
      using p_role,
            case when strpos(fast, 'ayb_rt_claims') > 0 then p_claims::jsonb[]
                 else array_fill(null::jsonb, array[cardinality(p_claims)]) end,
            p_uids, p_images;
    return;
  end if;
  fname := 'ayb_rt_' || md5(p_table::oid::text || ':' || qual);
  if to_regprocedure('pg_temp.' || fname || '(text,text[],jsonb[])') is null then
    execute format($f$
      create function pg_temp.%1$I(p_role text, p_claims text[], p_images jsonb[])
        returns table (claims_idx integer, image_idx integer)
        language plpgsql volatile
      as $ayb_rt_body$
      declare
        i integer;
        vis integer[];
      begin
        perform set_config('role', p_role, true);
        for i in 1 .. coalesce(array_length(p_claims, 1), 0) loop
          perform set_config('request.jwt.claims', p_claims[i], true);
          select array_agg(ayb_rt_ord::integer) into vis
            from unnest(p_images) with ordinality as ayb_rt_u(ayb_rt_img, ayb_rt_ord)
            cross join lateral jsonb_populate_record(null::%2$s, ayb_rt_img) as %3$I
           where %4$s;
          claims_idx := i;
          foreach image_idx in array coalesce(vis, '{}') loop
            return next;
          end loop;
        end loop;
        perform set_config('role', 'none', true);
      end
      $ayb_rt_body$
    $f$, fname, p_table, relname, qual);
    execute format('grant execute on function pg_temp.%I(text, text[], jsonb[]) to public', fname);
  end if;
  return query execute format('select * from pg_temp.%I($1, $2, $3)', fname) using p_role, p_claims, p_images;
end
$$;

-- realtime_rows re-reads the current rows of p_table with the given primary
-- keys (as the server), for re-checking rows a subscriber was shown after a
-- change elsewhere (e.g. a membership table) may have hidden them.
create function ayb.realtime_rows(p_table regclass, p_pks jsonb[])
  returns table (idx integer, record jsonb)
  language plpgsql stable security definer
  set search_path = ''
as $$
declare
  cols text[];
begin
  select t.pk_columns into cols from ayb.realtime_tables t where t.tbl = p_table;
  if cols is null then
    return;
  end if;
  return query execute format(
    'select k.ord::integer, to_jsonb(t) from unnest($1) with ordinality as k(pk, ord)
       cross join lateral jsonb_populate_record(null::%1$s, k.pk) as kr
       join %1$s as t on %2$s',
    p_table,
    (select string_agg(format('t.%1$I is not distinct from kr.%1$I', c), ' and ') from unnest(cols) c))
    using p_pks;
end
$$;

revoke all on ayb.realtime_tables, ayb.realtime_events, ayb.realtime_state from public;
grant execute on function
  ayb.realtime_lock_base(), ayb.realtime_horizon(), ayb.realtime_read(bigint, integer),
  ayb.realtime_prune(interval, timestamptz), ayb.realtime_pruned_through(),
  ayb.realtime_enable(regclass), ayb.realtime_disable(regclass), ayb.realtime_list(),
  ayb.realtime_columns(regclass, text), ayb.realtime_resolve(text[], text),
  ayb.realtime_qual(regclass, text), ayb.realtime_fast_qual(regclass, text, text),
  ayb.realtime_fingerprint(regclass, text),
  ayb.realtime_check(regclass, text, text[], jsonb[], boolean, uuid[]),
  ayb.realtime_rows(regclass, jsonb[])
  to ayb_system;
grant execute on function ayb.realtime_enable(regclass), ayb.realtime_disable(regclass),
  ayb.realtime_list(), ayb.realtime_prune(interval, timestamptz) to service_role;
-- The capture trigger runs as any writer; it is security definer.
grant execute on function ayb.realtime_capture(), ayb.realtime_lock_base() to anon, authenticated, service_role;
