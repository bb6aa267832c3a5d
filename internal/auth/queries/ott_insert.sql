-- A fresh link replaces any earlier unused one of the same purpose.
with old as (
  update ayb.one_time_tokens set used_at = $5
   where user_id = $2 and purpose = $3 and used_at is null
)
insert into ayb.one_time_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
values ($1, $2, $3, $4, $5, $6)
