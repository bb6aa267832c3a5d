CREATE SCHEMA auth;

CREATE SCHEMA ayb;

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

CREATE FUNCTION ayb.realtime_capture() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_check(p_table regclass, p_role text, p_claims text[], p_images jsonb[], p_general boolean DEFAULT false, p_uids uuid[] DEFAULT NULL::uuid[]) RETURNS TABLE(claims_idx integer, image_idx integer)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $_$
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
$_$;

CREATE FUNCTION ayb.realtime_columns(p_table regclass, p_role text) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select coalesce(array_agg(a.attname::text order by a.attnum), '{}')
    from pg_catalog.pg_attribute a
   where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
     and has_column_privilege(p_role, p_table, a.attnum, 'SELECT')
$$;

CREATE FUNCTION ayb.realtime_disable(p_table regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  execute format('drop trigger if exists ayb_realtime on %s', p_table);
  delete from ayb.realtime_tables where tbl = p_table;
end
$$;

CREATE FUNCTION ayb.realtime_enable(p_table regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_fast_qual(p_table regclass, p_role text, p_qual text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_fingerprint(p_table regclass, p_role text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_horizon() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_list() RETURNS TABLE(tbl text, pk_columns text[], enabled_at timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select t.tbl::text, t.pk_columns, t.enabled_at from ayb.realtime_tables t order by 1
$$;

CREATE FUNCTION ayb.realtime_lock_base() RETURNS bigint
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$ select x'4159000000000000'::bigint $$;

CREATE FUNCTION ayb.realtime_prune(older_than interval, now timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_pruned_through() RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$ select pruned_through from ayb.realtime_state $$;

CREATE FUNCTION ayb.realtime_qual(p_table regclass, p_role text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_read(p_after bigint, p_limit integer) RETURNS TABLE(id bigint, tbl text, op text, pk jsonb, record jsonb, old_record jsonb, created_at timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_resolve(p_names text[], p_role text) RETURNS TABLE(name text, tbl text, enabled boolean, columns text[], pk_columns text[])
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
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

CREATE FUNCTION ayb.realtime_rows(p_table regclass, p_pks jsonb[]) RETURNS TABLE(idx integer, record jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $_$
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
$_$;

CREATE TABLE ayb.realtime_events (
    id bigint NOT NULL,
    tbl regclass NOT NULL,
    op text NOT NULL,
    pk jsonb NOT NULL,
    record jsonb,
    old_record jsonb,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT realtime_events_check CHECK (((op = 'delete'::text) = (record IS NULL))),
    CONSTRAINT realtime_events_check1 CHECK (((op = 'insert'::text) = (old_record IS NULL))),
    CONSTRAINT realtime_events_op_check CHECK ((op = ANY (ARRAY['insert'::text, 'update'::text, 'delete'::text]))),
    CONSTRAINT realtime_events_pk_check CHECK ((jsonb_typeof(pk) = 'object'::text))
);

CREATE SEQUENCE ayb.realtime_event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE ayb.realtime_event_id_seq OWNED BY ayb.realtime_events.id;

CREATE TABLE ayb.realtime_state (
    singleton boolean DEFAULT true NOT NULL,
    pruned_through bigint DEFAULT 0 NOT NULL,
    CONSTRAINT realtime_state_singleton_check CHECK (singleton)
);

CREATE TABLE ayb.realtime_tables (
    tbl regclass NOT NULL,
    pk_columns text[] NOT NULL,
    enabled_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT realtime_tables_pk_columns_check CHECK ((cardinality(pk_columns) > 0))
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

ALTER TABLE ONLY ayb.realtime_events ALTER COLUMN id SET DEFAULT nextval('ayb.realtime_event_id_seq'::regclass);

ALTER TABLE ONLY ayb.realtime_events
    ADD CONSTRAINT realtime_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.realtime_state
    ADD CONSTRAINT realtime_state_pkey PRIMARY KEY (singleton);

ALTER TABLE ONLY ayb.realtime_tables
    ADD CONSTRAINT realtime_tables_pkey PRIMARY KEY (tbl);

ALTER TABLE ONLY ayb.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE INDEX realtime_events_created_at ON ayb.realtime_events USING btree (created_at);

CREATE UNIQUE INDEX users_email_key ON ayb.users USING btree (lower(email));

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

REVOKE ALL ON FUNCTION ayb.realtime_capture() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_capture() TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_capture() TO anon;
GRANT ALL ON FUNCTION ayb.realtime_capture() TO authenticated;
GRANT ALL ON FUNCTION ayb.realtime_capture() TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_check(p_table regclass, p_role text, p_claims text[], p_images jsonb[], p_general boolean, p_uids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_check(p_table regclass, p_role text, p_claims text[], p_images jsonb[], p_general boolean, p_uids uuid[]) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_columns(p_table regclass, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_columns(p_table regclass, p_role text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_disable(p_table regclass) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_disable(p_table regclass) TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_disable(p_table regclass) TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_enable(p_table regclass) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_enable(p_table regclass) TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_enable(p_table regclass) TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_fast_qual(p_table regclass, p_role text, p_qual text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_fast_qual(p_table regclass, p_role text, p_qual text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_fingerprint(p_table regclass, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_fingerprint(p_table regclass, p_role text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_horizon() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_horizon() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_list() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_list() TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_list() TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_lock_base() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_lock_base() TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_lock_base() TO anon;
GRANT ALL ON FUNCTION ayb.realtime_lock_base() TO authenticated;
GRANT ALL ON FUNCTION ayb.realtime_lock_base() TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_prune(older_than interval, now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_prune(older_than interval, now timestamp with time zone) TO ayb_system;
GRANT ALL ON FUNCTION ayb.realtime_prune(older_than interval, now timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION ayb.realtime_pruned_through() FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_pruned_through() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_qual(p_table regclass, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_qual(p_table regclass, p_role text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_read(p_after bigint, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_read(p_after bigint, p_limit integer) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_resolve(p_names text[], p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_resolve(p_names text[], p_role text) TO ayb_system;

REVOKE ALL ON FUNCTION ayb.realtime_rows(p_table regclass, p_pks jsonb[]) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.realtime_rows(p_table regclass, p_pks jsonb[]) TO ayb_system;

GRANT ALL ON TABLE ayb.realtime_events TO ayb_system;

GRANT ALL ON SEQUENCE ayb.realtime_event_id_seq TO ayb_system;

GRANT ALL ON TABLE ayb.realtime_state TO ayb_system;

GRANT ALL ON TABLE ayb.realtime_tables TO ayb_system;

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
