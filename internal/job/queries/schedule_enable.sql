select (ayb.schedule_enable($1)).name
