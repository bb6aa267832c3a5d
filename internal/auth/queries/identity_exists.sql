select exists (select 1 from ayb.identities where user_id = $1 and provider = $2)
