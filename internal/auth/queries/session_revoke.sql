update ayb.sessions set revoked_at = $3, revoked_reason = $4
 where id = $1 and user_id = $2 and revoked_at is null
returning id
