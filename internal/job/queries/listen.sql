listen ayb_jobs
