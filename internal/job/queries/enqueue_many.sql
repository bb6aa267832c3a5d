select id, duplicate from ayb.job_enqueue(
  p_kinds => $1::text[], p_args => $2::jsonb[], p_queues => $3::text[], p_priorities => $4::smallint[],
  p_run_at => $5::timestamptz[], p_max_attempts => $6::integer[], p_unique_keys => $7::text[],
  p_unique_windows => $8::interval[], p_tags => $9::text[])
