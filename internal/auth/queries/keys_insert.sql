insert into ayb.signing_keys (kid, alg, private_key, created_at) values ($1, $2, $3, $4)
