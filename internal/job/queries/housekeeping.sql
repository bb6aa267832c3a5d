select name, removed from ayb.housekeeping_run($1::jsonb)
