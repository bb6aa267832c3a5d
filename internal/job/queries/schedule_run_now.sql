select ayb.schedule_run_now($1)
