delete from ayb.users where lower(email) = lower($1) returning id
