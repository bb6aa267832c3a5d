-- $1 key, $2 requests, $3 window seconds, $4 burst (null = requests), $5 count, $6 now (null = database clock)
select granted, remaining, reset_after, retry_after
  from ayb.ratelimit_take($1, $2, make_interval(secs => $3::float8), $4, $5, $6)
