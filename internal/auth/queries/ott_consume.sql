-- Use a link once: one conditional UPDATE.
update ayb.one_time_tokens set used_at = $3
 where token_hash = $1 and purpose = $2 and used_at is null and expires_at > $3
returning user_id, email
