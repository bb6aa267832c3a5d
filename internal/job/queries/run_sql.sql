select ayb.job_run_sql($1, $2::jsonb)
