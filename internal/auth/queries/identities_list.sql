select provider, subject, email, email_verified, created_at, updated_at
  from ayb.identities where user_id = $1 order by created_at
