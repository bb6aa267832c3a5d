-- Whether a link is still usable, without using it (the reset form page).
select exists (select 1 from ayb.one_time_tokens
                where token_hash = $1 and purpose = $2 and used_at is null and expires_at > $3)
