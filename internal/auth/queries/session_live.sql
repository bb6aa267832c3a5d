-- The per-request check behind every access token: the session exists, is
-- not revoked or expired, and its user is not banned (one index lookup each).
select exists (
  select 1 from ayb.sessions s join ayb.users u on u.id = s.user_id
   where s.id = $1 and s.user_id = $2 and s.revoked_at is null and s.expires_at > $3 and u.banned_at is null)
