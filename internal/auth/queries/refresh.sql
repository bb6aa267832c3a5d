-- See ayb.auth_refresh: one round trip per refresh.
select status, session_id, refresh_id, user_id, email, password_hash, email_verified_at, metadata,
       is_admin, banned_at, created_at, updated_at
  from ayb.auth_refresh($1, $2, $3, make_interval(secs => $4::float8))
