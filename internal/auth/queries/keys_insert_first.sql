-- The first key: inserted only when no unretired key exists (under keys_lock,
-- so two instances starting together create one key).
insert into ayb.signing_keys (kid, alg, private_key, created_at)
select $1, $2, $3, $4
 where not exists (select 1 from ayb.signing_keys where retired_at is null)
