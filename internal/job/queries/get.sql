select id, queue, kind, args, priority, state::text, attempt, max_attempts, scheduled_at, attempted_at,
       attempted_by, lease_until, finalized_at, errors, unique_key, tags, created_at
from ayb.jobs where id = $1
