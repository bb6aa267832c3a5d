select ayb.realtime_columns($1::regclass, $2)
