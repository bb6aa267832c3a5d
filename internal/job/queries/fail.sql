select id, state::text from ayb.job_fail($1::bigint[], $2::integer[], $3::text[], null, $4::boolean[])
