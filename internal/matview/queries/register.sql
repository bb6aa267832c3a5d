select (ayb.matview_register($1, $2, $3, $4, $5, $6::interval)).id
