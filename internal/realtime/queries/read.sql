-- Committed events after $1, up to the commit-safe horizon, in id order.
select id, tbl, op, pk, record, old_record, created_at from ayb.realtime_read($1, $2)
