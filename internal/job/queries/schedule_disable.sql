select (ayb.schedule_disable($1)).name
