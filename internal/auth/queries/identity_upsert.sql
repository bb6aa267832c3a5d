insert into ayb.identities (provider, subject, user_id, email, email_verified, created_at, updated_at)
values ($1, $2, $3, $4, $5, $6, $6)
on conflict (provider, subject) do update
   set email = excluded.email, email_verified = excluded.email_verified, updated_at = excluded.updated_at
