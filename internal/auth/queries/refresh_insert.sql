insert into ayb.refresh_tokens (session_id, token_hash, parent_id, created_at)
values ($1, $2, $3, $4)
returning id
