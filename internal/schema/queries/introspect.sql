-- The whole schema cache in one JSON document: the relations and functions
-- of the exposed schemas ($1), with what each API role may do. Run with
-- search_path = '' so format_type qualifies every non-catalog type.
with api_roles(role) as (
  select unnest(array['anon', 'authenticated', 'service_role'])
), sch as (
  select n.oid, n.nspname
  from pg_catalog.pg_namespace n
  where n.nspname = any($1::text[])
    and n.nspname not in ('ayb', 'auth', 'extensions', 'information_schema')
    and n.nspname not like 'pg\_%'
), rels as (
  select c.oid, s.oid as nsp, s.nspname as schema, c.relname as name,
         case c.relkind when 'v' then 'view' when 'm' then 'matview' else 'table' end as kind,
         pg_catalog.pg_relation_is_updatable(c.oid, true) as updatable,
         c.relrowsecurity as rls,
         pg_catalog.obj_description(c.oid, 'pg_class') as comment
  from pg_catalog.pg_class c
  join sch s on s.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'f')
    and not c.relispartition
    and not exists (select 1 from pg_catalog.pg_depend d
                    where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
), funcs as (
  select p.oid, n.oid as nsp, n.nspname as schema, p.proname as name, p.provolatile as volatility,
         p.proretset as retset, p.prorettype, rt.typtype as rettyptype,
         pg_catalog.format_type(p.prorettype, null) as return_type,
         p.pronargdefaults as nargdefaults, p.provariadic <> 0 as variadic,
         pg_catalog.obj_description(p.oid, 'pg_proc') as comment
  from pg_catalog.pg_proc p
  join sch n on n.oid = p.pronamespace
  join pg_catalog.pg_type rt on rt.oid = p.prorettype
  where p.prokind = 'f'
    and rt.typname not in ('trigger', 'event_trigger', 'internal', 'language_handler', 'fdw_handler', 'index_am_handler', 'table_am_handler', 'tsm_handler')
    and not exists (select 1 from pg_catalog.pg_depend d
                    where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
)
select pg_catalog.json_build_object(
  'relations', coalesce((
    select pg_catalog.json_agg(pg_catalog.json_build_object(
      'schema', r.schema, 'name', r.name, 'kind', r.kind, 'updatable', r.updatable, 'rls', r.rls, 'comment', r.comment,
      'privileges', (
        select pg_catalog.json_object_agg(ar.role, pg_catalog.json_build_object(
          'usage', pg_catalog.has_schema_privilege(ar.role, r.nsp, 'USAGE'),
          'select', pg_catalog.has_table_privilege(ar.role, r.oid, 'SELECT'),
          'insert', pg_catalog.has_table_privilege(ar.role, r.oid, 'INSERT'),
          'update', pg_catalog.has_table_privilege(ar.role, r.oid, 'UPDATE'),
          'delete', pg_catalog.has_table_privilege(ar.role, r.oid, 'DELETE')))
        from api_roles ar),
      'columns', coalesce((
        select pg_catalog.json_agg(pg_catalog.json_build_object(
          'name', a.attname,
          'type', pg_catalog.format_type(a.atttypid, null),
          'category', t.typcategory,
          'elemType', case when et.oid is not null then pg_catalog.format_type(et.oid, null) end,
          'elemCategory', et.typcategory,
          'notNull', a.attnotnull,
          'hasDefault', a.atthasdef or a.attidentity <> '',
          'generated', a.attgenerated <> '' or a.attidentity = 'a',
          'comment', pg_catalog.col_description(r.oid, a.attnum),
          'privileges', (
            select pg_catalog.json_object_agg(ar.role, pg_catalog.json_build_object(
              'select', pg_catalog.has_column_privilege(ar.role, r.oid, a.attnum, 'SELECT'),
              'insert', pg_catalog.has_column_privilege(ar.role, r.oid, a.attnum, 'INSERT'),
              'update', pg_catalog.has_column_privilege(ar.role, r.oid, a.attnum, 'UPDATE')))
            from api_roles ar)
        ) order by a.attnum)
        from pg_catalog.pg_attribute a
        join pg_catalog.pg_type t on t.oid = a.atttypid
        left join pg_catalog.pg_type et on et.oid = t.typelem and t.typcategory = 'A'
        where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped), '[]'),
      'primaryKey', coalesce((
        select pg_catalog.json_agg(a.attname order by k.ord)
        from pg_catalog.pg_constraint con
        cross join lateral pg_catalog.unnest(con.conkey) with ordinality k(attnum, ord)
        join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum
        where con.conrelid = r.oid and con.contype = 'p'), '[]'),
      'foreignKeys', coalesce((
        select pg_catalog.json_agg(pg_catalog.json_build_object(
          'name', con.conname,
          'columns', (select pg_catalog.json_agg(a.attname order by k.ord)
                      from pg_catalog.unnest(con.conkey) with ordinality k(attnum, ord)
                      join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum),
          'refSchema', rn.nspname, 'refTable', rc.relname,
          'refColumns', (select pg_catalog.json_agg(a.attname order by k.ord)
                         from pg_catalog.unnest(con.confkey) with ordinality k(attnum, ord)
                         join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum)
        ) order by con.conname)
        from pg_catalog.pg_constraint con
        join pg_catalog.pg_class rc on rc.oid = con.confrelid
        join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
        where con.conrelid = r.oid and con.contype = 'f'), '[]'),
      'searchIndexes', coalesce((
        select pg_catalog.json_agg(pg_catalog.pg_get_indexdef(i.indexrelid, 1, false) order by ic.relname)
        from pg_catalog.pg_index i
        join pg_catalog.pg_class ic on ic.oid = i.indexrelid
        join pg_catalog.pg_opclass oc on oc.oid = i.indclass[0]
        where i.indrelid = r.oid and oc.opcname = 'tsvector_ops' and i.indpred is null), '[]')
    ) order by r.schema, r.name)
    from rels r), '[]'),
  'functions', coalesce((
    select pg_catalog.json_agg(pg_catalog.json_build_object(
      'schema', f.schema, 'name', f.name, 'volatility', f.volatility, 'retset', f.retset,
      'returnType', f.return_type,
      'returnKind', case
          when f.return_type = 'void' then 'void'
          when f.rettyptype = 'c' then 'composite'
          when f.prorettype = 'pg_catalog.record'::pg_catalog.regtype then 'record'
          else 'scalar' end,
      'nargdefaults', f.nargdefaults, 'variadic', f.variadic, 'comment', f.comment,
      'args', coalesce((
        select pg_catalog.json_agg(pg_catalog.json_build_object(
          'name', coalesce(p.proargnames[a.i], ''),
          'type', pg_catalog.format_type(a.typ, null),
          'category', t.typcategory,
          'elemType', case when et.oid is not null then pg_catalog.format_type(et.oid, null) end,
          'mode', coalesce(p.proargmodes[a.i], 'i')) order by a.i)
        from pg_catalog.pg_proc p
        cross join lateral pg_catalog.unnest(coalesce(p.proallargtypes, p.proargtypes::pg_catalog.oid[])) with ordinality a(typ, i)
        join pg_catalog.pg_type t on t.oid = a.typ
        left join pg_catalog.pg_type et on et.oid = t.typelem and t.typcategory = 'A'
        where p.oid = f.oid), '[]'),
      'privileges', (
        select pg_catalog.json_object_agg(ar.role, pg_catalog.has_function_privilege(ar.role, f.oid, 'EXECUTE')
                                          and pg_catalog.has_schema_privilege(ar.role, f.nsp, 'USAGE'))
        from api_roles ar)
    ) order by f.schema, f.name, f.oid)
    from funcs f), '[]')
)::text
