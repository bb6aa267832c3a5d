select (ayb.matview_unregister($1)).id
