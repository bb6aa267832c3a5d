select (ayb.matview_update($1, $2, $3, $4, $5, $6::interval)).id
