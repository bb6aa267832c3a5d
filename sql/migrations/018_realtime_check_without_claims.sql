-- Why: the server sent every subscriber's claims JSON (~300 bytes each) to
-- ayb.realtime_check on every check round, although the set-based path
-- reads only the precomputed auth.uid() of each subscriber unless the policy
-- reads auth.jwt(). At 1,000 subscribers that is ~300 KB encoded by the
-- server and decoded by Postgres per round (a third of the server's
-- realtime CPU in `make bench`). p_claims may now be null when p_uids is
-- given: the check then runs if it can do without claims, and otherwise
-- raises SQLSTATE AYRCL ("claims needed"), on which the server resends the
-- round with claims and keeps sending them for that table and role.

create or replace function ayb.realtime_check(p_table regclass, p_role text, p_claims text[], p_images jsonb[],
                                    p_general boolean default false, p_uids uuid[] default null)
  returns table (claims_idx integer, image_idx integer)
  language plpgsql volatile
  set search_path = ''
as $$
declare
  n integer;
  qual text;
  fast text;
  v_fp text;
  fname text;
  relname text;
begin
  if p_role not in ('anon', 'authenticated', 'service_role') then
    raise exception 'realtime: refusing to check as role %', p_role using errcode = '22023';
  end if;
  if p_claims is null and p_uids is null then
    raise exception 'realtime: give the claims or the uids of the subscribers' using errcode = '22023';
  end if;
  n := coalesce(cardinality(p_claims), cardinality(p_uids));
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
    return query select c, i from generate_series(1, n) c, generate_subscripts(p_images, 1) i;
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
    if strpos(fast, 'ayb_rt_claims') > 0 and p_claims is null then
      raise exception 'realtime: this policy reads the claims; send them' using errcode = 'AYRCL';
    end if;
    return query execute format('select * from pg_temp.%I($1, $2, $3, $4)', fname)
      using p_role,
            case when strpos(fast, 'ayb_rt_claims') > 0 then p_claims::jsonb[]
                 else array_fill(null::jsonb, array[n]) end,
            p_uids, p_images;
    return;
  end if;
  if p_claims is null then
    raise exception 'realtime: this policy is checked per claims set; send them' using errcode = 'AYRCL';
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
