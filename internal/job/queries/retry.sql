select (ayb.job_retry($1)).id
