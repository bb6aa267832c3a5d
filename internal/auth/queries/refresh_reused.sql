-- A token that was already used: revoke its whole family (the session).
update ayb.sessions s set revoked_at = $2, revoked_reason = 'refresh_reuse'
  from ayb.refresh_tokens t
 where t.token_hash = $1 and t.used_at is not null and s.id = t.session_id and s.revoked_at is null
returning s.id
