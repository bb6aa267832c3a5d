update ayb.users set is_admin = $2, updated_at = now() where id = $1
