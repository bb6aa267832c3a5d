-- Keys that still sign or verify: unretired ones, and retired ones whose
-- tokens may not have expired yet ($1 = oldest retirement still honoured).
select kid, alg, private_key, created_at, retired_at
  from ayb.signing_keys
 where retired_at is null or retired_at > $1
 order by created_at desc, kid
