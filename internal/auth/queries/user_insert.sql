-- A new user; no row comes back when the (normalized) email is taken.
insert into ayb.users (email, password_hash, metadata, is_admin, email_verified_at)
values ($1, $2, $3, $4, $5)
on conflict ((lower(email))) do nothing
returning id, email, password_hash, email_verified_at, metadata, is_admin, banned_at, created_at, updated_at
