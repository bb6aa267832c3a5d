delete from ayb.users where id = $1
