update ayb.sessions set refreshed_at = $2, expires_at = $3 where id = $1
