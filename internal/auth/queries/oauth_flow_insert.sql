insert into ayb.oauth_flows (state_hash, provider, binding_hash, code_verifier, nonce, redirect_to, created_at, expires_at)
values ($1, $2, $3, $4, $5, $6, $7, $8)
