select id, aal, method, user_agent, ip, created_at, refreshed_at, expires_at
  from ayb.sessions
 where user_id = $1 and revoked_at is null and expires_at > $2
 order by created_at desc
