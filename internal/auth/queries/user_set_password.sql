update ayb.users set password_hash = $2, updated_at = now() where id = $1
