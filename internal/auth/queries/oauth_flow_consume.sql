-- A callback uses its flow once: a replayed or forged state finds nothing.
update ayb.oauth_flows set used_at = $3
 where state_hash = $1 and provider = $2 and used_at is null and expires_at > $3
returning binding_hash, code_verifier, nonce, redirect_to
