select name, coalesce(tbl, ''), enabled, columns, pk_columns from ayb.realtime_resolve($1, $2)
