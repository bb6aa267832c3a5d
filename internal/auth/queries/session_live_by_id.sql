-- A session is live: not revoked, not expired, its user not banned. Used by
-- long-lived streams (realtime) that re-check the session they started with.
select exists (
  select 1 from ayb.sessions s join ayb.users u on u.id = s.user_id
   where s.id = $1::uuid and s.revoked_at is null and s.expires_at > $2 and u.banned_at is null)
