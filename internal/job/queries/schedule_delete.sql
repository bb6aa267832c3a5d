select (ayb.schedule_delete($1)).name
