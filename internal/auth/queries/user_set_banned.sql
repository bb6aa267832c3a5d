update ayb.users set banned_at = $2, updated_at = now() where id = $1
