select ayb.job_complete($1::bigint[], $2::integer[])
