-- Why: a refresh is the hottest write in auth. Doing it as one function call
-- (use the token once, chain the next one, or revoke the family on reuse)
-- makes it one round trip instead of five, and keeps the rules in SQL.

-- status: ok | invalid | ended | reused. On ok the user's row comes back so
-- the server can sign the access token.
create function ayb.auth_refresh(p_hash bytea, p_new_hash bytea, p_now timestamptz, p_ttl interval)
  returns table (status text, session_id uuid, refresh_id bigint, user_id uuid, email text,
                 password_hash text, email_verified_at timestamptz, metadata jsonb, is_admin boolean,
                 banned_at timestamptz, created_at timestamptz, updated_at timestamptz)
  language plpgsql
  set search_path = ''
as $$
declare
  v_token bigint;
  v_session uuid;
  v_live boolean;
  v_new bigint;
begin
  -- Exactly one of two concurrent callers gets the row.
  update ayb.refresh_tokens t set used_at = p_now
   where t.token_hash = p_hash and t.used_at is null
  returning t.id, t.session_id into v_token, v_session;

  if v_token is null then
    update ayb.sessions s set revoked_at = p_now, revoked_reason = 'refresh_reuse'
      from ayb.refresh_tokens t
     where t.token_hash = p_hash and s.id = t.session_id and s.revoked_at is null
    returning s.id into v_session;
    if v_session is not null then
      perform pg_notify('ayb_auth', 'session:' || v_session);
      return query select 'reused'::text, v_session, null::bigint, null::uuid, null::text, null::text,
        null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
      return;
    end if;
    return query select 'invalid'::text, null::uuid, null::bigint, null::uuid, null::text, null::text,
      null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
    return;
  end if;

  select s.revoked_at is null and s.expires_at > p_now and u.banned_at is null into v_live
    from ayb.sessions s join ayb.users u on u.id = s.user_id
   where s.id = v_session;
  if not coalesce(v_live, false) then
    return query select 'ended'::text, v_session, null::bigint, null::uuid, null::text, null::text,
      null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
    return;
  end if;

  update ayb.sessions s set refreshed_at = p_now, expires_at = p_now + p_ttl where s.id = v_session;
  insert into ayb.refresh_tokens (session_id, token_hash, parent_id, created_at)
  values (v_session, p_new_hash, v_token, p_now)
  returning id into v_new;

  return query
    select 'ok'::text, v_session, v_new, u.id, u.email, u.password_hash, u.email_verified_at, u.metadata,
           u.is_admin, u.banned_at, u.created_at, u.updated_at
      from ayb.users u join ayb.sessions s on s.user_id = u.id
     where s.id = v_session;
end
$$;
grant execute on function ayb.auth_refresh(bytea, bytea, timestamptz, interval) to ayb_system;
