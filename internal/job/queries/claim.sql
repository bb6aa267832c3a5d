select id, queue, kind, args, priority, attempt, max_attempts, scheduled_at, attempted_at, tags
from ayb.job_claim($1, $2, $3, $4::interval)
