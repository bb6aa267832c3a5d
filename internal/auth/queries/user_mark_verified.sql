update ayb.users set email_verified_at = coalesce(email_verified_at, $2), updated_at = now() where id = $1
