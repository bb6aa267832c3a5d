select min(next_run_at) from ayb.schedules where enabled
