select ayb.schedule_set_next($1, $2, $3)
