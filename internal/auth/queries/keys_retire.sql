update ayb.signing_keys set retired_at = $1 where retired_at is null
