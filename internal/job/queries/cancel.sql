select (ayb.job_cancel($1)).id
