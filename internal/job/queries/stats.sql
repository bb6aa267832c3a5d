select queue, state::text, count(*), min(scheduled_at) filter (where state in ('available', 'retryable'))
from ayb.jobs group by queue, state order by queue, state
