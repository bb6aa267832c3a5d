select id, email, password_hash, email_verified_at, metadata, is_admin, banned_at, created_at, updated_at
  from ayb.users where lower(email) = lower($1)
