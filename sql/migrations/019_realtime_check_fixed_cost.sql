-- 019: the fixed cost of a realtime check round.
--
-- Timed on the realtime bench's database (PG15, 2 shared cores):
-- ayb.realtime_check cost ~0.89 ms per call with 1 subscriber and ~1.53 ms
-- with 1,000, so most of a round was fixed cost, and ~0.50 ms of it was
-- ayb.realtime_fingerprint. That one and ayb.realtime_columns (~0.15 ms, called
-- each round) were SQL functions with a SET clause: PostgreSQL cannot inline
-- those, so it parsed and planned their catalog queries on every call.
-- As plpgsql functions their statements keep a cached plan per session and
-- only execute. ayb.realtime_lock_base(), which every captured write calls,
-- becomes a constant the planner folds (no SET clause, no name to resolve).
-- Same bodies, same answers.

create or replace function ayb.realtime_fingerprint(p_table regclass, p_role text) returns text
  language plpgsql stable
  set search_path = ''
as $$
begin
  return md5(concat_ws('|',
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
      where p.polrelid = p_table)));
end
$$;

create or replace function ayb.realtime_columns(p_table regclass, p_role text) returns text[]
  language plpgsql stable
  set search_path = ''
as $$
begin
  return (select coalesce(array_agg(a.attname::text order by a.attnum), '{}')
            from pg_catalog.pg_attribute a
           where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
             and has_column_privilege(p_role, p_table, a.attnum, 'SELECT'));
end
$$;

-- 0x4159000000000000, the base of the advisory-lock keys of in-progress
-- writers (see 009).
create or replace function ayb.realtime_lock_base() returns bigint
  language sql immutable
as $$ select 4708794885392564224::pg_catalog.int8 $$;
