select ayb.job_heartbeat($1::bigint[], $2::integer[], $3::interval)
