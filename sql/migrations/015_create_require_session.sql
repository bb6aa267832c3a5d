-- Why: every request made with an access token must find its session live
-- (not revoked or expired, its user not banned). That check used to be a
-- query of its own before the request's transaction: one more round trip on
-- every authenticated request. ayb.require_session runs as the first
-- statement of the request's own pipeline or transaction instead, before the
-- role switch, so it costs no round trip and sees the same snapshot as the
-- request. It raises SQLSTATE 28000 (invalid authorization specification),
-- which the server answers with 401 invalid_token.
--
-- It is not SECURITY DEFINER: it runs as the server's login role (a member
-- of ayb_system, which reads ayb.*), and only that role may execute it. The
-- time is a parameter so that the server's clock decides expiry, as it does
-- when it signs the token.

create function ayb.require_session(p_session uuid, p_user uuid, p_now timestamptz) returns void
  language plpgsql stable
as $$
begin
  if not exists (
    select 1 from ayb.sessions s join ayb.users u on u.id = s.user_id
     where s.id = p_session and s.user_id = p_user and s.revoked_at is null
       and s.expires_at > p_now and u.banned_at is null) then
    raise exception 'the session has ended' using errcode = '28000', hint = 'sign in again';
  end if;
end
$$;

revoke execute on function ayb.require_session(uuid, uuid, timestamptz) from public;
grant execute on function ayb.require_session(uuid, uuid, timestamptz) to ayb_system;
