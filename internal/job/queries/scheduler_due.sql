select name, cron, timezone, next_run_at, catch_up
from ayb.schedules
where enabled and (next_run_at is null or next_run_at <= $1)
order by next_run_at nulls first
