insert into ayb.oauth_exchange_codes (code_hash, session_id, created_at, expires_at) values ($1, $2, $3, $4)
