select id, email, password_hash, email_verified_at, metadata, is_admin, banned_at, created_at, updated_at
  from ayb.users
 where $1 = '' or lower(email) like '%' || lower($1) || '%'
 order by created_at, id
 limit $2 offset $3
