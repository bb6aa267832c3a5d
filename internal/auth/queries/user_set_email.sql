-- The new address was confirmed through itself, so it is verified.
update ayb.users set email = $2, email_verified_at = $3, updated_at = now() where id = $1
