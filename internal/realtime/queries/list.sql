select tbl, pk_columns, enabled_at from ayb.realtime_list()
