-- Top-level keys of $2 replace the user's; a key set to null is removed.
update ayb.users
   set metadata = jsonb_strip_nulls(metadata || $2), updated_at = now()
 where id = $1
returning id, email, password_hash, email_verified_at, metadata, is_admin, banned_at, created_at, updated_at
