select s.revoked_at is null and s.expires_at > $2 and u.banned_at is null,
       u.id, u.email, u.password_hash, u.email_verified_at, u.metadata, u.is_admin, u.banned_at, u.created_at, u.updated_at
  from ayb.sessions s join ayb.users u on u.id = s.user_id
 where s.id = $1
