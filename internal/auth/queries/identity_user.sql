select u.id, u.email, u.password_hash, u.email_verified_at, u.metadata, u.is_admin, u.banned_at, u.created_at, u.updated_at
  from ayb.identities i join ayb.users u on u.id = i.user_id
 where i.provider = $1 and i.subject = $2
