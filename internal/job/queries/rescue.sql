select ayb.job_rescue()
