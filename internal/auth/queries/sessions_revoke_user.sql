update ayb.sessions set revoked_at = $2, revoked_reason = $3
 where user_id = $1 and revoked_at is null
