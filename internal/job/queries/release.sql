select ayb.job_release($1::bigint[], $2::integer[])
