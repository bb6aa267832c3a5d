select id, queue, kind, args, priority, state::text, attempt, max_attempts, scheduled_at, attempted_at,
       attempted_by, lease_until, finalized_at, errors, unique_key, tags, created_at
from ayb.jobs
where ($1::text is null or state::text = $1)
  and ($2::text is null or queue = $2)
  and ($3::text is null or kind = $3)
  and ($4::bigint is null or id < $4)
order by id desc
limit $5
