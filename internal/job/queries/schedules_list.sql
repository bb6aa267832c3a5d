select name, cron, timezone, kind, args, queue, priority, max_attempts, enabled, catch_up,
       next_run_at, last_fire_at, last_enqueued_at, last_job_id, last_error, created_at, updated_at
from ayb.schedules where ($1::text is null or name = $1) order by name
