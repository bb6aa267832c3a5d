-- Use a refresh token: one conditional UPDATE, so of two concurrent
-- refreshes exactly one gets the row. The session and user come back so the
-- caller can check the session is still live.
with used as (
  update ayb.refresh_tokens set used_at = $2
   where token_hash = $1 and used_at is null
  returning id, session_id
)
select used.id, s.id, s.revoked_at is null and s.expires_at > $2 and u.banned_at is null,
       u.id, u.email, u.password_hash, u.email_verified_at, u.metadata, u.is_admin, u.banned_at, u.created_at, u.updated_at
  from used
  join ayb.sessions s on s.id = used.session_id
  join ayb.users u on u.id = s.user_id
